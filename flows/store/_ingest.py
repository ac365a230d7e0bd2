"""Accept alerts into the store, in one transaction per batch: dedupe, group into incidents, keep the keys.

An alert joins an open incident of its tenant that shares a correlation key (host + rule, or a network
indicator / hash) seen within the tenant's window; a storm becomes one incident with a count. An alert
related to a closed incident reopens it (a new response round) or opens a linked incident, per policy.

Grouping must never hide an attack (DESIGN §8): which values are keys, and how much a key from command-line
text weighs, is ``_keys``; an alert that brings news to an open incident has it triaged again (``_retriage``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from ipaddress import IPv4Network, IPv6Network
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from flows.models import Alert, Indicator

from ._audit import append_audit_conn
from ._group import Request, group_commit, write_group
from ._keys import Key, KeyFilter, weighted_keys
from ._retriage import (
    MAX_HOSTS_PER_INCIDENT,
    MAX_INDICATORS_PER_INCIDENT,
    MAX_TECHNIQUES,
    Rounds,
    RoundState,
    techniques,
)
from ._rows import CHUNK, aware, rows_in, timeline_line
from ._schema import AlertRow, CorrelationKeyRow, IncidentRow, IncidentStatus, IndicatorRow, TimelineRow


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


def correlation_keys(
    alert: Alert, indicators: Sequence[Indicator], rules: GroupingRules | None = None
) -> list[str]:
    """The keys that relate alerts: the same host and rule first, then shared network indicators."""
    return [key.value for key in weighted_keys(alert, indicators, (rules or GroupingRules()).key_filter())]


@dataclass
class _Incident(RoundState):
    """An incident as the batch groups into it: its round (``_retriage``), when it last saw an alert, and
    what this batch added."""

    last_alert_at: datetime | None = None
    added_alerts: int = 0
    last_seen: datetime | None = None


def ingest(
    engine: Engine,
    items: Sequence[IncomingAlert],
    rules: GroupingRules,
    *,
    signature: tuple[str, datetime] | None = None,
    actor: str = "intake",
) -> list[Accepted]:
    """Store ``items`` (all of one tenant) atomically; returns one Accepted per item, in order, once the
    transaction holding them has committed. Calls made at once from several threads share a transaction
    and its fsync (``_group``): each returns, or raises its own error, only after that commit."""
    if not items:
        return []
    tenant = items[0].alert.tenant
    if any(item.alert.tenant != tenant for item in items):
        raise ValueError("one batch holds the alerts of one tenant")
    request = Request(tenant, items, rules, signature, actor)
    accepted: list[Accepted] = group_commit(engine).submit(request, partial(write_group, run=_run))
    return accepted


def _run(
    conn: Connection,
    tenant: str,
    rules: GroupingRules,
    actor: str,
    items: Sequence[IncomingAlert],
    now: datetime,
) -> list[Accepted]:
    return _Batch(conn, tenant, rules, now, actor).run(items)


@dataclass(frozen=True)
class _Remembered(KeyFilter):
    """A batch's key filter, judging each value once: a batch names the same addresses and domains over
    and over, and parsing an address is most of what judging it costs."""

    judged: dict[tuple[str, str], bool] = field(default_factory=dict, compare=False, repr=False)

    def excluded(self, indicator: Indicator) -> bool:
        key = (indicator.type.value, indicator.value)
        verdict = self.judged.get(key)
        if verdict is None:
            verdict = self.judged[key] = super().excluded(indicator)
        return verdict


class _Batch:
    def __init__(
        self, conn: Connection, tenant: str, rules: GroupingRules, now: datetime, actor: str
    ) -> None:
        self.conn, self.tenant, self.rules, self.now, self.actor = conn, tenant, rules, now, actor
        self.keep = _Remembered.of(rules.own_domains, rules.own_ranges)
        self.incidents: dict[str, _Incident] = {}
        self.key_owner: dict[str, str] = {}  # correlation key → incident id, as of this batch
        self.timeline: list[dict[str, Any]] = []
        self.rounds = Rounds(conn, now, rules.window, self.keep, self.timeline)
        self.alert_rows: list[dict[str, Any]] = []
        self.key_rows: dict[str, str] = {}
        self.indicator_rows: list[dict[str, Any]] = []
        self.created: dict[str, dict[str, Any]] = {}  # incident id → its row, for one INSERT at flush

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
        query = select(AlertRow.source, AlertRow.source_uid, AlertRow.id, AlertRow.incident_id)
        rows = rows_in(
            self.conn,
            query.where(AlertRow.tenant == self.tenant),
            AlertRow.source_uid,
            (u for _, u in identities),
        )
        return {(r.source, r.source_uid): (r.id, r.incident_id) for r in rows}

    def _load_keys(self, keys: set[str]) -> None:
        query = select(CorrelationKeyRow.key, CorrelationKeyRow.incident_id)
        rows = rows_in(
            self.conn, query.where(CorrelationKeyRow.tenant == self.tenant), CorrelationKeyRow.key, keys
        )
        owners = {r.key: r.incident_id for r in rows}
        incidents = select(
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
        # What happens to news depends on the status read here: on PostgreSQL, hold the rows so a run
        # cannot change it before this batch commits (SQLite's BEGIN IMMEDIATE already does).
        for r in rows_in(self.conn, incidents.with_for_update(), IncidentRow.id, owners.values()):
            self.incidents[r.id] = _Incident(
                id=r.id,
                status=r.status,
                last_alert_at=aware(r.last_alert_at),
                round=r.round,
                hosts=list(r.hosts or []),
                severity_id=r.severity_id or 0,
                techniques={str(t) for t in (r.techniques or [])},
                retriage_reason=r.retriage_reason,
                run_ended_at=aware(r.run_ended_at),
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
                started = self.rounds.joined(incident, alert, found)
                return incident, Outcome.REOPENED if started else Outcome.ATTACHED
        lookback = self.now - self.rules.closed_lookback
        closed = [
            i
            for i in bound
            if i.status == IncidentStatus.CLOSED and (i.last_alert_at or self.now) >= lookback
        ]
        if closed and self.rules.on_closed == "reopen":
            self.rounds.reopen(closed[0], alert)
            return self._attach(closed[0], keys), Outcome.REOPENED
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

    def _create(self, alert: Alert, keys: list[Key], related_to: str | None) -> _Incident:
        incident = _Incident(
            id=str(uuid.uuid4()),
            status=IncidentStatus.NEW,
            round=1,
            hosts=[],
            severity_id=alert.severity_id,
            techniques=set(sorted(techniques(alert))[:MAX_TECHNIQUES]),
            new=True,
        )
        self.incidents[incident.id] = incident
        detected = _alert_time(alert) or self.now
        # Inserted at flush, all at once and with what the batch added (nothing reads it before then).
        self.created[incident.id] = {
            "id": incident.id,
            "tenant": self.tenant,
            "title": alert.finding_info.title,
            "correlation_key": keys[0].value,
            "status": IncidentStatus.NEW,
            "reasons": [],
            "round": 1,
            "related_incident_id": related_to,
            "detected_at": detected,
            "first_evidence_at": detected,
            "created_at": self.now,
        }
        if related_to:
            self.timeline.append(
                timeline_line(incident.id, "intake", f"linked to earlier incident {related_to}", self.now)
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
        if incident.added_alerts == 1:  # one entry per incident per batch: a storm is not 10,000 lines
            self.timeline.append(
                timeline_line(
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
        # One statement per kind of row (executemany), not one per incident: a batch of 1,000 alerts
        # over 500 hosts touched 500 incidents, and their UPDATEs were half the batch's time.
        if self.created:
            self.conn.execute(insert(IncidentRow), [self._created_row(i) for i in touched if i.new])
        if self.alert_rows:
            self.conn.execute(insert(AlertRow), self.alert_rows)
        if self.indicator_rows:
            self.conn.execute(insert(IndicatorRow), self.indicator_rows)
        updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for incident in touched:
            if not incident.new:
                changes = self.rounds.changes(incident)
                row = {"b_id": incident.id, "b_added": incident.added_alerts, "b_hosts": incident.hosts}
                row.update((f"b_{name}", value) for name, value in changes.items())
                updates.setdefault(tuple(sorted(changes)), []).append(row)
            if incident.added_alerts > 1:
                more = incident.added_alerts - 1
                self.timeline.append(
                    timeline_line(incident.id, "intake", f"{more} more related alerts joined", self.now)
                )
        for changed, rows in updates.items():
            self.conn.execute(self._incident_update(changed), rows)
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

    def _created_row(self, incident: _Incident) -> dict[str, Any]:
        return {
            **self.created[incident.id],
            "severity_id": incident.severity_id,
            "techniques": sorted(incident.techniques),
            "hosts": incident.hosts,
            "alert_count": incident.added_alerts,
            "last_alert_at": self.now,
            "updated_at": self.now,
        }

    def _incident_update(self, changed: tuple[str, ...]) -> Any:
        table = cast(Table, IncidentRow.__table__)
        values: dict[str, Any] = {
            "alert_count": table.c.alert_count + bindparam("b_added"),
            "hosts": bindparam("b_hosts", type_=table.c.hosts.type),
            "last_alert_at": self.now,
            "updated_at": self.now,
        }
        values.update((name, bindparam(f"b_{name}", type_=table.c[name].type)) for name in changed)
        return update(table).where(table.c.id == bindparam("b_id")).values(**values)

    def _drop_known_indicators(self, touched: Iterable[_Incident]) -> None:
        existing = [i.id for i in touched if not i.new]
        if not existing or not self.indicator_rows:
            return
        query = select(IndicatorRow.incident_id, IndicatorRow.type, IndicatorRow.value)
        known = {
            (r.incident_id, r.type, r.value)
            for r in rows_in(self.conn, query, IndicatorRow.incident_id, existing)
        }
        counts = Counter(incident_id for incident_id, _, _ in known)
        kept = []
        for row in self.indicator_rows:
            if (row["incident_id"], row["type"], row["value"]) in known:
                continue
            if counts[row["incident_id"]] >= MAX_INDICATORS_PER_INCIDENT:
                continue
            counts[row["incident_id"]] += 1
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
        for start in range(0, len(rows), CHUNK):
            self.conn.execute(statement, rows[start : start + CHUNK])


def _alert_time(alert: Alert) -> datetime | None:
    return datetime.fromtimestamp(alert.time / 1000, UTC) if alert.time else None
