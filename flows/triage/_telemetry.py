"""Where triage reads telemetry: the store's events table, or events given on the command line.

Both hand back the same rows (the shape ``flows.store.event_row`` produces), so every feature
is computed by the same code online and offline. Both count what they could not use (``skipped``), so a
verdict says how much telemetry it did not see instead of failing or hiding it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import String, Text, or_, select, type_coerce
from sqlalchemy.engine import Engine

from flows.store import EventRow
from flows.winlog import host_key, same_host

Row = dict[str, Any]
NETWORK_CLASSES = (4001, 4002, 4003)
MAX_ROWS = 200_000  # a bound on what one triage reads


class Telemetry(Protocol):
    skipped: int
    """Events that could not be used (unknown class, malformed, unreadable in the store)."""

    def to_destinations(self, destinations: Sequence[str]) -> list[Row]:
        """Network, HTTP and DNS events towards any of ``destinations`` (a name or an IP), in every tenant;
        each row's ``dst`` is the destination as the caller named it (see ``_as_named``)."""
        ...

    def on_hosts(self, tenant: str, hostnames: Sequence[str]) -> list[Row]:
        """Every event of ``tenant`` on these hosts (process, file, module, registry, service, task, auth).
        A host is found under either of its names: ``WS-7`` finds ``ws-7.corp.example.com`` and the reverse
        (``flows.winlog.same_host``); ``WS-7`` never finds ``WS-70``."""
        ...

    def launched_by(self, tenant: str, parents: Sequence[str]) -> list[Row]:
        """Process launches (1007) of ``tenant`` on any host whose parent program is one of ``parents``
        (full paths): what a program such as a management agent routinely starts across the fleet."""
        ...


class MemoryTelemetry:
    """Events held in memory (``garrison triage --events FILE``); ``skipped``: lines the reader dropped."""

    def __init__(self, rows: Iterable[Row], *, skipped: int = 0) -> None:
        self.rows = sorted(rows, key=lambda row: row["time"])
        self.skipped = skipped

    def to_destinations(self, destinations: Sequence[str]) -> list[Row]:
        wanted = {d.lower() for d in destinations}
        found = [
            r
            for r in self.rows
            if r["class_uid"] in NETWORK_CLASSES
            and ((r.get("dst") or "").lower() in wanted or (r.get("dst_ip") or "").lower() in wanted)
        ]
        return _as_named(found, destinations)

    def on_hosts(self, tenant: str, hostnames: Sequence[str]) -> list[Row]:
        return [
            r
            for r in self.rows
            if r["tenant"] == tenant and r.get("hostname") and _one_of(hostnames, r["hostname"])
        ]

    def launched_by(self, tenant: str, parents: Sequence[str]) -> list[Row]:
        wanted = {p.lower() for p in parents}
        return [
            r
            for r in self.rows
            if r["tenant"] == tenant
            and r["class_uid"] == 1007
            and {(r.get("process_path") or "").lower(), (r.get("parent_path") or "").lower()} & wanted
        ]


