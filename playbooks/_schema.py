"""The playbook format: YAML data, validated by these models. No expressions: conditions are data."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from actions import Capability

VerdictName = Literal["malicious", "suspicious", "benign"]  # flows.models.VerdictLabel, as playbook data


class When(BaseModel):
    """A step runs only if every given condition holds."""

    model_config = ConfigDict(extra="forbid")

    verdict: list[VerdictName] | None = Field(default=None, description="Run only for these verdicts.")

    def holds(self, verdict: str | None) -> bool:
        return self.verdict is None or verdict in self.verdict


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Unique step name.")
    when: When = Field(default_factory=When)


class EnrichStep(_Step):
    kind: Literal["enrich"]


class ClassifyStep(_Step):
    kind: Literal["classify"]


_CAPABILITIES = [c.value for c in Capability]
_ACTION_KEY = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")


def _capability(name: object) -> object:
    if isinstance(name, str) and name not in _CAPABILITIES:
        raise ValueError(f"unknown capability {name!r} (known: {', '.join(_CAPABILITIES)})")
    return name


def _action_key(key: str) -> str:
    if key in _CAPABILITIES:
        raise ValueError(f"{key!r} is a capability: list it under capabilities, or name a vendor's action")
    if not _ACTION_KEY.fullmatch(key):
        raise ValueError(f"{key!r} is not an action key (<vendor>.<verb>, e.g. crowdstrike.isolate_host)")
    return key


CapabilityName = Annotated[Capability, BeforeValidator(_capability)]
ActionKey = Annotated[str, AfterValidator(_action_key)]


class ActStep(_Step):
    """Containment: each capability (or explicit action) acts on every target of its kind in the incident.

    A playbook names ``capabilities`` and each tenant binds them to its own vendors; ``actions`` names
    vendor actions outright, for a playbook written for one vendor. A step gives exactly one of the two.
    """

    kind: Literal["act"]
    capabilities: list[CapabilityName] | None = Field(
        default=None, min_length=1, description="What to do, whatever the vendor: isolate_host, block_ip, …"
    )
    # The YAML's ``actions``; in Python ``actions`` is what the step runs, capabilities or these keys.
    vendor_actions: list[ActionKey] | None = Field(
        default=None,
        alias="actions",
        min_length=1,
        description="Explicit action keys (crowdstrike.isolate_host), for a playbook that wants one vendor.",
    )

    @model_validator(mode="after")
    def _one_way(self) -> ActStep:
        if (self.capabilities is None) == (self.vendor_actions is None):
            raise ValueError(
                "give exactly one of 'capabilities' (bound per tenant) or 'actions' (vendor keys)"
            )
        return self

    @property
    def actions(self) -> list[str]:
        """What the step runs, in order: capability names, each bound to the tenant's vendor when the step
        runs, or explicit action keys."""
        return [str(c) for c in self.capabilities or ()] or list(self.vendor_actions or ())


class EscalateStep(_Step):
    kind: Literal["escalate"]
    reason: str = Field(description="Why a human must look, shown on the timeline.")


class NotifyStep(_Step):
    kind: Literal["notify"]
    event: str = Field(pattern=r"^[a-z_]+$", description="Template event name, e.g. incident_report.")


class CloseStep(_Step):
    kind: Literal["close"]


Step = Annotated[
    EnrichStep | ClassifyStep | ActStep | EscalateStep | NotifyStep | CloseStep, Field(discriminator="kind")
]


class Playbook(BaseModel):
    """An ordered list of steps run by the ``respond`` flow."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    dry_run: bool = Field(default=False, description="Plan every action, call no vendor.")
    steps: list[Step] = Field(min_length=1)

    def action_keys(self) -> list[str]:
        """The action keys the playbook names outright (capabilities are bound per tenant, not here)."""
        return [key for step in self.steps if isinstance(step, ActStep) for key in step.vendor_actions or ()]

    def capabilities(self) -> list[Capability]:
        return [c for step in self.steps if isinstance(step, ActStep) for c in step.capabilities or ()]

    def events(self) -> list[str]:
        return [step.event for step in self.steps if isinstance(step, NotifyStep)]
