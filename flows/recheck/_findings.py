"""What a re-check found about one closed incident, and what it did about it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

VERDICT_RANK = {"benign": 0, "suspicious": 1, "malicious": 2}
LISTED = 50  # items of each list the timeline (and the audit trail, when reopened) keeps


class Outcome(StrEnum):
    STILL_FINE = "still_fine"  # nothing worse: one timeline line says what was checked
    REOPENED = "reopened"  # a new response round, the customer and the analysts told
    WOULD_REOPEN = "would_reopen"  # a dry run found a reason to reopen; nothing was written
    SKIPPED = "skipped"  # not checked (its tenant is not configured, it was reopened meanwhile)


class EffectCheck(BaseModel):
    """One succeeded ledger row of the incident's last round, read again from the vendor."""

    action: str
    target: str
    state: str = Field(description="holds | lost | unverifiable")
    detail: str = Field(default="", description="What the vendor said, or why it could not be asked.")
    lost: str = Field(default="", description="The reopening reason when the effect is gone.")


class Finding(BaseModel):
    """One incident's re-check (the timeline entry's data, and a line of ``garrison recheck --json``).

    >>> Finding(incident_id="5f0c9a12", tenant="demo", title="t", outcome=Outcome.STILL_FINE).changed
    False
    """

    incident_id: str
    tenant: str
    title: str
    outcome: Outcome
    verdict_then: str | None = None
    verdict_now: str | None = None
    score_now: int | None = None
    retriage_error: str = Field(default="", description="Why triage could not run again, if it could not.")
    effects: list[EffectCheck] = Field(default_factory=list)
    indicators_checked: int = 0
    newly_listed: list[str] = Field(
        default_factory=list, description="Indicators a source lists now that it did not list then."
    )
    newly_malicious: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list, description="Why it was (or would be) reopened.")
    round: int | None = Field(default=None, description="The new response round, when reopened.")
    skipped: str = ""

    @property
    def changed(self) -> bool:
        return self.outcome in (Outcome.REOPENED, Outcome.WOULD_REOPEN)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    def of_state(self, state: str) -> list[EffectCheck]:
        return [e for e in self.effects if e.state == state]

    def worse(self) -> bool:
        """The verdict now is worse than the one triage gave then (benign < suspicious < malicious)."""
        if self.verdict_then not in VERDICT_RANK or self.verdict_now not in VERDICT_RANK:
            return False
        return VERDICT_RANK[self.verdict_now] > VERDICT_RANK[self.verdict_then]

    def timeline_data(self) -> dict[str, Any]:
        """What the incident's timeline keeps of this check."""
        return {
            "verdict_then": self.verdict_then,
            "verdict_now": self.verdict_now,
            "score_now": self.score_now,
            "retriage_error": self.retriage_error or None,
            "effects_checked": [f"{e.action} {e.target}" for e in self.effects][:LISTED],
            "effects_lost": [e.lost for e in self.of_state("lost")][:LISTED],
            "effects_unverifiable": [
                f"{e.action} {e.target}: {e.detail}" for e in self.of_state("unverifiable")
            ][:LISTED],
            "indicators_checked": self.indicators_checked,
            "indicators_newly_listed": self.newly_listed[:LISTED],
            "indicators_newly_malicious": self.newly_malicious[:LISTED],
            "outcome": self.outcome.value,
            "reasons": self.reasons[:LISTED],
        }

    def summary(self) -> str:
        """``verdict malicious as before; 5 of 5 effects in place; 4 indicators, none newly listed``."""
        if self.retriage_error:
            verdict = f"verdict not re-computed ({self.retriage_error})"
        elif self.verdict_now == self.verdict_then:
            verdict = f"verdict {self.verdict_now} as before"
        else:
            verdict = f"verdict {self.verdict_then or 'none'} then, {self.verdict_now} now"
        holding = len(self.of_state("holds"))
        parts = [verdict]
        if self.effects:
            parts.append(f"{holding} of {len(self.effects)} effects in place")
            unverifiable = self.of_state("unverifiable")
            if unverifiable:
                first = unverifiable[0]
                parts.append(
                    f"{len(unverifiable)} cannot be verified ({first.action} {first.target}: {first.detail})"
                )
        else:
            parts.append("no effect of the last round to verify")
        listed = f"{len(self.newly_listed)} newly listed" if self.newly_listed else "none newly listed"
        parts.append(f"{self.indicators_checked} indicators re-enriched, {listed}")
        return "; ".join(parts)
