"""The playbook format: YAML data, validated by these models. No expressions: conditions are data.

The header follows CACAO 2.0's (id, name, version, description, playbook_types) so a playbook exports to
CACAO JSON and back; ``match`` says which incidents a playbook is for. Steps are kinds the respond flow has a
runner for; an unknown kind or field is refused when the file loads, naming the step and the field.
"""

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


OnFailure = Literal["continue", "escalate", "stop"]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Unique step name.")
    when: When = Field(default_factory=When)
    on_failure: OnFailure = Field(
        default="escalate",
        description="When the step itself fails (an error, a timeout): note it and go on (continue), hand "
        "the incident to an analyst and end the run (escalate), or end the run (stop).",
    )
    timeout: int | None = Field(
        default=None, ge=1, le=86_400, description="Seconds the step may take before it counts as failed."
    )


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

    requires_approval: bool = Field(
        default=False,
        description="A gate: the step waits for an analyst's decision before it acts, whatever the tenant's "
        "auto_contain says.",
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


PlaybookType = Literal[
    "notification",
    "detection",
    "investigation",
    "prevention",
    "mitigation",
    "remediation",
    "attack",
    "engagement",
]  # CACAO 2.0's playbook-type-ov
_TECHNIQUE = r"^T[0-9]{4}(\.[0-9]{3})?$"
_SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class Match(BaseModel):
    """Which incidents a playbook is for: every given condition must hold (a list holds when any of its
    items does). The respond flow chooses among
    the playbooks whose match holds: the highest ``priority``, then the most conditions, then the
    tenant's own before the built-ins."""

    model_config = ConfigDict(extra="forbid")

    verdict: list[VerdictName] | None = Field(default=None, description="Triage's (or an analyst's) verdict.")
    tenants: list[str] | None = Field(default=None, description="Only for these tenant ids.")
    techniques: list[Annotated[str, Field(pattern=_TECHNIQUE)]] | None = Field(
        default=None,
        description="ATT&CK techniques in the incident's alerts (T1547 also matches T1547.001).",
    )
    title_contains: list[Annotated[str, Field(min_length=3)]] | None = Field(
        default=None, description="Words in an alert title (case-insensitive), any of them."
    )
    min_severity: int | None = Field(
        default=None, ge=0, le=6, description="OCSF severity_id of the most severe alert, at least."
    )
    findings: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")]] | None = Field(
        default=None,
        description="Triage findings behind the verdict (their codes: persistence_long_lived, rhythm, "
        "side_loading, hacktool …), any of them; known once the incident is classified.",
    )
    priority: int = Field(default=0, ge=-1000, le=1000)

    def conditions(self) -> int:
        fields = (
            self.verdict,
            self.tenants,
            self.techniques,
            self.title_contains,
            self.min_severity,
            self.findings,
        )
        return sum(value is not None for value in fields)


class Playbook(BaseModel):
    """An ordered list of steps run by the ``respond`` flow."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default="", description="Stable identifier (defaults to the name, lower-cased).")
    name: str = Field(min_length=1)
    version: str = Field(default="1", pattern=r"^[0-9]+(\.[0-9]+){0,2}$")
    description: str = ""
    playbook_types: list[PlaybookType] = Field(default_factory=list)
    match: Match | None = Field(
        default=None, description="Which incidents it is chosen for; without it, only when asked by name."
    )
    dry_run: bool = Field(default=False, description="Plan every action, call no vendor.")
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _identified(self) -> Playbook:
        if not self.id:
            self.id = re.sub(r"[^a-z0-9_-]+", "-", self.name.lower()).strip("-")[:64]
        if not re.fullmatch(_SLUG, self.id):
            raise ValueError(f"id {self.id!r} must be lower-case letters, digits, '-' or '_' (at most 64)")
        return self

    def action_keys(self) -> list[str]:
        """The action keys the playbook names outright (capabilities are bound per tenant, not here)."""
        return [key for step in self.steps if isinstance(step, ActStep) for key in step.vendor_actions or ()]

    def capabilities(self) -> list[Capability]:
        return [c for step in self.steps if isinstance(step, ActStep) for c in step.capabilities or ()]

    def events(self) -> list[str]:
        return [step.event for step in self.steps if isinstance(step, NotifyStep)]
