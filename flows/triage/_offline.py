"""Triage from files, with no server and no network: `garrison triage ALERT --events … --intel …`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.intake._events import EventError, event_row
from flows.models import Alert, Indicator, IndicatorType, Provenance
from flows.normalize import FieldMapping, Format, normalize
from flows.tenants import Policy

from ._classify import TriageResult, triage
from ._feeds import FeedError, LocalFeeds
from ._telemetry import MemoryTelemetry

OFFLINE_TENANT = "offline"


class TriageInputError(ValueError):
    """A file given to triage cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class IntelEntry:
    """One intel answer about one indicator (from any local feed format or online provider)."""

    type: str
    value: str
    verdict: str
    source: str
    reason: str = ""
    first_seen: str | None = None
    last_seen: str | None = None


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


def read_events(path: Path, default_tenant: str) -> list[dict[str, Any]]:
    """OCSF activity events (NDJSON); each keeps the tenant it names, else the alert's."""
    rows = []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as error:
        raise TriageInputError(f"{path}: cannot read: {error.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
            named = document.get("metadata", {}).get("tenant_uid") if isinstance(document, dict) else None
            rows.append(event_row(document, named if isinstance(named, str) and named else default_tenant))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise TriageInputError(f"{path}:{number}: not JSON: {error}") from None
        except (EventError, AttributeError) as error:
            raise TriageInputError(f"{path}:{number}: {error}") from None
    return rows


def read_intel(paths: Sequence[Path]) -> list[IntelEntry]:
    """Local feeds: STIX 2.1 bundles, MISP event JSON, CSV or plain lists (actions.intel), CSV without it."""
    entries: list[IntelEntry] = []
    for path in paths:
        try:
            from actions.intel import load_feed  # the feed parsers live with the intel adapters
        except ImportError:
            entries += _csv_only(path)
            continue
        try:
            records = load_feed(path)
        except ValueError as error:
            raise TriageInputError(str(error)) from None
        entries += [
            IntelEntry(r.type, r.value, r.verdict, r.source, r.reason, r.first_seen, r.last_seen)
            for r in records
        ]
    return entries


def _csv_only(path: Path) -> list[IntelEntry]:
    try:
        feeds = LocalFeeds.load([path])
    except FeedError as error:
        raise TriageInputError(str(error)) from None
    return [
        IntelEntry(kind, value, p.verdict, p.source, p.reason, p.first_seen, p.last_seen)
        for (kind, value), provenances in feeds.entries.items()
        for p in provenances
    ]


def attach_intel(indicators: Iterable[Indicator], entries: Iterable[IntelEntry]) -> list[Indicator]:
    """The indicators with every matching intel answer as provenance."""
    by_key: dict[tuple[str, str], list[Provenance]] = {}
    for entry in entries:
        normalized = Indicator.parse(entry.value, hint=_type(entry.type))
        if normalized is None:
            continue
        by_key.setdefault((normalized.type.value, normalized.value), []).append(
            Provenance(
                source=entry.source,
                verdict=entry.verdict,
                reason=entry.reason,
                first_seen=entry.first_seen,
                last_seen=entry.last_seen,
            )
        )
    return [
        indicator.model_copy(
            update={
                "provenance": [
                    *indicator.provenance,
                    *by_key.get((indicator.type.value, indicator.value), []),
                ]
            }
        )
        for indicator in indicators
    ]


def _type(name: str) -> IndicatorType | None:
    try:
        return IndicatorType(name)
    except ValueError:
        return None


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
) -> TriageResult:
    alert = read_alert(alert_path, tenant, fmt, mapping)
    rows = [row for path in events for row in read_events(path, alert.tenant)]
    indicators = attach_intel(alert.indicators(), read_intel(intel))
    telemetry = MemoryTelemetry(rows) if events else None
    return triage([alert], indicators, policy or Policy(), telemetry, now)
