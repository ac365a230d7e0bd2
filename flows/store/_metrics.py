"""How fast incidents are detected, decided and contained, per tenant (``garrison metrics``).

Every figure is a span of one incident, in seconds; a tenant's figure is its count, p50 and p90 over the
incidents that have that span (an incident without it, say one never contained, is not counted in it):

- **MTTD**, time to detect: first evidence (``first_evidence_at``, else ``detected_at``) → the alert
  received (``created_at``). The report's dwell (first evidence → the sensor's detection) plus the time the
  alert took to reach Garrison. An incident whose alert carried no time (the intake then takes its receipt
  as the detection) and no earlier evidence has no MTTD.
- **MTTA**, time to acknowledge: the alert received → the first decision anyone made: triage's first
  malicious or benign verdict (a ``classify`` line), or an analyst's first decision (a ``decision`` line
  naming the analyst: malicious, benign or escalate), whichever came first. A gray (suspicious) verdict
  is not a decision: that incident is acknowledged when an analyst decides.
- **MTTR**, time to contain: the alert received → ``contained_at``, as the report's "to contain" (a
  round contained again after a reopening moves ``contained_at``, there as here).
- **Waited for an analyst**: per incident, the time its decision gates waited (``waited_seconds`` on
  ``decision`` lines: decided, escalated or timed out); overlapping waits count once (a no-run incident's
  escalation and the decision after it both measure from when its run ended).
- **Awaiting approval**: per incident, the time spent in ``awaiting_approval``, from the timeline's status
  notes: it covers held actions waiting for approvals as well as decisions. A wait still going on is not
  counted (the status counts show those incidents).

p50 and p90 are nearest-rank percentiles: p-th is the smallest observed span that at least p % of the
spans do not exceed (sorted spans s1 ≤ … ≤ sn: s⌈p·n/100⌉), so each is a span some incident really had.
A span below zero (a sensor clock ahead of ours) is left out of its figure.

The reopen rate is the share of incidents with more than one response round (news, or an analyst's
decision or complete approvals starting a new round).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, Select, Text, cast, extract, func, or_, select
from sqlalchemy.engine import Engine

from ._rows import aware
from ._schema import IncidentRow, IncidentStatus, TimelineRow

DECIDED = ("malicious", "benign")  # a classify verdict that needs no person
_STATUSES = tuple(status.value for status in IncidentStatus)
_AWAITING = IncidentStatus.AWAITING_APPROVAL.value
_REOPENED, _TRIAGING = IncidentStatus.REOPENED.value, IncidentStatus.TRIAGING.value
_UNIX_JULIAN_DAY = 2_440_587.5  # 1970-01-01T00:00Z as a Julian day number


# Each span's name as people read it (the CLI's rows, the re-check run's artifact).
FIGURES = (
    ("mttd", "MTTD: evidence → alert received"),
    ("mtta", "MTTA: received → first decision"),
    ("mttr", "MTTR: received → contained"),
    ("waited_for_analyst", "waited for an analyst"),
    ("awaiting_approval", "in awaiting_approval"),
)


@dataclass(frozen=True)
class Spread:
    """One figure over a tenant's incidents: how many had the span, and its p50 and p90 in seconds (None
    when no incident had it).

    >>> spread([7200.0, 1800.0])
    Spread(count=2, p50=1800.0, p90=7200.0)
    """

    count: int
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class TenantMetrics:
    """A tenant's figures (see the module doc for what each span measures)."""

    tenant: str
    incidents: int
    mttd: Spread
    mtta: Spread
    mttr: Spread
    waited_for_analyst: Spread
    awaiting_approval: Spread
    by_verdict: dict[str, int]  # "none": not classified yet
    by_status: dict[str, int]
    reopened: int  # incidents with more than one response round

    @property
    def reopen_rate(self) -> float:
        return self.reopened / self.incidents if self.incidents else 0.0


@dataclass(frozen=True)
class Metrics:
    """The figures of every tenant that has incidents in the window, by tenant name."""

    tenant: str | None
    since: datetime | None
    tenants: list[TenantMetrics] = field(default_factory=list)


