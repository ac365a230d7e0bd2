"""A verdict and the reasons an analyst can check."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class VerdictLabel(StrEnum):
    MALICIOUS = "malicious"
    SUSPICIOUS = "suspicious"  # the gray verdict: a human decides
    BENIGN = "benign"


class Reason(BaseModel):
    """One answered analyst question and how much it moved the score."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The analyst's question (DESIGN §2).")
    finding: str = Field(description="What the evidence says, in plain words.")
    effect: int = Field(description="Points added to (or taken from) the score.")


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: VerdictLabel
    score: int = Field(ge=0, le=100)
    reasons: list[Reason] = Field(default_factory=list)
