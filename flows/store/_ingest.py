"""Accept alerts into the store, in one transaction per batch: dedupe, group into incidents, keep the keys.

An alert joins an open incident of its tenant that shares a correlation key (host + rule, or a network
indicator / hash) seen within the tenant's window; a storm becomes one incident with a count. An alert
related to a closed incident reopens it (a new response round) or opens a linked incident, per policy.

Grouping must never hide an attack (DESIGN §8): which values are keys, and how much a key from command-line
text weighs, is ``_keys``; an alert that brings news to an open incident has it triaged again (below,
``_Batch._news``; what counts as news is ``_retriage``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from flows.models import Alert, Indicator

from ._audit import append_audit_conn
from ._keys import KEY_TYPES, Key, KeyFilter, from_text, weighted_keys
from ._retriage import MAX_TECHNIQUES, Novelty, severity_rank, techniques
from ._schema import (
    AlertRow,
    CorrelationKeyRow,
    IncidentRow,
    IncidentStatus,
    IndicatorRow,
    SeenSignatureRow,
    TimelineRow,
)

MAX_INDICATORS_PER_INCIDENT = 1000
MAX_HOSTS_PER_INCIDENT = 1000
_CHUNK = 500  # bound on IN (...) lists
MAX_RETRIAGE_REASON = 4000
# A run that has not claimed its incident yet reads every alert: news needs nothing more.
_PENDING_RUN = (IncidentStatus.NEW, IncidentStatus.REOPENED)
_MAY_RUN = (IncidentStatus.TRIAGING, IncidentStatus.RESPONDING, IncidentStatus.CONTAINED)


class Outcome(StrEnum):
    CREATED = "created"  # a new incident: start its respond run
    ATTACHED = "attached"  # joined an open incident: no new run now (news waits for the run in flight)
    REOPENED = "reopened"  # a closed incident reopened, or news for one awaiting a human: a new round
    LINKED = "linked"  # a new incident linked to a closed (or stale) one: start its run
    DUPLICATE = "duplicate"  # seen before: nothing changed


@dataclass(frozen=True)
class Accepted:
    """What became of one alert."""

    alert_id: str
    incident_id: str
    outcome: Outcome

    @property
    def duplicate(self) -> bool:
        return self.outcome is Outcome.DUPLICATE

    @property
    def starts_run(self) -> bool:
        return self.outcome in (Outcome.CREATED, Outcome.REOPENED, Outcome.LINKED)


@dataclass(frozen=True)
class IncomingAlert:
    alert: Alert
    document: dict[str, Any]
    format: str = "ocsf"
    raw: dict[str, Any] | None = None


@dataclass(frozen=True)
class GroupingRules:
    window: timedelta = timedelta(minutes=60)
    on_closed: str = "reopen"
    closed_lookback: timedelta = timedelta(days=30)
    # The tenant's own domains (subdomains included) and ranges: every alert of the tenant names them, so
    # they relate nothing (from the tenant policy's never_block).
    own_domains: tuple[str, ...] = ()
    own_ranges: tuple[IPv4Network | IPv6Network, ...] = ()

    def key_filter(self) -> KeyFilter:
        return KeyFilter.of(self.own_domains, self.own_ranges)


class Replay(Exception):
    """This signed request was accepted before."""


def correlation_keys(
    alert: Alert, indicators: Sequence[Indicator], rules: GroupingRules | None = None
) -> list[str]:
    """The keys that relate alerts: the same host and rule first, then shared network indicators."""
    return [key.value for key in weighted_keys(alert, indicators, (rules or GroupingRules()).key_filter())]


@dataclass
class _Incident:
    id: str
    status: str
    last_alert_at: datetime | None
    round: int
    hosts: list[str]
    severity_id: int = 0
    techniques: set[str] = field(default_factory=set)
    retriage_reason: str | None = None
    # When its last respond run ended (None: one is in flight, nothing may overwrite its status now).
    run_ended_at: datetime | None = None
    new: bool = False
    added_alerts: int = 0
    added_hosts: list[str] = field(default_factory=list)
    last_seen: datetime | None = None
    indicators: set[tuple[str, str]] = field(default_factory=set)
    # Network/hash indicators it holds (stored + this batch), read only when news matters (see _news).
    known: set[tuple[str, str]] | None = None
    severity_raised: bool = False
    techniques_changed: bool = False
    pending: Novelty = field(default_factory=Novelty)  # news for the run in flight, written at flush


def ingest(
    engine: Engine,
    items: Sequence[IncomingAlert],
    rules: GroupingRules,
    *,
    signature: tuple[str, datetime] | None = None,
    actor: str = "intake",
) -> list[Accepted]:
    """Store ``items`` (all of one tenant) atomically; returns one Accepted per item, in order."""
    if not items:
        return []
    tenant = items[0].alert.tenant
    if any(item.alert.tenant != tenant for item in items):
        raise ValueError("one batch holds the alerts of one tenant")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        _lock_tenant(conn, tenant)
        if signature is not None:
            _remember_signature(conn, tenant, *signature, now)
        return _Batch(conn, tenant, rules, now, actor).run(items)


class _Batch:
    def __init__(
        self, conn: Connection, tenant: str, rules: GroupingRules, now: datetime, actor: str
    ) -> None:
        self.conn, self.tenant, self.rules, self.now, self.actor = conn, tenant, rules, now, actor
        self.keep = rules.key_filter()
        self.incidents: dict[str, _Incident] = {}
        self.key_owner: dict[str, str] = {}  # correlation key → incident id, as of this batch
        self.timeline: list[dict[str, Any]] = []
        self.alert_rows: list[dict[str, Any]] = []
        self.key_rows: dict[str, str] = {}
        self.indicator_rows: list[dict[str, Any]] = []

    def run(self, items: Sequence[IncomingAlert]) -> list[Accepted]:
        prepared = []
        for item in items:
            found = item.alert.indicators()
            prepared.append((item, found, weighted_keys(item.alert, found, self.keep)))
        known = self._known_alerts([(i.alert.source, i.alert.source_uid) for i, _, _ in prepared])
        self._load_keys({key.value for _, _, keys in prepared for key in keys})
        results: list[Accepted] = []
        for item, found, keys in prepared:
            identity = (item.alert.source, item.alert.source_uid)
            if identity in known:
                alert_id, incident_id = known[identity]
                results.append(Accepted(alert_id, incident_id, Outcome.DUPLICATE))
                continue
            incident, outcome = self._place(item.alert, found, keys)
            alert_id = str(uuid.uuid4())
            known[identity] = (alert_id, incident.id)
            self._add_alert(alert_id, incident, item, found)
            results.append(Accepted(alert_id, incident.id, outcome))
        self._flush(results)
        return results

    # -- reading what exists ---------------------------------------------------------------------------

    def _known_alerts(self, identities: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
        known: dict[tuple[str, str], tuple[str, str]] = {}
        uids = sorted({uid for _, uid in identities})
        for start in range(0, len(uids), _CHUNK):
            rows = self.conn.execute(
                select(AlertRow.source, AlertRow.source_uid, AlertRow.id, AlertRow.incident_id).where(
                    AlertRow.tenant == self.tenant, AlertRow.source_uid.in_(uids[start : start + _CHUNK])
                )
            )
            known.update({(r.source, r.source_uid): (r.id, r.incident_id) for r in rows})
        return known

    def _load_keys(self, keys: set[str]) -> None:
        ordered = sorted(keys)
        owners: dict[str, str] = {}
        for start in range(0, len(ordered), _CHUNK):
            rows = self.conn.execute(
                select(CorrelationKeyRow.key, CorrelationKeyRow.incident_id).where(
                    CorrelationKeyRow.tenant == self.tenant,
                    CorrelationKeyRow.key.in_(ordered[start : start + _CHUNK]),
                )
            )
            owners.update({r.key: r.incident_id for r in rows})
        ids = sorted(set(owners.values()))
        for start in range(0, len(ids), _CHUNK):
            rows = self.conn.execute(
                select(
                    IncidentRow.id,
                    IncidentRow.status,
                    IncidentRow.last_alert_at,
                    IncidentRow.round,
                    IncidentRow.hosts,
                    IncidentRow.severity_id,
                    IncidentRow.techniques,
                    IncidentRow.retriage_reason,
                    IncidentRow.run_ended_at,
                )
                .where(IncidentRow.id.in_(ids[start : start + _CHUNK]))
                # What happens to news depends on the status read here: on PostgreSQL, hold the rows so a
                # run cannot change it before this batch commits (SQLite's BEGIN IMMEDIATE already does).
                .with_for_update()
            )
            for r in rows:
                self.incidents[r.id] = _Incident(
                    r.id,
                    r.status,
                    _aware(r.last_alert_at),
                    r.round,
                    list(r.hosts or []),
                    severity_id=r.severity_id or 0,
                    techniques={str(t) for t in (r.techniques or [])},
                    retriage_reason=r.retriage_reason,
                    run_ended_at=_aware(r.run_ended_at),
                )
        self.key_owner = {key: owner for key, owner in owners.items() if owner in self.incidents}

    # -- grouping --------------------------------------------------------------------------------------

    def _place(self, alert: Alert, found: list[Indicator], keys: list[Key]) -> tuple[_Incident, Outcome]:
        related, bound = self._related(keys)
        recent = self.now - self.rules.window
        for incident in bound:
            seen = incident.last_seen or incident.last_alert_at or recent
            if incident.status != IncidentStatus.CLOSED and seen >= recent:
                self._attach(incident, keys)
                return incident, self._news(incident, alert, found)
        lookback = self.now - self.rules.closed_lookback
        closed = [
            i
            for i in bound
            if i.status == IncidentStatus.CLOSED and (i.last_alert_at or self.now) >= lookback
        ]
        if closed and self.rules.on_closed == "reopen":
            return self._reopen(closed[0], keys, alert), Outcome.REOPENED
        # Anything else it shares a key with (stale, closed, or one command-line value) is only a link:
        # the new incident gets its own run, and analysts see the relation.
        incident = self._create(alert, keys, related_to=related[0].id if related else None)
        return incident, Outcome.LINKED if related else Outcome.CREATED

    def _related(self, keys: list[Key]) -> tuple[list[_Incident], list[_Incident]]:
        """Incidents sharing any key (in key order: host + rule first), and those it may join: one strong
        key, or two weak ones. One value typed on a command line (``ping www.google.com``, a share, an
        update server) is a coincidence as often as a relation; joining on it would let an unrelated
        incident swallow this alert without a run. Two independent values in common are not chance."""
        strong: set[str] = set()
        weak: dict[str, set[str]] = {}
        order: list[str] = []
        for key in keys:
            owner = self.key_owner.get(key.value)
            if owner is None:
                continue
            if owner not in order:
                order.append(owner)
            if key.strong:
                strong.add(owner)
            else:
                weak.setdefault(owner, set()).add(key.anchor)
        related = [self.incidents[i] for i in order]
        bound = [self.incidents[i] for i in order if i in strong or len(weak.get(i, ())) >= 2]
        return related, bound

    def _attach(self, incident: _Incident, keys: list[Key]) -> _Incident:
        for key in keys:
            self.key_owner[key.value] = incident.id
            self.key_rows[key.value] = incident.id
        return incident

    def _news(self, incident: _Incident, alert: Alert, found: list[Indicator]) -> Outcome:
        """Attach ``alert`` to an open incident; if it brings news, have the incident triaged again.

        - NEW / REOPENED: the run that has not claimed it yet reads every alert; nothing more to do.
        - Its run has ended (AWAITING_APPROVAL, or CONTAINED waiting for an analyst to close it): a human
          would decide on stale facts, so start a new round now (REOPENED, round + 1, no flow run) and
          answer REOPENED, so the intake dispatches it. The same detection again on a contained incident is
          news too: containment was to stop it (or its persistence came back).
        - A run is in flight (TRIAGING / RESPONDING / CONTAINED before ``Store.end_run``): it would overwrite
          any status set now, so the request is recorded (flushed once per batch) and the run takes it
          when it ends.
        The first case matters for storms: identical alerts bring nothing new, so they stay one run."""
        if incident.new or incident.status in _PENDING_RUN:
            self._absorb(incident, alert)
            return Outcome.ATTACHED
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
            and ended <= self.now - self.rules.window
        ):
            novelty.recurred = True
        if not novelty:
            return Outcome.ATTACHED
        if resting:
            self._new_round(incident, novelty.describe())
            return Outcome.REOPENED
        incident.pending.merge(novelty)
        return Outcome.ATTACHED

    def _novelty(self, incident: _Incident, alert: Alert, found: list[Indicator]) -> Novelty:
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

    def _absorb(self, incident: _Incident, alert: Alert) -> None:
        """Keep what the incident has seen (severity, techniques) current, so news is news only once."""
        if severity_rank(alert.severity_id) > severity_rank(incident.severity_id):
            incident.severity_id, incident.severity_raised = alert.severity_id, True
        added = techniques(alert) - incident.techniques
        if added and len(incident.techniques) < MAX_TECHNIQUES:
            incident.techniques |= set(sorted(added)[: MAX_TECHNIQUES - len(incident.techniques)])
            incident.techniques_changed = True

    def _known_indicators(self, incident: _Incident) -> set[tuple[str, str]]:
        if incident.known is None:  # once per incident per batch: a storm asks once
            rows = self.conn.execute(
                select(IndicatorRow.type, IndicatorRow.value).where(
                    IndicatorRow.incident_id == incident.id,
                    IndicatorRow.type.in_([t.value for t in KEY_TYPES]),
                )
            )
            incident.known = {(r.type, r.value) for r in rows} | incident.indicators
        return incident.known

    def _new_round(self, incident: _Incident, reason: str) -> None:
        """News for an incident whose run has ended: a new response round at once (like ``_reopen``)."""
        self._start_round(incident, f"re-triage: {reason}")

    def _reopen(self, incident: _Incident, keys: list[Key], alert: Alert) -> _Incident:
        self._start_round(incident, f"reopened by a related alert: {alert.finding_info.title[:200]}")
        self._absorb(incident, alert)
        return self._attach(incident, keys)

    def _start_round(self, incident: _Incident, message: str) -> None:
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
        self.timeline.append(_timeline(incident.id, "intake", message, self.now, round=incident.round))

    def _create(self, alert: Alert, keys: list[Key], related_to: str | None) -> _Incident:
        incident = _Incident(
            str(uuid.uuid4()),
            IncidentStatus.NEW,
            None,
            1,
            [],
            severity_id=alert.severity_id,
            techniques=set(sorted(techniques(alert))[:MAX_TECHNIQUES]),
            new=True,
        )
        self.incidents[incident.id] = incident
        detected = _alert_time(alert) or self.now
        self.conn.execute(
            insert(IncidentRow).values(
                id=incident.id,
                tenant=self.tenant,
                title=alert.finding_info.title,
                correlation_key=keys[0].value,
                status=IncidentStatus.NEW,
                severity_id=alert.severity_id,
                hosts=[],
                reasons=[],
                alert_count=0,
                round=1,
                related_incident_id=related_to,
                detected_at=detected,
                first_evidence_at=detected,
                techniques=sorted(incident.techniques),
                created_at=self.now,
                updated_at=self.now,
            )
        )
        if related_to:
            self.timeline.append(
                _timeline(incident.id, "intake", f"linked to earlier incident {related_to}", self.now)
            )
        return self._attach(incident, keys)

    # -- writing ---------------------------------------------------------------------------------------

    def _add_alert(
        self, alert_id: str, incident: _Incident, item: IncomingAlert, found: list[Indicator]
    ) -> None:
        alert = item.alert
        self.alert_rows.append(
            {
                "id": alert_id,
                "tenant": self.tenant,
                "source": alert.source,
                "source_uid": alert.source_uid,
                "format": item.format,
                "title": alert.finding_info.title,
                "hostname": alert.hostname,
                "severity_id": alert.severity_id,
                "detected_at": _alert_time(alert),
                "received_at": self.now,
                "document": item.document,
                "raw": item.raw,
                "incident_id": incident.id,
            }
        )
        incident.added_alerts += 1
        incident.last_seen = self.now
        host = alert.hostname or (alert.device.ip if alert.device else None)
        if host and host not in incident.hosts and len(incident.hosts) < MAX_HOSTS_PER_INCIDENT:
            incident.hosts.append(host)
            incident.added_hosts.append(host)
        if incident.added_alerts == 1:  # one entry per incident per batch: a storm is not 10,000 lines
            self.timeline.append(
                _timeline(
                    incident.id, "intake", f"alert received from {alert.source}", self.now, alert_id=alert_id
                )
            )
        for indicator in found:
            key = (indicator.type.value, indicator.value)
            if key not in incident.indicators and len(incident.indicators) < MAX_INDICATORS_PER_INCIDENT:
                incident.indicators.add(key)
                self.indicator_rows.append(
                    {
                        "incident_id": incident.id,
                        "type": indicator.type.value,
                        "value": indicator.value,
                        "field": indicator.field[:512],
                        "provenance": [],
                    }
                )

    def _flush(self, results: list[Accepted]) -> None:
        touched = [i for i in self.incidents.values() if i.added_alerts]
        self._drop_known_indicators(touched)
        if self.alert_rows:
            self.conn.execute(insert(AlertRow), self.alert_rows)
        if self.indicator_rows:
            self.conn.execute(insert(IndicatorRow), self.indicator_rows)
        for incident in touched:
            values: dict[str, Any] = {
                "alert_count": IncidentRow.alert_count + incident.added_alerts,
                "hosts": incident.hosts,
                "last_alert_at": self.now,
                "updated_at": self.now,
            }
            if incident.severity_raised:  # the incident is as severe as its worst alert
                values["severity_id"] = incident.severity_id
            if incident.techniques_changed:
                values["techniques"] = sorted(incident.techniques)
            if incident.pending:
                values["retriage_reason"] = self._request(incident)
            self.conn.execute(update(IncidentRow).where(IncidentRow.id == incident.id).values(**values))
            if incident.added_alerts > 1:
                more = incident.added_alerts - 1
                self.timeline.append(
                    _timeline(incident.id, "intake", f"{more} more related alerts joined", self.now)
                )
        if self.timeline:
            self.conn.execute(insert(TimelineRow), self.timeline)
        self._upsert_keys()
        accepted = [r for r in results if not r.duplicate]
        if accepted:
            append_audit_conn(
                self.conn,
                self.actor,
                "alerts.accepted",
                self.tenant,
                {"count": len(accepted), "incidents": sorted({r.incident_id for r in accepted})[:50]},
            )

    def _request(self, incident: _Incident) -> str:
        """Record this batch's news for the run in flight (one timeline line, one request per batch)."""
        reason = incident.pending.describe()
        self.timeline.append(
            _timeline(
                incident.id,
                "intake",
                f"re-triage: {reason} (a new round starts when the current run ends)",
                self.now,
            )
        )
        earlier = incident.retriage_reason
        return (f"{earlier}; {reason}" if earlier else reason)[:MAX_RETRIAGE_REASON]

    def _drop_known_indicators(self, touched: Iterable[_Incident]) -> None:
        existing = [i.id for i in touched if not i.new]
        if not existing or not self.indicator_rows:
            return
        known: set[tuple[str, str, str]] = set()
        for start in range(0, len(existing), _CHUNK):
            rows = self.conn.execute(
                select(IndicatorRow.incident_id, IndicatorRow.type, IndicatorRow.value).where(
                    IndicatorRow.incident_id.in_(existing[start : start + _CHUNK])
                )
            )
            known.update((r.incident_id, r.type, r.value) for r in rows)
        counts: dict[str, int] = {}
        for incident_id, _, _ in known:
            counts[incident_id] = counts.get(incident_id, 0) + 1
        kept = []
        for row in self.indicator_rows:
            if (row["incident_id"], row["type"], row["value"]) in known:
                continue
            if counts.get(row["incident_id"], 0) >= MAX_INDICATORS_PER_INCIDENT:
                continue
            counts[row["incident_id"]] = counts.get(row["incident_id"], 0) + 1
            kept.append(row)
        self.indicator_rows = kept

    def _upsert_keys(self) -> None:
        if not self.key_rows:
            return
        rows = [
            {"tenant": self.tenant, "key": key, "incident_id": incident_id, "last_seen": self.now}
            for key, incident_id in self.key_rows.items()
        ]
        # Both dialects spell the upsert the same way (ON CONFLICT … DO UPDATE); only the import differs.
        upsert: Any = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        statement = upsert(CorrelationKeyRow)
        statement = statement.on_conflict_do_update(
            index_elements=["tenant", "key"],
            set_={"incident_id": statement.excluded.incident_id, "last_seen": statement.excluded.last_seen},
        )
        for start in range(0, len(rows), _CHUNK):
            self.conn.execute(statement, rows[start : start + _CHUNK])