def percentile(spans: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile of ``spans`` (see the module doc); None for no spans."""
    if not spans:
        return None
    ordered = sorted(spans)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(spans: Iterable[float]) -> Spread:
    kept = [s for s in spans if s >= 0]
    return Spread(count=len(kept), p50=percentile(kept, 50), p90=percentile(kept, 90))


def incident_metrics(engine: Engine, tenant: str | None = None, since: datetime | None = None) -> Metrics:
    """MTTD, MTTA, MTTR, the waits for people, verdict and status counts and the reopen rate of each
    tenant's incidents (of ``tenant`` only, if given) whose alert was received at or after ``since`` (a
    naive ``since`` is UTC).

    >>> from flows.store import engine_for
    >>> incident_metrics(engine_for("sqlite://")).tenants
    []
    """
    if since is not None:
        # SQLite keeps a timestamp's clock time and drops its zone: compare in UTC, as stored.
        since = aware(since).astimezone(UTC)
    chosen = select(IncidentRow.id)
    if tenant is not None:
        chosen = chosen.where(IncidentRow.tenant == tenant)
    if since is not None:
        chosen = chosen.where(IncidentRow.created_at >= since)
    dialect = engine.dialect.name
    with engine.connect() as conn:
        incidents = conn.execute(_incidents(chosen, dialect)).all()
        narrowed = chosen if tenant is not None or since is not None else None
        histories = _histories(conn.execute(_timeline(narrowed, dialect)))
    by_tenant: dict[str, list[_Incident]] = {}
    for row in incidents:
        by_tenant.setdefault(row[1], []).append(_spans(row, histories.get(row[0])))
    return Metrics(
        tenant=tenant,
        since=since,
        tenants=[_tenant(name, by_tenant[name]) for name in sorted(by_tenant)],
    )


@dataclass
class _History:
    acknowledged: float | None = None
    waits: list[tuple[float, float]] = field(default_factory=list)  # (ended at, seconds)
    awaiting: float | None = None
    waiting_since: float | None = None  # in awaiting_approval since then (None: not now)


@dataclass(frozen=True)
class _Incident:
    mttd: float | None
    mtta: float | None
    mttr: float | None
    waited: float | None
    awaiting: float | None
    verdict: str
    status: str
    reopened: bool


def _epoch(dialect: str, column: Any) -> Any:
    """``column``'s moment as seconds since 1970, computed by the database: reading 10,000 incidents'
    timestamps as ``datetime`` objects costs more than everything else here together."""
    if dialect == "sqlite":  # stored as UTC text, which julianday reads
        return (func.julianday(column) - _UNIX_JULIAN_DAY) * 86_400.0
    if dialect == "postgresql":
        return cast(extract("epoch", column), Float)
    return column  # read as a datetime (``_moment``)


def _moment(value: Any) -> float | None:
    if value is None:
        return None
    return aware(value).timestamp() if isinstance(value, datetime) else float(value)


def _incidents(chosen: Select[Any], dialect: str) -> Select[Any]:
    return select(
        IncidentRow.id,
        IncidentRow.tenant,
        IncidentRow.status,
        IncidentRow.verdict,
        IncidentRow.round,
        _epoch(dialect, IncidentRow.created_at),
        _epoch(dialect, func.coalesce(IncidentRow.first_evidence_at, IncidentRow.detected_at)),
        _epoch(dialect, IncidentRow.contained_at),
    ).where(IncidentRow.id.in_(chosen))


def _timeline(chosen: Select[Any] | None, dialect: str) -> Select[Any]:
    """Only the lines that decide, wait or change the status, and only the fields read from them: the
    database skips enrichment, notifications and ledger lines and their (large) data."""
    data = TimelineRow.data
    verdict, status = data["verdict"].as_string(), data["status"].as_string()
    # Numbers read as text, checked here: a line is data, and a cast in PostgreSQL fails the whole query.
    round_, waited = data["round"].as_string(), data["waited_seconds"].as_string()
    claimed = (TimelineRow.step == "respond") & data["flow_run_id"].as_string().is_not(None)
    query = (
        select(
            TimelineRow.incident_id,
            _epoch(dialect, TimelineRow.at),
            TimelineRow.step,
            data["analyst"].as_string().is_not(None),
            waited,
            status,
            round_.is_not(None),
            claimed,
        )
        .where(
            # Parsing every line's JSON is most of the cost (a triage line carries kilobytes): the text
            # is searched first for the keys that matter, and only those lines are parsed.
            or_(
                TimelineRow.step.in_(("classify", "decision", "respond")),
                cast(data, Text).like('%"status"%'),
                cast(data, Text).like('%"round"%'),
            ),
            or_(
                (TimelineRow.step == "classify") & verdict.in_(DECIDED),
                TimelineRow.step == "decision",
                claimed,
                status.in_(_STATUSES),
                round_.is_not(None),
            ),
        )
        # In the order written (each incident's lines in its own order), which the table's key keeps.
        .order_by(TimelineRow.id)
    )
    # Unfiltered, the lines of every incident are read anyway: no need to ask which incidents.
    return query if chosen is None else query.where(TimelineRow.incident_id.in_(chosen))


def _histories(lines: Iterable[Any]) -> dict[str, _History]:
    found: dict[str, _History] = {}
    for incident_id, moment, step, by_analyst, waited, status, new_round, claimed in lines:
        history = found.get(incident_id) or found.setdefault(incident_id, _History())
        at = _moment(moment) or 0.0
        if history.acknowledged is None and (step == "classify" or (step == "decision" and by_analyst)):
            history.acknowledged = at
        if step == "decision" and waited is not None and (seconds := _number(waited)) is not None:
            history.waits.append((at, seconds))
        # The status the line says the incident took, if it says one (``_lifecycle``: every change writes
        # a line; ledger and notification lines carry statuses of their own, not incidents').
        if status in _STATUSES:
            pass
        elif new_round:  # a new response round: news, a no-run decision, approvals complete
            status = _REOPENED
        elif claimed:  # a run claimed it (``Store.claim``)
            status = _TRIAGING
        else:
            continue
        if status == _AWAITING:
            history.waiting_since = at if history.waiting_since is None else history.waiting_since
        elif history.waiting_since is not None:
            history.awaiting = (history.awaiting or 0.0) + at - history.waiting_since
            history.waiting_since = None
    return found


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _spans(row: Any, history: _History | None) -> _Incident:
    _, _, status, verdict, round_, received, first, contained = row
    history = history or _History()
    received, first = _moment(received), _moment(first)
    if first == received:  # the alert carried no time: the intake took its receipt as the detection
        first = None
    return _Incident(
        mttd=_seconds(first, received),
        mtta=_seconds(received, history.acknowledged),
        mttr=_seconds(received, _moment(contained)),
        waited=_union(history.waits),
        awaiting=None if history.awaiting is None else round(history.awaiting, 3),
        verdict=verdict or "none",
        status=status,
        reopened=(round_ or 1) > 1,
    )


def _seconds(start: float | None, end: float | None) -> float | None:
    # To the millisecond: a moment the database computed carries float noise below it.
    return round(end - start, 3) if start is not None and end is not None else None


def _union(waits: list[tuple[float, float]]) -> float | None:
    """The seconds covered by the waits ``(ended at, seconds)``, each overlap counted once."""
    if not waits:
        return None
    spans = sorted((end - seconds, end) for end, seconds in waits)
    total, (start, stop) = 0.0, spans[0]
    for begin, end in spans[1:]:
        if begin > stop:
            total, start = total + stop - start, begin
        stop = max(stop, end)
    return round(total + stop - start, 3)


def _tenant(name: str, incidents: list[_Incident]) -> TenantMetrics:
    def of(values: Iterable[float | None]) -> Spread:
        return spread(v for v in values if v is not None)

    return TenantMetrics(
        tenant=name,
        incidents=len(incidents),
        mttd=of(i.mttd for i in incidents),
        mtta=of(i.mtta for i in incidents),
        mttr=of(i.mttr for i in incidents),
        waited_for_analyst=of(i.waited for i in incidents),
        awaiting_approval=of(i.awaiting for i in incidents),
        by_verdict=_most_first(Counter(i.verdict for i in incidents)),
        by_status=_most_first(Counter(i.status for i in incidents)),
        reopened=sum(i.reopened for i in incidents),
    )


def _most_first(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def duration(seconds: float | None) -> str:
    """A span as people read it at a glance: ``45s``, ``12m 30s``, ``2h 05m``, ``3d 04h``."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
