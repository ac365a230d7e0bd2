"""Accept alerts into the store, in one transaction per batch: dedupe, group into incidents, keep the keys.

An alert joins an open incident of its tenant that shares a correlation key (host + rule, or a network
indicator / hash) seen within the tenant's window; a storm becomes one incident with a count. An alert
related to a closed incident reopens it (a new response round) or opens a linked incident, per policy.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from flows.models import Alert, Indicator, IndicatorType

from ._audit import append_audit_conn
from ._schema import (
    AlertRow,
    CorrelationKeyRow,
    IncidentRow,
    IncidentStatus,
    IndicatorRow,
    SeenSignatureRow,
    TimelineRow,
)

_KEY_TYPES = (
    IndicatorType.IPV4,
    IndicatorType.IPV6,
    IndicatorType.DOMAIN,
    IndicatorType.URL,
    IndicatorType.SHA256,
    IndicatorType.SHA1,
    IndicatorType.MD5,
)
MAX_INDICATORS_PER_INCIDENT = 1000
MAX_HOSTS_PER_INCIDENT = 1000
_CHUNK = 500  # bound on IN (...) lists


class Outcome(StrEnum):
    CREATED = "created"  # a new incident: start its respond run
    ATTACHED = "attached"  # joined an open incident: no new run
    REOPENED = "reopened"  # a closed incident reopened: start a new respond round
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


class Replay(Exception):
    """This signed request was accepted before."""


def correlation_keys(alert: Alert, indicators: Sequence[Indicator]) -> list[str]:
    """The keys that relate alerts: the same host and rule first, then shared network indicators."""
    analytic = alert.finding_info.analytic
    rule = (analytic.uid or analytic.name) if analytic else None
    host = (alert.hostname or (alert.device.ip if alert.device else None) or "").lower()
    keys = [f"h:{host}|r:{rule or alert.finding_info.title}"[:512]] if host else []
    keys += [f"i:{i.type}:{i.value}"[:512] for i in indicators if i.type in _KEY_TYPES]
    if not keys:  # no host, no indicator: the same rule from the same product
        keys.append(f"s:{alert.source}|r:{rule or alert.finding_info.title}"[:512])
    return keys


@dataclass
class _Incident:
    id: str
    status: str
    last_alert_at: datetime | None
    round: int
    hosts: list[str]
    new: bool = False
    added_alerts: int = 0
    added_hosts: list[str] = field(default_factory=list)
    last_seen: datetime | None = None
    indicators: set[tuple[str, str]] = field(default_factory=set)


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
        self.incidents: dict[str, _Incident] = {}
        self.key_owner: dict[str, str] = {}  # correlation key → incident id, as of this batch
        self.timeline: list[dict[str, Any]] = []
        self.alert_rows: list[dict[str, Any]] = []
        self.key_rows: dict[str, str] = {}
        self.indicator_rows: list[dict[str, Any]] = []

    def run(self, items: Sequence[IncomingAlert]) -> list[Accepted]:
        prepared = [(item, item.alert.indicators()) for item in items]
        known = self._known_alerts([(i.alert.source, i.alert.source_uid) for i, _ in prepared])
        self._load_keys({key for item, found in prepared for key in correlation_keys(item.alert, found)})
        results: list[Accepted] = []
        for item, found in prepared:
            identity = (item.alert.source, item.alert.source_uid)
            if identity in known:
                alert_id, incident_id = known[identity]
                results.append(Accepted(alert_id, incident_id, Outcome.DUPLICATE))
                continue
            incident, outcome = self._place(item.alert, found)
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
                ).where(IncidentRow.id.in_(ids[start : start + _CHUNK]))
            )
            for r in rows:
                self.incidents[r.id] = _Incident(
                    r.id, r.status, _aware(r.last_alert_at), r.round, list(r.hosts or [])
                )
        self.key_owner = {key: owner for key, owner in owners.items() if owner in self.incidents}

    # -- grouping --------------------------------------------------------------------------------------

    def _place(self, alert: Alert, found: list[Indicator]) -> tuple[_Incident, Outcome]:
        keys = correlation_keys(alert, found)
        related = [self.incidents[self.key_owner[k]] for k in keys if k in self.key_owner]
        recent = self.now - self.rules.window
        for incident in related:
            seen = incident.last_seen or incident.last_alert_at or recent
            if incident.status != IncidentStatus.CLOSED and seen >= recent:
                return self._attach(incident, keys), Outcome.ATTACHED
        lookback = self.now - self.rules.closed_lookback
        closed = [
            i
            for i in related
            if i.status == IncidentStatus.CLOSED and (i.last_alert_at or self.now) >= lookback
        ]
        if closed and self.rules.on_closed == "reopen":
            return self._reopen(closed[0], keys, alert), Outcome.REOPENED
        incident = self._create(alert, keys, related_to=related[0].id if related else None)
        return incident, Outcome.LINKED if related else Outcome.CREATED

    def _attach(self, incident: _Incident, keys: list[str]) -> _Incident:
        for key in keys:
            self.key_owner[key] = incident.id
            self.key_rows[key] = incident.id
        return incident

    def _reopen(self, incident: _Incident, keys: list[str], alert: Alert) -> _Incident:
        incident.status = IncidentStatus.REOPENED
        incident.round += 1
        self.conn.execute(
            update(IncidentRow)
            .where(IncidentRow.id == incident.id)
            # The earlier run id stays on the timeline; a cleared one marks "needs a run" for the sweeper.
            .values(
                status=IncidentStatus.REOPENED,
                round=incident.round,
                closed_at=None,
                flow_run_id=None,
                updated_at=self.now,
            )
        )
        self.timeline.append(
            _timeline(
                incident.id,
                "intake",
                f"reopened by a related alert: {alert.finding_info.title[:200]}",
                self.now,
            )
        )
        return self._attach(incident, keys)

    def _create(self, alert: Alert, keys: list[str], related_to: str | None) -> _Incident:
        incident = _Incident(str(uuid.uuid4()), IncidentStatus.NEW, None, 1, [], new=True)
        self.incidents[incident.id] = incident
        detected = _alert_time(alert) or self.now
        self.conn.execute(
            insert(IncidentRow).values(
                id=incident.id,
                tenant=self.tenant,
                title=alert.finding_info.title,
                correlation_key=keys[0],
                status=IncidentStatus.NEW,
                severity_id=alert.severity_id,
                hosts=[],
                reasons=[],
                alert_count=0,
                round=1,
                related_incident_id=related_to,
                detected_at=detected,
                first_evidence_at=detected,
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
            self.conn.execute(
                update(IncidentRow)
                .where(IncidentRow.id == incident.id)
                .values(
                    alert_count=IncidentRow.alert_count + incident.added_alerts,
                    hosts=incident.hosts,
                    last_alert_at=self.now,
                    updated_at=self.now,
                )
            )
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
        dialect = self.conn.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
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


def _remember_signature(
    conn: Connection, tenant: str, signature: str, expires_at: datetime, now: datetime
) -> None:
    conn.execute(SeenSignatureRow.__table__.delete().where(SeenSignatureRow.expires_at < now))
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
