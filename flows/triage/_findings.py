"""The analyst's questions (DESIGN §2), and one answered question as triage reports it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WHY_WATCHED = "Why are we watching this indicator?"
HOW_LONG = "How long has it been watched?"
PREVALENCE = "How prevalent is it?"
RHYTHM = "How often, in what rhythm?"
VOLUME = "How much data, which direction?"
PROCESS = "Which process talks, from where?"
PERSISTENCE = "How does it persist?"
ENTRY = "How did it get there?"
TOOL = "Is it a tool, not a virus?"
SEVERITY = "How severe does the sensor rate it?"


@dataclass
class Finding:
    question: str
    finding: str
    effect: int
    # Host evidence is what intel can never outweigh (DESIGN §2).
    host_evidence: bool = False
    intel: bool = False
    code: str | None = None
    params: dict[str, str | int | list[str]] = field(default_factory=dict)


@dataclass
class Answers:
    """Everything triage found: reasons with effects, and the raw features behind them."""

    findings: list[Finding] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)
    hacktool: bool = False

    def add(self, finding: Finding | None) -> None:
        if finding is not None:
            self.findings.append(finding)