class StoreTelemetry:
    """Events from the Garrison store (what ``POST /v1/events`` collected); ``skipped``: rows the reads so
    far dropped because their document is not a JSON object or their time is unusable."""

    _COLUMNS = (
        EventRow.id,
        EventRow.tenant,
        EventRow.class_uid,
        # Read raw and parsed here: one row written by hand or by a broken tool must cost that row, not the
        # whole query (SQLAlchemy's own conversion raises in the middle of the fetch).
        type_coerce(EventRow.time, String).label("time"),
        EventRow.hostname,
        EventRow.dst,
        EventRow.dst_ip,
        EventRow.dst_port,
        EventRow.bytes_out,
        EventRow.bytes_in,
        EventRow.process_path,
        EventRow.parent_path,
    )

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.skipped = 0
        self._unusable: set[int] = set()  # a row both reads return is counted once

    def _rows(self, *conditions: Any, documents: bool = True) -> list[Row]:
        # Network features need only the extracted columns: decoding 10,000 JSON documents tripled the time.
        document = type_coerce(EventRow.document, Text).label("document")
        columns = (*self._COLUMNS, document) if documents else self._COLUMNS
        query = select(*columns).where(*conditions).order_by(EventRow.time).limit(MAX_ROWS)
        rows = []
        with self.engine.connect() as conn:
            result = conn.execute(query)
            keys = list(result.keys())  # once: a mapping per row costs more than the query
            for found in result:
                row: Row = dict(zip(keys, found, strict=True))
                event_id = row.pop("id")
                row["time"] = _moment(row["time"])
                row["document"] = _document(row["document"]) if documents else {}
                if row["time"] is None or row["document"] is None:
                    self._unusable.add(event_id)
                    self.skipped = len(self._unusable)
                    continue
                rows.append(row)
        return rows

    def to_destinations(self, destinations: Sequence[str]) -> list[Row]:
        if not destinations:
            return []
        # Names are stored lower-case; a row stored before keeps the sensor's spelling: ask for both.
        asked = sorted({*destinations, *(d.lower() for d in destinations)})
        found = self._rows(
            EventRow.class_uid.in_(NETWORK_CLASSES),
            or_(EventRow.dst.in_(asked), EventRow.dst_ip.in_(asked)),
            documents=False,
        )
        return _as_named(found, destinations)

    def on_hosts(self, tenant: str, hostnames: Sequence[str]) -> list[Row]:
        if not hostnames:
            return []
        # Candidates by short name (``host_key``, indexed); rows stored before that column by the names as
        # asked. Then only the names that are the same host: ``ws-1.a.example`` is not ``ws-1.b.example``.
        keys = sorted({host_key(h) for h in hostnames})
        asked = sorted({*hostnames, *(h.lower() for h in hostnames), *(h.upper() for h in hostnames)})
        found = self._rows(
            EventRow.tenant == tenant, or_(EventRow.host_key.in_(keys), EventRow.hostname.in_(asked))
        )
        return [row for row in found if row.get("hostname") and _one_of(hostnames, row["hostname"])]

    def launched_by(self, tenant: str, parents: Sequence[str]) -> list[Row]:
        if not parents:
            return []
        # A launch names its parent as its actor (process_path) or as process.parent_process (parent_path).
        asked = sorted({*parents, *(p.lower() for p in parents)})
        return self._rows(
            EventRow.tenant == tenant,
            EventRow.class_uid == 1007,
            or_(EventRow.process_path.in_(asked), EventRow.parent_path.in_(asked)),
        )


def _one_of(hostnames: Sequence[str], stored: str) -> bool:
    return any(same_host(asked, stored) for asked in hostnames)


def _as_named(rows: list[Row], destinations: Sequence[str]) -> list[Row]:
    """The rows with ``dst`` set to the destination the alert named, so the network features (prevalence,
    and rhythm and volume per host and destination) count one server once.

    An event may carry a name and an IP; the alert may name either, or both. Left as stored, a row found by
    its IP would be grouped under its name, and a beacon seen partly as ``name + IP`` and partly as ``IP``
    alone would split into two irregular series. So identities the alert named that some event shows
    together are one destination, labelled by the one the alert named first; a row takes that label.
    A row to relabel is copied: the caller's rows (``MemoryTelemetry.rows``) are not changed.
    """
    order: dict[str, int] = {}
    for position, destination in enumerate(destinations):
        order.setdefault(destination.lower(), position)
    parent = {identity: identity for identity in order}  # a union-find over the named identities

    def root(identity: str) -> str:
        while parent[identity] != identity:
            identity = parent[identity]
        return identity

    for row in rows:
        name, ip = (row.get("dst") or "").lower(), (row.get("dst_ip") or "").lower()
        if name != ip and name in order and ip in order:
            first, second = sorted((root(name), root(ip)), key=order.__getitem__)
            parent[second] = first
    label = {identity: root(identity) for identity in order}
    labelled = []
    for row in rows:
        stored = row.get("dst")
        named = label.get((stored or "").lower()) or label.get((row.get("dst_ip") or "").lower())
        if named is not None:
            labelled.append(row if stored == named else {**row, "dst": named})
    return labelled


def _moment(value: Any) -> datetime | None:
    if isinstance(value, str):  # SQLite hands back its text
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _document(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str | bytes):  # SQLite's text; PostgreSQL's driver decodes JSON itself
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None
