"""What a later alert brings to an open incident, and when that news starts a new response round.

An alert that joins an open incident starts no run of its own. When it brings nothing new (a storm of the
same detection) that is right: one incident, one run. When it brings something the incident's triage has
not seen — another host, a new indicator from the detection's own evidence, a higher severity, another
ATT&CK technique — the verdict and the containment may be wrong, so the incident is triaged again.
``Novelty`` says what the news is; ``Rounds`` decides, for the intake batch that places the alert
(``_ingest``), whether a new round starts now or the run in flight takes it when it ends (``end_run``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from flows.models import Alert, Indicator, defang

from ._audit import append_audit
from ._keys import KEY_TYPES, KeyFilter, from_text
from ._lifecycle import WAITING_FOR_RUN, check_transition
from ._rows import note, timeline_line
from ._schema import IncidentRow, IncidentStatus, IndicatorRow, utcnow

MAX_TECHNIQUES = 200  # per incident, stored; an alert naming hundreds is noise, not news
MAX_INDICATORS_PER_INCIDENT = 1000
MAX_HOSTS_PER_INCIDENT = 1000
MAX_RETRIAGE_REASON = 4000
_LISTED = 3  # items named per kind in a timeline line; the rest are counted
OTHER_SEVERITY = 99  # OCSF "Other": not a rank
_MAY_RUN = (IncidentStatus.TRIAGING, IncidentStatus.RESPONDING, IncidentStatus.CONTAINED)


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


@dataclass
class RoundState:
    """An incident as one intake batch holds it: its response round, and what its triage has seen."""

    id: str
    status: str
    round: int
    hosts: list[str]
    new: bool = False  # created by this batch
    indicators: set[tuple[str, str]] = field(default_factory=set)  # added by this batch
    severity_id: int = 0
    techniques: set[str] = field(default_factory=set)
    retriage_reason: str | None = None
    # When its last respond run ended (None: one is in flight, nothing may overwrite its status now).
    run_ended_at: datetime | None = None
    # Network/hash indicators it holds (stored + this batch), read only when news matters (see ``joined``).
    known: set[tuple[str, str]] | None = None
    severity_raised: bool = False
    techniques_changed: bool = False
    pending: Novelty = field(default_factory=Novelty)  # news for the run in flight, written at flush


class Rounds:
    """One intake batch's re-triage: its transaction, its moment and its timeline lines (shared with the
    batch, so the lines keep their order)."""

    def __init__(
        self,
        conn: Connection,
        now: datetime,
        window: timedelta,
        keep: KeyFilter,
        timeline: list[dict[str, Any]],
    ) -> None:
        self.conn, self.now, self.window, self.keep, self.timeline = conn, now, window, keep, timeline

    def joined(self, incident: RoundState, alert: Alert, found: list[Indicator]) -> bool:
        """``alert`` joined the open ``incident``; if it brings news, have the incident triaged again.
        True when that starts a new round now, which the intake then dispatches.

        - NEW / REOPENED: the run that has not claimed it yet reads every alert; nothing more to do.
        - Its run has ended (AWAITING_APPROVAL, or CONTAINED waiting for an analyst to close it): a human
          would decide on stale facts, so start a new round now (REOPENED, round + 1, no flow run). The
          same detection again on a contained incident is news too: containment was to stop it (or its
          persistence came back).
        - A run is in flight (TRIAGING / RESPONDING / CONTAINED before ``end_run``): it would overwrite
          any status set now, so the request is recorded (flushed once per batch, ``changes``) and the
          run takes it when it ends.
        The first case matters for storms: identical alerts bring nothing new, so they stay one run."""
        # A run that has not claimed its incident yet reads every alert: news needs nothing more.
        if incident.new or incident.status in WAITING_FOR_RUN:
            self._absorb(incident, alert)
            return False
        novelty = self._novelty(incident, alert, found)
        self._absorb(incident, alert)
        ended = incident.run_ended_at
        resting = incident.status == IncidentStatus.AWAITING_APPROVAL or (
            ended is not None and incident.status in _MAY_RUN
        )
        # A contained host whose malware keeps knocking (blocked C2 attempts) raises the same detection
        # for hours: that is one recurrence per grouping window, not a response round per alert.
        if (
            resting
            and incident.status == IncidentStatus.CONTAINED
            and ended
            and ended <= self.now - self.window
        ):
            novelty.recurred = True
        if not novelty:
            return False
        if resting:
            self._start_round(incident, f"re-triage: {novelty.describe()}")
            return True
        incident.pending.merge(novelty)
        return False

    def reopen(self, incident: RoundState, alert: Alert) -> None:
        """A related alert reopens the closed ``incident``: a new response round at once."""
        self._start_round(incident, f"reopened by a related alert: {alert.finding_info.title[:200]}")
        self._absorb(incident, alert)

    def changes(self, incident: RoundState) -> dict[str, Any]:
        """The incident's columns this batch changed for re-triage, for its one UPDATE at flush."""
        values: dict[str, Any] = {}
        if incident.severity_raised:  # the incident is as severe as its worst alert
            values["severity_id"] = incident.severity_id
        if incident.techniques_changed:
            values["techniques"] = sorted(incident.techniques)
        if incident.pending:
            values["retriage_reason"] = self._request(incident)
        return values

    def _novelty(self, incident: RoundState, alert: Alert, found: list[Indicator]) -> Novelty:
        news = Novelty()
        host = alert.hostname or (alert.device.ip if alert.device else None)
        # Only a host the incident will record counts: past the cap, every further host would be "new"
        # again on every batch.
        if (
            host
            and host.lower() not in {h.lower() for h in incident.hosts}
            and len(incident.hosts) < MAX_HOSTS_PER_INCIDENT
        ):
            news.hosts.append(host)
        known = self._known_indicators(incident)
        for indicator in found:
            # From the detection's own fields only, and only values that could be keys: a command line's
            # www.google.com or a private address is not news about the attack.
            if (
                indicator.type not in KEY_TYPES
                or from_text(indicator.field)
                or self.keep.excluded(indicator)
                or len(known) >= MAX_INDICATORS_PER_INCIDENT
            ):
                continue
            pair = (indicator.type.value, indicator.value)
            if pair not in known:
                known.add(pair)
                news.add_indicator(*pair)
        if severity_rank(alert.severity_id) > severity_rank(incident.severity_id):
            news.severity = (incident.severity_id, alert.severity_id)
        if len(incident.techniques) < MAX_TECHNIQUES:
            news.techniques.extend(sorted(techniques(alert) - incident.techniques))
        return news

    def _absorb(self, incident: RoundState, alert: Alert) -> None:
        """Keep what the incident has seen (severity, techniques) current, so news is news only once."""
        if severity_rank(alert.severity_id) > severity_rank(incident.severity_id):
            incident.severity_id, incident.severity_raised = alert.severity_id, True
        added = techniques(alert) - incident.techniques
        if added and len(incident.techniques) < MAX_TECHNIQUES:
            incident.techniques |= set(sorted(added)[: MAX_TECHNIQUES - len(incident.techniques)])
            incident.techniques_changed = True

    def _known_indicators(self, incident: RoundState) -> set[tuple[str, str]]:
        if incident.known is None:  # once per incident per batch: a storm asks once
            rows = self.conn.execute(
                select(IndicatorRow.type, IndicatorRow.value).where(
                    IndicatorRow.incident_id == incident.id,
                    IndicatorRow.type.in_([t.value for t in KEY_TYPES]),
                )
            )
            incident.known = {(r.type, r.value) for r in rows} | incident.indicators
        return incident.known

    def _start_round(self, incident: RoundState, message: str) -> None:
        # The status was read under this batch's lock (``_ingest``): the check holds until it commits.
        check_transition(incident.id, incident.status, IncidentStatus.REOPENED)
        incident.status = IncidentStatus.REOPENED
        incident.round += 1
        incident.retriage_reason = None  # this round reads every alert, an earlier request's included
        self.conn.execute(
            update(IncidentRow)
            .where(IncidentRow.id == incident.id)
            # The earlier run id stays on the timeline; a cleared one marks "needs a run" for the sweeper.
            .values(
                status=IncidentStatus.REOPENED,
                round=incident.round,
                closed_at=None,
                flow_run_id=None,
                retriage_reason=None,
                updated_at=self.now,
            )
        )
        self.timeline.append(timeline_line(incident.id, "intake", message, self.now, round=incident.round))

    def _request(self, incident: RoundState) -> str:
        """Record this batch's news for the run in flight (one timeline line, one request per batch)."""
        reason = incident.pending.describe()
        self.timeline.append(
            timeline_line(
                incident.id,
                "intake",
                f"re-triage: {reason} (a new round starts when the current run ends)",
                self.now,
            )
        )
        earlier = incident.retriage_reason
        return (f"{earlier}; {reason}" if earlier else reason)[:MAX_RETRIAGE_REASON]


