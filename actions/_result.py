"""What an action reports back."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ActionStatus(StrEnum):
    SUCCEEDED = "succeeded"  # the effect is in place (including "it already was")
    FAILED = "failed"
    SKIPPED = "skipped"  # not attempted: dry-run, policy, or a condition not met


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
    # What the inverse action needs to undo this one (e.g. the registry data that was deleted).
    undo: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is ActionStatus.SUCCEEDED
