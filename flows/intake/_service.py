"""The intake's logic, shared by the HTTP API and ``garrison ingest``: parse, normalize, store, report."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from flows.normalize import Format, NormalizeError, TenantMismatch, normalize
from flows.store import Accepted, GroupingRules, IncomingAlert, Store
from flows.store._schema import EventRow
from flows.tenants import Tenant

from ._events import EventError, event_row


@dataclass(frozen=True)
class Rejection:
    line: int  # 1-based line of a batch (1 for a single alert)
    field: str
    message: str
    status: int = 422

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "status": "rejected",
            "error": {"field": self.field, "message": self.message},
        }


@dataclass
class BatchReport:
    accepted: list[tuple[int, Accepted]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    events_stored: int = 0

    @property
    def new_incidents(self) -> list[str]:
        """Incidents that need a respond run (created, reopened — closed, or news while awaiting an analyst —,
        linked), each once."""
        return list(dict.fromkeys(a.incident_id for _, a in self.accepted if a.starts_run))

    def counts(self) -> dict[str, int]:
        outcomes: dict[str, int] = {}
        for _, item in self.accepted:
            outcomes[item.outcome.value] = outcomes.get(item.outcome.value, 0) + 1
        return {
            "accepted": sum(1 for _, a in self.accepted if not a.duplicate),
            "duplicates": outcomes.get("duplicate", 0),
            "rejected": len(self.rejected),
            "new_incidents": len(self.new_incidents),
        }

    def results(self) -> list[dict[str, Any]]:
        rows = [
            {
                "line": line,
                "status": item.outcome.value,
                "alert_id": item.alert_id,
                "incident_id": item.incident_id,
            }
            for line, item in self.accepted
        ] + [r.as_dict() for r in self.rejected]
        return sorted(rows, key=lambda row: row["line"])


def grouping_rules(tenant: Tenant) -> GroupingRules:
    policy = tenant.grouping
    # The tenant's own domains and ranges are in most of its alerts: they must relate nothing (the same
    # values its response policy never blocks).
    own = tenant.policy.never_block
    return GroupingRules(
        window=timedelta(minutes=policy.window_minutes),
        on_closed=policy.on_closed,
        closed_lookback=timedelta(days=policy.closed_lookback_days),
        own_domains=tuple(own.domains),
        own_ranges=tuple(own.ip_ranges),
    )


def parse_json(raw: bytes) -> Any:
    """JSON from bytes; ValueError with a readable position."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise ValueError("body is not valid JSON: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ValueError(
            f"body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None


def split_lines(raw: bytes) -> list[tuple[int, bytes]]:
    """NDJSON lines with their 1-based numbers; blank lines are skipped."""
    return [(number, line) for number, line in enumerate(raw.split(b"\n"), start=1) if line.strip()]


class Intake:
    def __init__(self, store: Store) -> None:
        self.store = store

    def accept(
        self,
        tenant: Tenant,
        documents: Sequence[tuple[int, Any]],
        fmt: Format = Format.AUTO,
        source: str | None = None,
        signature: tuple[str, datetime] | None = None,
    ) -> BatchReport:
        """Normalize each (line, document) and store the valid ones in one transaction."""
        report = BatchReport()
        mapping = tenant.sources.get(source) if source else None
        incoming: list[tuple[int, IncomingAlert]] = []
        for line, document in documents:
            try:
                normalized = normalize(document, tenant.id, fmt, mapping)
            except NormalizeError as error:
                report.rejected.append(Rejection(line, error.field, error.message))
                continue
            except TenantMismatch as error:
                report.rejected.append(Rejection(line, "metadata.tenant_uid", str(error), status=403))
                continue
            raw = None if normalized.format is Format.OCSF else normalized.raw
            incoming.append(
                (line, IncomingAlert(normalized.alert, normalized.document, normalized.format.value, raw))
            )
        if incoming:
            accepted = self.store.ingest([item for _, item in incoming], grouping_rules(tenant), signature)
            report.accepted = [(line, item) for (line, _), item in zip(incoming, accepted, strict=True)]
        return report

    def accept_events(self, tenant: Tenant, documents: Iterable[tuple[int, Any]]) -> BatchReport:
        """Validate OCSF activity events and store the valid ones in one transaction."""
        report = BatchReport()
        rows = []
        for line, document in documents:
            try:
                rows.append(event_row(document, tenant.id))
            except EventError as error:
                report.rejected.append(Rejection(line, error.field, error.message))
        if rows:
            with self.store.engine.begin() as conn:
                conn.execute(insert(EventRow), rows)
        report.events_stored = len(rows)
        return report
