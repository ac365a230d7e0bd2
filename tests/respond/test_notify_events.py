"""The respond flow tells people as things happen: the customer when a threat is contained and with the
report at the end, the MDR's analysts when a gray verdict needs them; a failing channel is retried,
recorded as failed, and does not stop the others. End to end through a real Prefect API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client

from actions.lab import LabFleet
from flows.demo import mykings_alert, mykings_host
from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.settings import Settings, get_settings
from flows.store import Store
from tests.respond._gray import decision_timeout

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _record(store: Store, document: dict[str, Any]) -> str:
    return store.record_alert(Alert.model_validate(document), document).incident_id


def _outbox(settings: Settings, folder: str) -> list[str]:
    path = settings.outbox_dir / folder
    return [p.read_text(encoding="utf-8") for p in sorted(path.glob("*"))] if path.exists() else []


async def _artifact(key: str) -> str:
    async with get_client() as client:
        artifacts = await client.read_artifacts()
    return next(a.data for a in artifacts if a.key == key and isinstance(a.data, str))


def test_the_customer_hears_of_containment_then_gets_the_report_and_an_analyst_is_asked_to_close(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    LabFleet(store.engine).seed(mykings_host())
    incident_id = _record(store, mykings_alert())

    result = respond(RespondRequest(incident_id=incident_id, playbook="default"))

    assert result["status"] == "contained"  # high severity, attacker behaviour: a person closes it
    incident = store.incident(incident_id)
    assert incident is not None
    assert [(n.event, n.target, n.status, n.language) for n in incident.notifications] == [
        ("containment_done", "outbox://…", "delivered", "en"),
        ("escalation", "mdr:outbox://…", "delivered", "en"),
        ("incident_report", "outbox://…", "delivered", "en"),
    ]
    contained, report = _outbox(settings, "demo")
    assert contained.startswith("Subject: [Garrison] Contained: MyKings botnet")
    assert "Isolate the host from the network: WS-FINANCE-07 (Done)" in contained
    assert report.startswith("Subject: [Garrison] MALICIOUS: MyKings botnet")
    assert "Status:    Contained" in report and "The threat is contained." in report
    assert "WHAT WE RECOMMEND" in report and "Keep js[.]mykings[.]top blocked" in report
    assert "js.mykings.top" not in contained + report and "http://" not in contained + report
    [escalation] = _outbox(settings, "_analysts")
    assert "closing needs an analyst" in escalation


def test_a_tenant_that_lets_contained_incidents_close_gets_the_closing_report(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "tenants:\n"
        "  - id: demo\n"
        "    name: Demo Customer Ltd.\n"
        "    notify: [{url: 'outbox://demo'}]\n"
        "    adapters: {lab: {}}\n"
        "    policy: {auto_close_risky: true}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(tenants))
    get_settings.cache_clear()
    LabFleet(store.engine).seed(mykings_host())
    incident_id = _record(store, mykings_alert())

    result = respond(RespondRequest(incident_id=incident_id, playbook="default"))

    assert result["status"] == "closed"
    _, report = _outbox(settings, "demo")
    assert "Status:    Closed" in report and "The incident is closed." in report
    assert _outbox(settings, "_analysts") == []  # the tenant chose to need nobody
    artifact = asyncio.run(_artifact(f"incident-{incident_id}"))
    assert "## Recommendations" in artifact and "## Infection chain" in artifact


def test_a_gray_verdict_is_sent_to_the_analysts_and_the_customer_gets_an_interim_report(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    decision_timeout(tmp_path, monkeypatch, 0.02)  # nobody decides: the run waits ~1 s, then ends
    alert = {
        "class_uid": 2004,
        "severity_id": 2,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Demo AV"}, "uid": "av-9"},
        "finding_info": {"uid": "av-quarantine-9", "title": "HackTool:Win32/Mimikatz quarantined"},
        "device": {"hostname": "SRV-FILES-01"},
    }
    incident_id = _record(store, alert)

    respond(RespondRequest(incident_id=incident_id, playbook="default"))

    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "awaiting_approval"
    assert [(n.event, n.target, n.status) for n in incident.notifications] == [
        ("escalation", "mdr:outbox://…", "delivered"),
        ("escalation", "mdr:outbox://…", "delivered"),  # nobody decided in time
        ("incident_report", "outbox://…", "delivered"),
    ]
    escalation, timed_out = _outbox(settings, "_analysts")
    assert "Analyst needed: Demo Customer Ltd." in escalation and "SRV-FILES-01" in escalation
    assert "no analyst decided within" in timed_out
    [interim] = _outbox(settings, "demo")
    assert "An attack tool means a person was at work" in interim
    assert "an analyst is reviewing this incident" in interim.lower()


@pytest.fixture
def failing_webhook() -> Iterator[tuple[str, list[int]]]:
    hits: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            hits.append(500)
            self.send_response(500)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"json://127.0.0.1:{server.server_address[1]}/", hits
    server.shutdown()
    server.server_close()


def test_a_failing_customer_channel_is_retried_recorded_and_does_not_stop_the_others(
    settings: Settings,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing_webhook: tuple[str, list[int]],
) -> None:
    url, hits = failing_webhook
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "tenants:\n"
        "  - id: demo\n"
        "    name: Demo Customer Ltd.\n"
        "    language: zh-TW\n"
        "    notify:\n"
        f"      - {{url: '{url}', allow_internal: true}}\n"
        "      - {url: 'outbox://demo'}\n"
        "    adapters: {lab: {}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(tenants))
    get_settings.cache_clear()
    LabFleet(store.engine).seed(mykings_host())
    incident_id = _record(store, mykings_alert())

    result = respond(RespondRequest(incident_id=incident_id, playbook="default"))

    assert result["status"] == "contained"
    incident = store.incident(incident_id)
    assert incident is not None
    assert [(n.event, n.target, n.status, n.error) for n in incident.notifications] == [
        ("containment_done", "json://…", "failed", "delivery failed (HTTP 500)"),
        ("containment_done", "outbox://…", "delivered", ""),
        ("escalation", "mdr:outbox://…", "delivered", ""),
        ("incident_report", "json://…", "failed", "delivery failed (HTTP 500)"),
        ("incident_report", "outbox://…", "delivered", ""),
    ]
    assert len(hits) == 6  # three attempts per message
    contained, report = _outbox(settings, "demo")
    assert (
        "已圍堵" in contained
        and "【建議措施】" in report
        and "hxxp://js[.]mykings[.]top:280/v[.]sct" in report
    )
