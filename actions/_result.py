"""What an action reports back, and what a vendor says about a target's current state."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ActionStatus(StrEnum):
    SUCCEEDED = "succeeded"  # the effect is in place (including "it already was")
    FAILED = "failed"
    SKIPPED = "skipped"  # not attempted: dry-run, policy, or a condition not met
    # The vendor accepted the action but it was not in effect yet when verification stopped polling
    # (an offline host stays "containment pending" until it checks in). Same value as the ledger's
    # PENDING: reconcile later with ``ActionSpec.read_state``, never by sending the action again.
    PENDING = "pending"


class ActionResult(BaseModel):
    """The outcome of one action on one target.

    >>> ActionResult(status=ActionStatus.SUCCEEDED, detail="isolated").ok
    True
    """

    model_config = ConfigDict(extra="forbid")

    status: ActionStatus
    detail: str = Field(default="", description="One line for people.")
    changed: bool = Field(default=True, description="False when the effect was already in place.")
    vendor_ref: str | None = Field(default=None, description="The vendor's id for the operation.")
    # What the inverse action needs to undo this one (e.g. the registry data that was deleted): the
    # inverse's inputs. Empty means the inverse takes the same inputs as this action.
    undo: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is ActionStatus.SUCCEEDED


class Effect(StrEnum):
    """Whether an action's effect is in place on the target, as the vendor reports it now."""

    APPLIED = "applied"  # in place: a PENDING ledger entry can be closed as succeeded
    IN_PROGRESS = "in_progress"  # accepted by the vendor, not in effect yet: read again later
    ABSENT = "absent"  # not in place: the call never landed (or was undone); sending it is safe
    UNKNOWN = "unknown"  # the vendor cannot tell: a human decides


class TargetState(BaseModel):
    """What ``ActionSpec.read_state`` returns: the action's effect on the target, read from the vendor.

    >>> TargetState(effect=Effect.APPLIED, detail="device contained").applied
    True
    """

    model_config = ConfigDict(extra="forbid")

    effect: Effect
    detail: str = Field(default="", description="One line for people.")
    vendor_ref: str | None = Field(default=None, description="The vendor's id for the target or operation.")
    observed: dict[str, Any] = Field(
        default_factory=dict, description="The vendor facts the answer rests on (never secrets)."
    )

    @property
    def applied(self) -> bool:
        return self.effect is Effect.APPLIED
