"""`garrison triage --evaluate DIR`: run every labelled case, print a confusion matrix and the reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from flows.tenants import Policy

from ._classify import TriageResult
from ._findings import UNANSWERED
from ._offline import TriageInputError, triage_files

LABELS = ("malicious", "suspicious", "benign")


@dataclass
class CaseResult:
    name: str
    expected: str | None
    never: str | None
    got: str
    score: int
    reasons: list[dict[str, object]]
    missing_answers: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def passed(self) -> bool:
        right = self.expected is None or self.got == self.expected
        return right and self.got != self.never and not self.missing_answers


@dataclass
class Evaluation:
    cases: list[CaseResult]

    @property
    def passed(self) -> bool:
        return all(case.passed for case in self.cases)

    def matrix(self) -> dict[str, dict[str, int]]:
        """expected → got → count."""
        table = {expected: dict.fromkeys(LABELS, 0) for expected in LABELS}
        for case in self.cases:
            if case.expected in table:
                table[case.expected][case.got] += 1
        return table

    def as_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "matrix": self.matrix(),
            "cases": [
                {
                    "name": c.name,
                    "expected": c.expected,
                    "never": c.never,
                    "verdict": c.got,
                    "score": c.score,
                    "passed": c.passed,
                    "missing_answers": c.missing_answers,
                    "reasons": c.reasons,
                }
                for c in self.cases
            ],
        }


def evaluate(directory: Path, policy: Policy | None = None) -> Evaluation:
    cases = sorted(p for p in directory.iterdir() if (p / "expected.yaml").is_file())
    if not cases:
        raise TriageInputError(f"{directory}: no cases (folders with expected.yaml)")
    return Evaluation([_run(case, policy or Policy()) for case in cases])


def _run(folder: Path, policy: Policy) -> CaseResult:
    expected = yaml.safe_load((folder / "expected.yaml").read_text(encoding="utf-8")) or {}
    now = datetime.fromisoformat(expected["now"]) if expected.get("now") else None
    intel = sorted(p for p in folder.iterdir() if p.name.startswith("intel"))
    events = [folder / "events.ndjson"] if (folder / "events.ndjson").is_file() else []
    result: TriageResult = triage_files(
        folder / "alert.json", events=events, intel=intel, policy=policy, now=now
    )
    # A reason with no effect answered nothing, except the one that says what could not be answered.
    answered = {r.question for r in result.verdict.reasons if r.effect != 0 or r.question == UNANSWERED}
    return CaseResult(
        name=folder.name,
        expected=expected.get("verdict"),
        never=expected.get("never"),
        got=result.verdict.verdict.value,
        score=result.verdict.score,
        reasons=[r.model_dump() for r in result.verdict.reasons],
        missing_answers=[q for q in expected.get("must_answer", []) if q not in answered],
        description=expected.get("description", ""),
    )
