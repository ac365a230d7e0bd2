"""What a later alert brings to an open incident, and how the timeline says it.

An alert that joins an open incident starts no run of its own. When it brings nothing new (a storm of the
same detection) that is right: one incident, one run. When it brings something the incident's triage has
not seen — another host, a new indicator from the detection's own evidence, a higher severity, another
ATT&CK technique — the verdict and the containment may be wrong, so ``_ingest`` has the incident triaged
again. This module only describes the news; ``_ingest`` decides what to do with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.models import Alert, defang

MAX_TECHNIQUES = 200  # per incident, stored; an alert naming hundreds is noise, not news
_LISTED = 3  # items named per kind in a timeline line; the rest are counted
OTHER_SEVERITY = 99  # OCSF "Other": not a rank


def severity_rank(severity_id: int | None) -> int:
    """OCSF severity as an order: 99 (Other) says nothing about how bad it is, so it ranks lowest."""
    return 0 if severity_id in (None, OTHER_SEVERITY) else int(severity_id)


def techniques(alert: Alert) -> set[str]:
    """The ATT&CK technique and sub-technique ids the finding carries (``Alert.techniques``: read from
    ``finding_info.attacks`` and OCSF 1.0's top-level ``attacks``, validated, bounded)."""
    return set(alert.techniques())


@dataclass
class Novelty:
    """What one or more alerts brought that their incident had not seen."""

    hosts: list[str] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)  # "type value", defanged
    techniques: list[str] = field(default_factory=list)
    severity: tuple[int, int] | None = None  # (before, after)
    recurred: bool = False  # the detection came again after the incident was contained

    def __bool__(self) -> bool:
        return bool(self.hosts or self.indicators or self.techniques or self.severity or self.recurred)

    def add_indicator(self, kind: str, value: str) -> None:
        self.indicators.append(f"{kind} {defang(value)}"[:300])

    def merge(self, other: Novelty) -> None:
        """Fold a later alert's news into this batch's (one re-triage per incident per batch)."""
        for mine, theirs in (
            (self.hosts, other.hosts),
            (self.indicators, other.indicators),
            (self.techniques, other.techniques),
        ):
            mine.extend(item for item in theirs if item not in mine)
        if other.severity:
            before = self.severity[0] if self.severity else other.severity[0]
            self.severity = (before, other.severity[1])
        self.recurred = self.recurred or other.recurred

    def describe(self) -> str:
        """``new host WS-2, new technique T1059.001``: what the timeline and the next round are told."""
        parts = [
            *_listed("new host", self.hosts),
            *_listed("new indicator", self.indicators),
            *_listed("new technique", _most_specific(self.techniques)),
        ]
        if self.severity:
            parts.append(f"severity raised from {self.severity[0]} to {self.severity[1]}")
        if self.recurred:
            parts.append("the detection recurred after containment")
        return ", ".join(parts)


def _listed(label: str, items: list[str]) -> list[str]:
    named = [f"{label} {item}" for item in items[:_LISTED]]
    if len(items) > _LISTED:
        named.append(f"{len(items) - _LISTED} more {label.removeprefix('new ')}s")
    return named


def _most_specific(uids: list[str]) -> list[str]:
    """T1059.001 says T1059 already (``Alert.techniques`` names a sub-technique's parent too)."""
    return sorted(uid for uid in uids if not any(other.startswith(uid + ".") for other in uids))
