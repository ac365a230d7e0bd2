"""The intake's logic, shared by the HTTP API and ``garrison ingest``: parse, normalize, store, report.

Lines of a batch are independent: a line that cannot be read, normalized or stored is rejected on its own
(naming the field where it can), and the others are stored.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError, StatementError

from flows.normalize import Format, NormalizeError, TenantMismatch, normalize
from flows.settings import get_settings
from flows.store import (
    LAST_MS,
    Accepted,
    EventError,
    EventRow,
    GroupingRules,
    IncomingAlert,
    Replay,
    Store,
    event_row,
    remember_signature,
)
from flows.tenants import Tenant, grouping_rules, tenants_from
from flows.winlog import Unreadable

_log = logging.getLogger("garrison.intake")
# Alerts from real sensors nest a dozen levels; far deeper is an attack on recursive code (json, pydantic,
# templates): refused at the door, with a 4xx, not met later as a RecursionError.
MAX_JSON_DEPTH = 64
EVENT_BATCH = 1_000  # events of a file stored per transaction
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_BOMS = (
    (b"\xef\xbb\xbf", "UTF-8"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)


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


def parse_json(raw: bytes, what: str = "body") -> Any:
    """JSON from UTF-8 bytes, at most ``MAX_JSON_DEPTH`` deep, numbers finite, strings whole characters;
    ValueError saying what is wrong (and where) otherwise.

    >>> parse_json(b'{"a": [1, 2.5]}')
    {'a': [1, 2.5]}
    """
    # json.loads(bytes) would guess UTF-16 or UTF-32 from NULs and BOMs; senders are told UTF-8, so only
    # UTF-8 is read, and a BOM or a NUL (never in JSON text: escaped as \u0000) says what was sent.
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            raise ValueError(
                f"{what} is not valid JSON: it starts with a {encoding} byte order mark; "
                "send UTF-8 without one"
            )
    if b"\x00" in raw:
        raise ValueError(f"{what} is not valid JSON: it holds NUL bytes (UTF-16 or UTF-32 text?); send UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{what} is not valid JSON: not UTF-8 text (byte {error.start + 1})") from None
    try:
        document = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError(f"{what} is not valid JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{what} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except ValueError as error:  # NaN, Infinity, a float out of range, an integer of over 4300 digits
        reason = "an integer has too many digits" if "integer string conversion" in str(error) else error
        raise ValueError(f"{what} is not valid JSON: {reason}") from None
    # The walk is a third of the parse: skipped when the text cannot hold what it looks for. UTF-8 text
    # holds no surrogate but as a \uD8xx-\uDFxx escape, and nesting N deep takes N brackets.
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH or _SURROGATE_ESCAPE.search(text):
        _check_tree(document, what)
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number


def _check_tree(document: Any, what: str) -> None:
    # Iterative: a recursive walk would be the very thing a deep document attacks.
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise ValueError(f"{what} is not valid JSON: a \\ud800-\\udfff escape is half a character")
            continue
        if isinstance(value, dict):
            children: Iterable[Any] = [*value.keys(), *value.values()]
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"{what} is not valid JSON: nested deeper than {MAX_JSON_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, str | dict | list))


def split_lines(raw: bytes) -> list[tuple[int, bytes]]:
    """NDJSON lines with their 1-based numbers; blank lines are skipped."""
    return [(number, line) for number, line in enumerate(raw.split(b"\n"), start=1) if line.strip()]


class Intake:
    """Alerts and events into the store. A signed request's signature is remembered with what it stores,
    or on its own when nothing is stored, so the request is accepted once whatever became of its lines
    (``Replay`` when it was seen before)."""

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
        # An alert may carry its source's own tenant (an AWS organisation, an Okta org): kept as such. One
        # naming another of Garrison's tenants is refused: a tenant writes only its own alerts.
        others = {other.id for other in tenants_from(get_settings().tenants_file)} - {tenant.id}
        incoming: list[tuple[int, IncomingAlert]] = []
        for line, document in documents:
            try:
                normalized = normalize(document, tenant.id, fmt, mapping, other_tenants=others)
            except NormalizeError as error:
                report.rejected.append(Rejection(line, error.field, error.message))
                continue
            except TenantMismatch as error:
                report.rejected.append(Rejection(line, "metadata.tenant_uid", str(error), status=403))
                continue
            except Exception as error:  # noqa: BLE001 - one line's surprise must not sink the batch
                _log.warning("line %d: normalizing failed (%s)", line, type(error).__name__, exc_info=True)
                report.rejected.append(Rejection(line, "(line)", "not a readable alert"))
                continue
            if normalized.alert.time is not None and normalized.alert.time > LAST_MS:
                message = "must be milliseconds since the epoch, before the year 10000"
                report.rejected.append(Rejection(line, "time", message))
                continue
            raw = None if normalized.format is Format.OCSF else normalized.raw
            incoming.append(
                (line, IncomingAlert(normalized.alert, normalized.document, normalized.format.value, raw))
            )
        if not incoming:
            self.remember(tenant.id, signature)
            return report
        rules = grouping_rules(tenant)
        try:
            accepted = self.store.ingest([item for _, item in incoming], rules, signature)
        except Exception as error:
            if not _line_at_fault(error):
                raise  # Replay, or the store is unwell: the sender must hear it and retry
            _log.warning("a batch failed to store (%s): storing it line by line", type(error).__name__)
            report.accepted, signature = self._one_by_one(incoming, rules, signature, report.rejected)
            self.remember(tenant.id, signature)
        else:
            report.accepted = [(line, item) for (line, _), item in zip(incoming, accepted, strict=True)]
        return report

    def _one_by_one(
        self,
        incoming: list[tuple[int, IncomingAlert]],
        rules: GroupingRules,
        signature: tuple[str, datetime] | None,
        rejected: list[Rejection],
    ) -> tuple[list[tuple[int, Accepted]], tuple[str, datetime] | None]:
        # The signature goes with the first line that stores, so it is remembered in the same transaction
        # as something it acknowledges; returned if none stored.
        accepted: list[tuple[int, Accepted]] = []
        for line, item in incoming:
            try:
                [stored] = self.store.ingest([item], rules, signature)
            except Exception as error:
                if not _line_at_fault(error):
                    raise
                _log.warning("line %d could not be stored (%s)", line, type(error).__name__)
                rejected.append(Rejection(line, "(line)", "could not be stored: a value is out of range"))
                continue
            accepted.append((line, stored))
            signature = None
        return accepted, signature

    def accept_events(
        self,
        tenant: Tenant,
        documents: Iterable[tuple[int, Any]],
        signature: tuple[str, datetime] | None = None,
    ) -> BatchReport:
        """Validate telemetry events and store the valid ones in one transaction. An event is OCSF activity,
        or a Windows event in a native shape (``evtx_dump`` JSON, Winlogbeat, Wazuh: ``flows.winlog``),
        stored as the OCSF event its mapping makes, the original kept inside."""
        report = BatchReport()
        rows: list[tuple[int, dict[str, Any]]] = []
        for line, document in documents:
            try:
                rows.append((line, event_row(document, tenant.id)))
            except EventError as error:
                report.rejected.append(Rejection(line, error.field, error.message))
            except Exception as error:  # noqa: BLE001 - one line's surprise must not sink the batch
                _log.warning("event line %d: reading failed (%s)", line, type(error).__name__, exc_info=True)
                report.rejected.append(Rejection(line, "(line)", "not a readable event"))
        try:
            with self.store.engine.begin() as conn:
                self._remember(conn, tenant.id, signature)
                if rows:
                    conn.execute(insert(EventRow), [row for _, row in rows])
            report.events_stored = len(rows)
        except Exception as error:
            if not _line_at_fault(error):
                raise
            _log.warning("events failed to store (%s): storing them line by line", type(error).__name__)
            report.events_stored = self._events_one_by_one(tenant.id, rows, signature, report.rejected)
        return report

    def accept_event_records(
        self,
        tenant: Tenant,
        records: Iterable[tuple[int, Any]],
        after_batch: Callable[[], None] | None = None,
    ) -> BatchReport:
        """Events read from a file (``flows.winlog.EventFile``: any layout, ``.evtx`` too), stored
        ``EVENT_BATCH`` at a time as ``accept_events`` stores a request; a record that could not be read is
        rejected with its reason. ``after_batch`` is called after each stored batch (progress)."""
        total = BatchReport()
        batch: list[tuple[int, Any]] = []

        def flush() -> None:
            report = self.accept_events(tenant, batch)
            total.events_stored += report.events_stored
            total.rejected += report.rejected
            batch.clear()
            if after_batch is not None:
                after_batch()

        for line, record in records:
            if isinstance(record, Unreadable):
                total.rejected.append(Rejection(line, "(record)", record.reason[:300], 400))
            else:
                batch.append((line, record))
            if len(batch) >= EVENT_BATCH:
                flush()
        flush()
        return total

    def _events_one_by_one(
        self,
        tenant: str,
        rows: list[tuple[int, dict[str, Any]]],
        signature: tuple[str, datetime] | None,
        rejected: list[Rejection],
    ) -> int:
        stored = 0
        for line, row in rows:
            try:
                with self.store.engine.begin() as conn:
                    self._remember(conn, tenant, signature)
                    conn.execute(insert(EventRow), [row])
            except Exception as error:
                if not _line_at_fault(error):
                    raise
                _log.warning("event line %d could not be stored (%s)", line, type(error).__name__)
                rejected.append(Rejection(line, "(line)", "could not be stored: a value is out of range"))
                continue
            stored, signature = stored + 1, None
        self.remember(tenant, signature)
        return stored

    def remember(self, tenant: str, signature: tuple[str, datetime] | None) -> None:
        """Mark a signed request as seen (a no-op for unsigned ones); Replay if it was seen before."""
        if signature is not None:
            with self.store.engine.begin() as conn:
                self._remember(conn, tenant, signature)

    @staticmethod
    def _remember(conn: Connection, tenant: str, signature: tuple[str, datetime] | None) -> None:
        if signature is not None:
            remember_signature(conn, tenant, *signature)


def _line_at_fault(error: Exception) -> bool:
    """Whether storing failed because of what a line holds (then only that line is refused), rather than
    because the store is unavailable or the request was replayed (then the whole request fails)."""
    if isinstance(error, Replay):
        return False
    if isinstance(error, DBAPIError):
        return isinstance(error, DataError)  # value too long or out of range for its column
    if isinstance(error, StatementError):  # a value the driver could not bind
        error = error.orig if isinstance(error.orig, Exception) else error
    return isinstance(error, ValueError | TypeError | OverflowError | RecursionError)
