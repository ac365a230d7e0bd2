"""Sample incidents for notification tests, built through the store as the respond flow builds them:
the MyKings alert, enriched, classified, partly contained, with a payload in every field on request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from flows.demo import mykings_alert
from flows.models import Alert, Indicator, IndicatorType, Provenance, Reason, Verdict, VerdictLabel
from flows.notify import EventDetails, PlannedAction
from flows.store import IncidentStatus, IncidentView, Store
from flows.tenants import NotifyTarget, Tenant

# Alert time 2019-07-23 09:00 UTC; the Run values were written two years before (DESIGN §1, MyKings).
RUN_VALUES_WRITTEN_MS = 1500779640000  # 2017-07-23 03:14 UTC


@dataclass(frozen=True)
class Sample:
    incident: IncidentView
    alerts: list[Alert]
    tenant: Tenant
    details: EventDetails


def mykings_document(payload: str | None = None, evidence_times: bool = True) -> dict[str, Any]:
    document = mykings_alert()
    if evidence_times:
        for evidence in document["evidences"]:
            if "reg_value" in evidence:
                evidence["reg_value"]["modified_time"] = RUN_VALUES_WRITTEN_MS
    if payload is None:
        return document
    document["finding_info"]["title"] = payload
    document["finding_info"]["desc"] = payload
    document["finding_info"]["types"] = [payload]
    document["device"]["hostname"] = payload[:255]
    process = document["evidences"][0]["process"]
    process["name"] = payload
    process["cmd_line"] = payload
    process["parent_process"] = {"name": payload, "file": {"path": f"C:\\Users\\a\\AppData\\{payload}"}}
    document["evidences"][0]["url"]["url_string"] = f"http://evil.example/{payload}"
    document["evidences"][0]["dst_endpoint"]["hostname"] = payload
    document["evidences"][1]["reg_value"]["name"] = payload
    document["evidences"][1]["reg_value"]["data"] = payload
    document["evidences"].append({"job": {"name": payload, "cmd_line": payload}})
    document["evidences"].append({"win_service": {"name": payload, "cmd_line": payload}})
    document["evidences"].append({"file": {"path": payload}})
    document["evidences"].append({"query": {"hostname": payload}})
    document["metadata"]["product"]["name"] = payload
    return document


def build(store: Store, payload: str | None = None, evidence_times: bool = True) -> Sample:
    """The MyKings incident, enriched, classified malicious, contained with one failed action, closed;
    with ``payload`` in every field a sensor, a feed or an adapter can fill."""
    document = mykings_document(payload, evidence_times)
    alert = Alert.model_validate(document)
    receipt = store.record_alert(alert, document)
    incident_id = receipt.incident_id
    reason = payload if payload is not None else "MyKings botnet C2 and payload host"
    source = payload if payload is not None else "garrison-demo-feed"
    listed = [
        Indicator(
            type=IndicatorType.DOMAIN,
            value="js.mykings.top",
            provenance=[
                Provenance(source=source, verdict="malicious", reason=reason, first_seen="2017-03-01")
            ],
        ),
        Indicator(
            type=IndicatorType.URL,
            value="http://js.mykings.top:280/v.sct",
            provenance=[
                Provenance(source=source, verdict="malicious", reason=reason, first_seen="2017-03-01")
            ],
        ),
    ]
    store.save_indicators(incident_id, listed)
    reasons = [
        Reason(
            question="Why are we watching this indicator?",
            finding="hxxp://js[.]mykings[.]top:280/v[.]sct and 1 more listed by garrison-demo-feed: "
            "MyKings scriptlet download (v.sct), first seen 2017-03-01",
            effect=50,
        ),
        Reason(
            question="How does it persist?",
            finding="autorun registry values (start, start1) written",
            effect=25,
        ),
        Reason(question="How severe does the sensor rate it?", finding="sensor severity high", effect=15),
    ]
    if payload is not None:
        reasons.append(Reason(question=payload, finding=payload, effect=1))
    assert store.claim(incident_id, "0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f")  # a respond run takes it
    store.set_verdict(incident_id, Verdict(verdict=VerdictLabel.MALICIOUS, score=91, reasons=reasons))
    store.set_status(incident_id, IncidentStatus.RESPONDING, "containment started", "act")
    host = payload[:255] if payload is not None else "WS-FINANCE-07"
    run_key = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\start"
    done = [
        ("lab.isolate_host", host, "succeeded", "host isolated"),
        ("lab.delete_registry_value", f"{host}:{run_key}", "succeeded", "registry value deleted"),
        ("lab.block_domain", "js.mykings.top", "succeeded", "domain blocked"),
        ("lab.block_ip", payload or "203.0.113.9", "failed", f"TransientError: {payload or 'timeout'}"),
    ]
    for action, target, status, detail in done:
        entry = store.ledger.claim(
            tenant="demo",
            incident_id=incident_id,
            action=action,
            target=target,
            inputs={},
            inverse=None,
            owner="test",
            lease_seconds=60,
        )
        store.ledger.finish(entry.id, "test", status=status, detail=detail)
    if payload is not None:
        store.add_timeline(incident_id, "act", payload)
    store.set_status(incident_id, IncidentStatus.CONTAINED, "contained", "act")
    incident = store.incident(incident_id)
    assert incident is not None
    tenant = Tenant(
        id="demo",
        name=payload if payload is not None else "Demo Customer Ltd.",
        notify=[NotifyTarget(url="outbox://demo")],
    )
    details = EventDetails(
        reason=payload if payload is not None else "gray verdict - an analyst decides",
        pending=[
            PlannedAction("lab.isolate_host", host),
            PlannedAction("lab.block_domain", payload if payload is not None else "js.mykings.top"),
        ],
        expires_at=datetime(2030, 1, 2, 3, 4, tzinfo=UTC),
        affected_tenants=3,
    )
    return Sample(incident, [alert], tenant, details)


@pytest.fixture
def sample(store: Store) -> Callable[..., Sample]:
    return lambda payload=None, evidence_times=True: build(store, payload, evidence_times)
