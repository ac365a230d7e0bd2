"""Closed incidents built through the store, as a respond run leaves them: ingested, claimed, enriched,
classified, closed (``new → triaging → closed``), its run ended."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from flows.models import Alert
from flows.store import GroupingRules, IncidentStatus, IncomingAlert, Store
from flows.tenants import IntelConfig, Policy
from flows.triage import StoreTelemetry, enrich, triage

# Each alert its own incident: one that relates to a closed incident opens a linked one, not a reopening.
SEPARATE = GroupingRules(window=timedelta(0), on_closed="link")
FEED_HEADER = "type,value,verdict,reason,first_seen,source,last_seen\n"


def dns_alert(n: int, domain: str, host: str = "", tenant: str = "demo") -> dict[str, Any]:
    """A low-severity detection of a host looking up ``domain`` (triage: gray, or benign if intel says so)."""
    return {
        "class_uid": 2004,
        "category_uid": 2,
        "activity_id": 1,
        "type_uid": 200401,
        "severity_id": 2,
        "time": 1_700_000_000_000 + n,
        "message": "Host looked up an unusual domain",
        "metadata": {
            "version": "1.3.0",
            "tenant_uid": tenant,
            "product": {"name": "Demo DNS", "vendor_name": "Garrison Lab"},
        },
        "finding_info": {"uid": f"dns-{n}", "title": f"Unusual domain looked up ({n})", "types": ["Network"]},
        "device": {"hostname": host or f"WS-SALES-{n:04d}"},
        "observables": [{"name": "dst_endpoint.hostname", "type_id": 1, "value": domain}],
    }


def closed_incident(
    store: Store,
    document: dict[str, Any],
    *,
    feeds: Sequence[Path] = (),
    intel: IntelConfig | None = None,
    policy: Policy | None = None,
) -> str:
    alert = Alert.model_validate(document)
    [accepted] = store.ingest([IncomingAlert(alert=alert, document=document)], SEPARATE)
    incident_id = accepted.incident_id
    assert store.claim(incident_id, f"setup-{incident_id}")
    found = enrich(alert.indicators(), tenant=alert.tenant, feeds=list(feeds), intel=intel or IntelConfig())
    store.save_indicators(incident_id, found.indicators)
    result = triage([alert], found.indicators, policy or Policy(), StoreTelemetry(store.engine))
    store.set_verdict(incident_id, result.verdict)
    store.set_status(incident_id, IncidentStatus.CLOSED, "closed by playbook", "close")
    store.end_run(incident_id)
    return incident_id


def feed(path: Path, *rows: tuple[str, str, str, str, str]) -> Path:
    """A local CSV feed: (type, value, verdict, reason, source) rows, confirmed today."""
    from datetime import date

    today = date.today().isoformat()
    lines = [
        f"{kind},{value},{verdict},{reason},2024-01-01,{source},{today}"
        for kind, value, verdict, reason, source in rows
    ]
    path.write_text(FEED_HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return path
