"""Triage from files, with no server and no network: `garrison triage ALERT --events … --intel …`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from flows.models import Alert
from flows.normalize import FieldMapping, Format, get, normalize
from flows.store import EventError, event_row
from flows.tenants import IntelConfig, Policy
from flows.winlog import EventFile, Unreadable

from ._classify import TriageResult, triage
from ._enrich import enrich
from ._telemetry import MemoryTelemetry

OFFLINE_TENANT = "offline"
MAX_WARNINGS = 20  # lines named one by one in the log; the rest are summed up
PROGRESS_EVERY = 1_000  # records between two progress reports
logger = logging.getLogger(__name__)


class TriageInputError(ValueError):
    """A file given to triage cannot be used; the message names the file (and line)."""


def read_alert(path: Path, tenant: str | None, fmt: Format, mapping: FieldMapping | None) -> Alert:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TriageInputError(f"{path}: cannot read the alert: {error}") from None
    named = document.get("metadata", {}).get("tenant_uid") if isinstance(document, dict) else None
    owner = tenant or (named if isinstance(named, str) and named else OFFLINE_TENANT)
    try:
        return normalize(document, owner, fmt, mapping).alert
    except (ValueError, PermissionError) as error:
        raise TriageInputError(f"{path}: {error}") from None


@dataclass(frozen=True)
class EventsRead:
    """What an events file gave: the rows triage can use, and how many lines it could not."""

    rows: list[dict[str, Any]]
    skipped: int = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        # Iterable as its rows, for callers that want only those (``MemoryTelemetry(read_events(…))``).
        return iter(self.rows)


def read_events(path: Path, default_tenant: str, progress: Callable[[int], None] | None = None) -> EventsRead:
    """Telemetry events from a file: OCSF activity events, or Windows events in their native shapes (a
    binary ``.evtx``, ``evtx_dump`` JSON, Winlogbeat or Wazuh documents; ``flows.winlog``), one per line or
    pretty-printed one after the other. Each keeps the tenant it names, else the alert's. ``progress`` hears
    how many bytes of the file have been read, now and then.

    Telemetry is context, not the alert: an event of a class triage does not know (OCSF has many more), a
    Windows event the mapping table does not map, or a malformed record is skipped and counted, with a
    warning naming its line (or ``.evtx`` record), never fatal. Only a file that cannot be read at all is
    an error. The file is read record by record, never whole.
    """
    source = EventFile(path)
    rows: list[dict[str, Any]] = []
    skipped = 0
    try:
        for count, (number, record) in enumerate(source, start=1):
            row = _event(record, default_tenant)
            if isinstance(row, str):
                skipped += 1
                # A file may hold 100,000 events of a class we do not know: name the first few, sum the rest.
                if skipped <= MAX_WARNINGS:
                    logger.warning("%s:%d: event skipped: %s", path, number, row[:300])
            else:
                rows.append(row)
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(source.consumed)
    except OSError as error:
        raise TriageInputError(f"{path}: cannot read: {error.strerror}") from None
    if progress is not None:
        progress(source.consumed)
    if skipped > MAX_WARNINGS:
        logger.warning(
            "%s: %d more lines skipped (%d in all): only the first %d are named",
            path,
            skipped - MAX_WARNINGS,
            skipped,
            MAX_WARNINGS,
        )
    return EventsRead(rows, skipped)


def _event(record: Any, default_tenant: str) -> dict[str, Any] | str:
    """The event's row, or why the record cannot be one."""
    if isinstance(record, Unreadable):
        return record.reason
    named = get(record, "metadata.tenant_uid")
    try:
        return event_row(record, named if isinstance(named, str) and named else default_tenant)
    except EventError as error:
        class_uid = get(record, "class_uid")
        if error.field == "class_uid" and class_uid is not None:  # say which class it was, not the list
            return f"class_uid {class_uid!r} is not a class triage reads"
        return str(error)


def triage_files(
    alert_path: Path,
    *,
    events: Sequence[Path] = (),
    intel: Sequence[Path] = (),
    tenant: str | None = None,
    policy: Policy | None = None,
    fmt: Format = Format.AUTO,
    mapping: FieldMapping | None = None,
    now: datetime | None = None,
    progress: Callable[[Path, int], None] | None = None,
) -> TriageResult:
    """``progress(path, bytes_read)``: how far the events files have been read (for a progress bar)."""
    alert = read_alert(alert_path, tenant, fmt, mapping)
    read = [read_events(path, alert.tenant, partial(progress, path) if progress else None) for path in events]
    rows = [row for file in read for row in file.rows]
    for path in intel:
        if not path.is_file():
            raise TriageInputError(f"{path}: no such intel file")
    try:  # the same enrichment as the respond flow, with these files as the only feeds and no online provider
        indicators = enrich(
            alert.indicators(), tenant=alert.tenant, feeds=intel, intel=IntelConfig()
        ).indicators
    except ValueError as error:  # FeedError names the file and the line or object
        raise TriageInputError(str(error)) from None
    telemetry = MemoryTelemetry(rows, skipped=sum(file.skipped for file in read)) if events else None
    return triage([alert], indicators, policy or Policy(), telemetry, now)