def end_run(engine: Engine, incident_id: str) -> str | None:
    """The respond run ends (``Store.end_run``): mark it, and start the round news asked for meanwhile."""
    with Session(engine) as session, session.begin():
        row = session.get(IncidentRow, incident_id, with_for_update=True)
        if row is None:
            return None
        row.run_ended_at = utcnow()
        row.decided_verdict = None  # the round that was to act on it has
        if not row.retriage_reason:
            return None
        check_transition(incident_id, row.status, IncidentStatus.REOPENED)
        reason = row.retriage_reason
        row.retriage_reason = None
        row.status = IncidentStatus.REOPENED
        row.round = (row.round or 1) + 1
        row.flow_run_id = None
        row.closed_at = None
        note(session, incident_id, "retriage", f"new response round: {reason}", round=row.round)
        append_audit(session, "respond", "incident.reopened", incident_id, {"reason": reason[:500]})
        return reason


def _listed(label: str, items: list[str]) -> list[str]:
    named = [f"{label} {item}" for item in items[:_LISTED]]
    if len(items) > _LISTED:
        named.append(f"{len(items) - _LISTED} more {label.removeprefix('new ')}s")
    return named


def _most_specific(uids: list[str]) -> list[str]:
    """T1059.001 says T1059 already (``Alert.techniques`` names a sub-technique's parent too)."""
    return sorted(uid for uid in uids if not any(other.startswith(uid + ".") for other in uids))


def reopen_closed(
    engine: Engine,
    incident_id: str,
    reason: str,
    *,
    step: str,
    data: dict[str, Any] | None = None,
    actor: str = "garrison",
) -> int | None:
    """A closed incident starts a new response round with no alert behind it (the re-check found its
    persistence back, a block lost): REOPENED, round + 1 (new ledger keys: the same value can be removed
    again), no flow run (the sweeper dispatches it). Returns the round, or None if it is not closed."""
    with Session(engine) as session, session.begin():
        row = session.get(IncidentRow, incident_id, with_for_update=True)
        if row is None or row.status != IncidentStatus.CLOSED:
            return None
        check_transition(incident_id, row.status, IncidentStatus.REOPENED)
        row.status, row.round = IncidentStatus.REOPENED, (row.round or 1) + 1
        row.flow_run_id = row.closed_at = row.retriage_reason = row.decided_verdict = None
        note(
            session,
            incident_id,
            step,
            f"{reason} (new response round {row.round})",
            **{**(data or {}), "round": row.round, "status": IncidentStatus.REOPENED.value},
        )
        append_audit(session, actor, "incident.reopened", incident_id, {"reason": reason[:500]})
        return row.round
