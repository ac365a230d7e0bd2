"""End to end through a real Prefect API: alert posted → incident → respond flow run → effects."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client

from actions.lab import LabFleet
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.demo._run import demo_headers
from flows.intake import create_app
from flows.respond import RespondRequest, respond
from flows.settings import Settings
from flows.store import Store
from flows.tenants import generate_missing_secrets, tenants_from
from tests.respond._gray import decision_timeout

pytestmark = pytest.mark.usefixtures("prefect_harness")


class NoDispatch:
    async def dispatch(self, incident_id: str) -> str | None:
        return None


def _post(settings: Settings, alert: dict[str, Any]) -> str:
    client = TestClient(create_app(settings, dispatcher=NoDispatch(), sweep=False))
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    response = client.post("/v1/alerts", json=alert, headers=demo_headers(settings))
    assert response.status_code == 202, response.text
    return response.json()["incident_id"]


async def _flow_run(flow_run_id: str) -> Any:
    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
        artifacts = await client.read_artifacts()
    return run, artifacts


def test_mykings_alert_is_contained_reported_and_left_for_an_analyst_to_close(
    settings: Settings, store: Store
) -> None:
    fleet = LabFleet(store.engine)
    fleet.seed(mykings_host())
    incident_id = _post(settings, mykings_alert())

    result = respond(RespondRequest(incident_id=incident_id, playbook="default"))

    incident = store.incident(incident_id)
    assert incident is not None
    # High severity and attacker behaviour: contained at once, closed only by a person (DESIGN §8).
    assert result == {
        "incident_id": incident_id,
        "status": "contained",
        "verdict": "malicious",
        "playbook": "default",
    }
    assert incident.status == "contained" and incident.contained_at and not incident.closed_at
    assert any("closing needs an analyst" in t.message for t in incident.timeline)
    assert sorted((a.key, a.target.split(":", 1)[-1], a.status) for a in incident.actions) == [
        ("lab.block_domain", "js.mykings.top", "succeeded"),
        (
            "lab.delete_registry_value",
            r"HKLM\SOFTWARE\Microsoft\Shared Tools\MSConfig\startupreg\start",
            "succeeded",
        ),
        (
            "lab.delete_registry_value",
            r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\start",
            "succeeded",
        ),
        (
            "lab.delete_registry_value",
            r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\start1",
            "succeeded",
        ),
        ("lab.isolate_host", DEMO_HOST, "succeeded"),
    ]

    host = fleet.show("demo", DEMO_HOST)[0]
    assert host["isolated"] is True
    assert [v["name"] for v in host["registry_values"]] == ["SecurityHealth"]  # the legitimate one stays
    assert all(c["blocked"] for c in host["connections"])

    # The customer hears of the containment at once and gets the report; the analysts are asked to close.
    assert [(n.event, n.status) for n in incident.notifications] == [
        ("containment_done", "delivered"),
        ("escalation", "delivered"),
        ("incident_report", "delivered"),
    ]
    contained, report = sorted((settings.outbox_dir / "demo").glob("*.txt"))
    text = report.read_text()
    assert "MALICIOUS" in text and "js[.]mykings[.]top" in text and "js.mykings.top" not in text
    assert "Contained" in contained.read_text()

    run, artifacts = asyncio.run(_flow_run(incident.flow_run_id or ""))
    assert run.state is not None and run.state.is_completed()
    assert any(a.key == f"incident-{incident_id}" and "WS-FINANCE-07" in (a.data or "") for a in artifacts)
    assert [t.step for t in incident.timeline][:4] == ["intake", "respond", "playbook", "enrich"]


def test_a_second_run_for_the_same_incident_does_nothing(settings: Settings, store: Store) -> None:
    LabFleet(store.engine).seed(mykings_host())
    incident_id = _post(settings, mykings_alert())
    respond(RespondRequest(incident_id=incident_id))
    actions_before = store.incident(incident_id).actions  # type: ignore[union-attr]

    again = respond(RespondRequest(incident_id=incident_id))

    assert again["skipped"] is True
    assert store.incident(incident_id).actions == actions_before  # type: ignore[union-attr]


def test_dry_run_plans_but_changes_nothing(settings: Settings, store: Store) -> None:
    fleet = LabFleet(store.engine)
    fleet.seed(mykings_host())
    incident_id = _post(settings, mykings_alert())

    respond(RespondRequest(incident_id=incident_id, dry_run=True))

    incident = store.incident(incident_id)
    assert incident is not None and incident.verdict == "malicious"
    assert incident.actions == [] and incident.notifications == []
    assert incident.status == "triaging"
    assert any("dry-run: would run lab.isolate_host" in t.message for t in incident.timeline)
    host = fleet.show("demo", DEMO_HOST)[0]
    assert host["isolated"] is False and len(host["registry_values"]) == 4


def test_a_hacktool_alert_goes_to_an_analyst_not_closed(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decision_timeout(tmp_path, monkeypatch, 0.02)  # nobody decides: the run waits ~1 s, then ends
    alert = {
        "class_uid": 2004,
        "severity_id": 2,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Demo AV"}, "uid": "av-1"},
        "finding_info": {"uid": "av-quarantine-1", "title": "HackTool:Win32/Mimikatz quarantined"},
        "device": {"hostname": "SRV-FILES-01"},
    }
    incident_id = _post(settings, alert)

    respond(RespondRequest(incident_id=incident_id))

    incident = store.incident(incident_id)
    assert incident is not None
    assert incident.verdict == "suspicious" and incident.status == "awaiting_approval"
    assert incident.actions == []
    # The analysts are told of the gray verdict (and again when nobody decided in time); the customer gets
    # the (interim) report.
    assert [(n.event, n.status) for n in incident.notifications] == [
        ("escalation", "delivered"),
        ("escalation", "delivered"),
        ("incident_report", "delivered"),
    ]


def test_a_failed_action_leaves_the_incident_open(settings: Settings, store: Store) -> None:
    # The host is not in the lab fleet: isolation and registry clean-up cannot find their target.
    incident_id = _post(settings, mykings_alert())

    respond(RespondRequest(incident_id=incident_id))

    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "awaiting_approval"
    assert any(n.event == "escalation" for n in incident.notifications)  # failure never goes quiet
    failed = [a for a in incident.actions if a.status == "failed"]
    assert failed and all("TargetNotFound" in a.detail for a in failed)
    assert any(a.key == "lab.block_domain" and a.status == "succeeded" for a in incident.actions)
    assert any("not closed" in t.message for t in incident.timeline)