def _lock_tenant(conn: Connection, tenant: str) -> None:
    # Grouping reads then writes: two requests of one tenant must not both open "the" incident.
    # SQLite already serialises writers (BEGIN IMMEDIATE); PostgreSQL takes a per-tenant advisory lock.
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:tenant))"), {"tenant": f"garrison:{tenant}"}
        )


def remember_signature(conn: Connection, tenant: str, signature: str, expires_at: datetime) -> None:
    """Within ``conn``'s transaction: mark a signed request as seen for ``tenant``; Replay if it was."""
    _lock_tenant(conn, tenant)
    _remember_signature(conn, tenant, signature, expires_at, datetime.now(UTC))


def _remember_signature(
    conn: Connection, tenant: str, signature: str, expires_at: datetime, now: datetime
) -> None:
    conn.execute(delete(SeenSignatureRow).where(SeenSignatureRow.expires_at < now))
    seen = conn.execute(
        select(func.count())
        .select_from(SeenSignatureRow)
        .where(SeenSignatureRow.tenant == tenant, SeenSignatureRow.signature == signature)
    ).scalar_one()
    if seen:
        raise Replay("this signed request was already accepted")
    conn.execute(insert(SeenSignatureRow).values(tenant=tenant, signature=signature, expires_at=expires_at))


def _timeline(incident_id: str, step: str, message: str, at: datetime, **data: Any) -> dict[str, Any]:
    return {"incident_id": incident_id, "step": step, "message": message, "at": at, "data": data}


def _alert_time(alert: Alert) -> datetime | None:
    return datetime.fromtimestamp(alert.time / 1000, UTC) if alert.time else None


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
