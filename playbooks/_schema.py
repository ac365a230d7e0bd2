"""The playbook format: YAML data, validated by these models. No expressions: conditions are data."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class ActStep(_Step):
    kind: Literal["act"]
    actions: list[str] = Field(min_length=1, description="Action keys; each acts on its kind of target.")


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
        return [key for step in self.steps if isinstance(step, ActStep) for key in step.actions]

    def events(self) -> list[str]:
        return [step.event for step in self.steps if isinstance(step, NotifyStep)]
