"""End to end with telemetry (the DUOBEAN shape), through a real Prefect API: events and an alert posted to
the intake → incident → respond flow run. The flow reads the stored telemetry, must not crash on it, and
moves the incident's first evidence back to what the telemetry saw first."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client

from flows.demo._run import demo_headers
from flows.intake import create_app
from flows.respond import RespondRequest, respond
from flows.settings import Settings
from flows.store import Store
from flows.tenants import generate_missing_secrets, tenants_from

pytestmark = pytest.mark.usefixtures("prefect_harness")

DUOBEAN = Path(__file__).parents[1] / "triage" / "corpus" / "duobean"
LOGIN = 3002  # a login is context for triage, not evidence of the intrusion


class NoDispatch:
    async def dispatch(self, incident_id: str) -> str | None:
        return None


def _as_demo(document: dict[str, Any]) -> dict[str, Any]:
    """The corpus names tenant acme; the test's Garrison knows the demo tenant (and a tenant writes only its
    own events and alerts)."""
    return {**document, "metadata": {**document.get("metadata", {}), "tenant_uid": "demo"}}


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


async def _flow_run_state(flow_run_id: str) -> Any:
    async with get_client() as client:
        return (await client.read_flow_run(flow_run_id)).state


def test_duobean_with_its_telemetry_is_triaged_from_the_store(settings: Settings, store: Store) -> None:
    client = TestClient(create_app(settings, dispatcher=NoDispatch(), sweep=False))
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    headers = demo_headers(settings)
    lines = (DUOBEAN / "events.ndjson").read_text(encoding="utf-8").splitlines()
    events = [_as_demo(json.loads(line)) for line in lines if line.strip()]
    alert = _as_demo(json.loads((DUOBEAN / "alert.json").read_text(encoding="utf-8")))

    posted = client.post(
        "/v1/events",
        content="\n".join(json.dumps(event) for event in events),
        headers={**headers, "Content-Type": "application/x-ndjson"},
    )
    assert posted.status_code == 200, posted.text
    assert posted.json() == {"stored": len(events), "rejected": []}
    received = client.post("/v1/alerts", json=alert, headers=headers)
    assert received.status_code == 202, received.text
    incident_id = received.json()["incident_id"]
    at_intake = store.incident(incident_id)
    assert at_intake is not None and at_intake.first_evidence_at is not None

    result = respond(RespondRequest(incident_id=incident_id))

    incident = store.incident(incident_id)
    assert incident is not None
    assert result["incident_id"] == incident_id and result["verdict"] == incident.verdict
    assert incident.verdict not in (None, "benign")
    earliest = min(datetime.fromtimestamp(e["time"] / 1000, UTC) for e in events if e["class_uid"] != LOGIN)
    assert earliest < _aware(at_intake.first_evidence_at)  # type: ignore[operator]
    assert _aware(incident.first_evidence_at) == earliest
    # Triage saw the stored telemetry, all of it usable.
    features = next(t.data["features"] for t in incident.timeline if t.message == "triage features")
    assert features["telemetry"] == {"given": True, "skipped": 0}
    assert features["network"]["events"] > 0
    state = asyncio.run(_flow_run_state(incident.flow_run_id or ""))
    assert state is not None and state.is_completed(), state
