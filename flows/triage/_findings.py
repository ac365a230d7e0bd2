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
# The alert's own evidence, read as an analyst reads it (issue: no alert closed unexamined).
COMMAND = "What does the command line do?"
ANCESTRY = "Which program started it?"
TECHNIQUE = "Which attack techniques does it show?"
THREAT = "What kind of threat does the sensor name?"
UNANSWERED = "What could not be answered?"
GATE = "Can it close without an analyst?"
STANDING = "What did an analyst decide before?"


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
    # Positive evidence that clears the activity: without one, a low score is gray, never benign.
    clears: bool = False
    # Attacker behaviour, an impact or a tool: never benign, never closed without an analyst.
    risky: bool = False
    # Where the knowledge behind this finding comes from: ATT&CK ids, LOLBAS pages, rule ids.
    sources: list[str] = field(default_factory=list)


@dataclass
class Answers:
    """Everything triage found: reasons with effects, and the raw features behind them."""

    findings: list[Finding] = field(default_factory=list)
    features: dict[str, Any] = field(default_factory=dict)
    hacktool: bool = False

    def add(self, finding: Finding | None) -> None:
        if finding is not None:
            self.findings.append(finding)

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)
