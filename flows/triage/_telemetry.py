"""Where triage reads telemetry: the store's events table, or events given on the command line.

Both hand back the same rows (the shape ``flows.intake._events.event_row`` produces), so every feature
is computed by the same code online and offline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine

from flows.store._schema import EventRow

Row = dict[str, Any]
NETWORK_CLASSES = (4001, 4002, 4003)
MAX_ROWS = 200_000  # a bound on what one triage reads


class Telemetry(Protocol):
    def to_destinations(self, destinations: Sequence[str]) -> list[Row]:
        """Network, HTTP and DNS events towards any of ``destinations``, in every tenant."""
        ...

    def on_hosts(self, tenant: str, hostnames: Sequence[str]) -> list[Row]:
        """Every event of ``tenant`` on these hosts (process, file, module, registry, service, task, auth)."""
        ...


class MemoryTelemetry:
    """Events held in memory (``garrison triage --events FILE``)."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows = sorted(rows, key=lambda row: row["time"])

    def to_destinations(self, destinations: Sequence[str]) -> list[Row]:
        wanted = {d.lower() for d in destinations}
        return [
            r
            for r in self.rows
            if r["class_uid"] in NETWORK_CLASSES and (r.get("dst") or "").lower() in wanted
        ]

    def on_hosts(self, tenant: str, hostnames: Sequence[str]) -> list[Row]:
        wanted = {h.lower() for h in hostnames}
        return [r for r in self.rows if r["tenant"] == tenant and (r.get("hostname") or "").lower() in wanted]


class StoreTelemetry:
    """Events from the Garrison store (what ``POST /v1/events`` collected)."""

    _COLUMNS = (
        EventRow.tenant,
        EventRow.class_uid,
        EventRow.time,
        EventRow.hostname,
        EventRow.dst,
        EventRow.dst_port,
        EventRow.bytes_out,
        EventRow.bytes_in,
        EventRow.process_path,
        EventRow.parent_path,
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _rows(self, *conditions: Any, documents: bool = True) -> list[Row]:
        # Network features need only the extracted columns: decoding 10,000 JSON documents tripled the time.
        columns = (*self._COLUMNS, EventRow.document) if documents else self._COLUMNS
        query = select(*columns).where(*conditions).order_by(EventRow.time).limit(MAX_ROWS)
        with self.engine.connect() as conn:
            return [{"document": {}, **row._mapping, "time": _aware(row.time)} for row in conn.execute(query)]

    def to_destinations(self, destinations: Sequence[str]) -> list[Row]:
        if not destinations:
            return []
        return self._rows(
            EventRow.class_uid.in_(NETWORK_CLASSES), EventRow.dst.in_(list(destinations)), documents=False
        )

    def on_hosts(self, tenant: str, hostnames: Sequence[str]) -> list[Row]:
        if not hostnames:
            return []
        return self._rows(EventRow.tenant == tenant, or_(*(EventRow.hostname == h for h in hostnames)))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
