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
    # The finding as data, so messages can tell it in the reader's language (templates/<lang>/messages.yaml
    # finding.<code>); ``finding`` stays the English sentence for people and logs.
    code: str | None = Field(default=None, description="Which finding this is (catalog key).")
    params: dict[str, str | int | list[str]] = Field(
        default_factory=dict, description="The finding's values."
    )
    # ATT&CK ids, LOLBAS pages, rule ids: so an analyst can check where the knowledge came from (and
    # community rule matches, e.g. Sigma, carry their rule id and references here).
    sources: list[str] = Field(default_factory=list, description="Where the knowledge behind it comes from.")


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: VerdictLabel
    score: int = Field(ge=0, le=100)
    reasons: list[Reason] = Field(default_factory=list)
    needs_analyst: bool = Field(
        default=False,
        description="Attacker behaviour, an impact or an attack tool: never closed without an analyst.",
    )
