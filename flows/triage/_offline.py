"""Triage from files, with no server and no network: `garrison triage ALERT --events … --intel …`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.intake._events import EventError, event_row
from flows.models import Alert
from flows.normalize import FieldMapping, Format, normalize
from flows.tenants import IntelConfig, Policy

from ._classify import TriageResult, triage
from ._enrich import enrich
from ._telemetry import MemoryTelemetry

OFFLINE_TENANT = "offline"


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
    for path in intel:
        if not path.is_file():
            raise TriageInputError(f"{path}: no such intel file")
    try:  # the same enrichment as the respond flow, with these files as the only feeds and no online provider
        indicators = enrich(
            alert.indicators(), tenant=alert.tenant, feeds=intel, intel=IntelConfig()
        ).indicators
    except ValueError as error:  # FeedError names the file and the line or object
        raise TriageInputError(str(error)) from None
    telemetry = MemoryTelemetry(rows) if events else None
    return triage([alert], indicators, policy or Policy(), telemetry, now)
