"""Each shipped playbook replayed on the real case it was written for, end to end through a real Prefect API:
the case's telemetry and alert posted to the intake, its intel as a local feed, the respond flow run with
no playbook named. The match rules must choose the case's playbook, and what it did (each action on each
target, through the lab fleet seeded with the host as the alert describes it), the verdict and the final
status must equal the reviewed expectations in ``golden/playbooks/<case>.yaml``.
Regenerate them with ``GARRISON_UPDATE_GOLDEN=1`` when a change is intended, and review the diff."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from actions import TargetKind
from actions.lab import (
    FileSeed,
    HostSeed,
    LabFleet,
    ProcessSeed,
    RegistryValueSeed,
    ServiceSeed,
    TaskSeed,
)
from flows.demo._run import demo_headers
from flows.intake import create_app
from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.respond._targets import targets_for
from flows.settings import Settings, get_settings
from flows.store import Store
from flows.tenants import generate_missing_secrets, tenants_from

pytestmark = pytest.mark.usefixtures("prefect_harness")

CORPUS = Path(__file__).parents[1] / "triage" / "corpus"
GOLDEN = Path(__file__).parent / "golden" / "playbooks"
UPDATE = os.environ.get("GARRISON_UPDATE_GOLDEN") == "1"
DEFAULT_FEED = Path(__file__).parents[2] / "flows" / "defaults" / "intel-feed.csv"
CASES = {
    "mykings": "persistence-malware",
    "pcastle": "fileless-miner",
    "duobean": "c2-beacon",
    "attack-tool-precursor": "attack-tool-precursor",
    "adware-gray": "gray-default",
    "ransomware-shadow-delete": "default",
}


class NoDispatch:
    async def dispatch(self, incident_id: str) -> str | None:
        return None


def _as_demo(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "metadata": {**document.get("metadata", {}), "tenant_uid": "demo"}}


def _post(settings: Settings, case: Path) -> str:
    client = TestClient(create_app(settings, dispatcher=NoDispatch(), sweep=False))
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    headers = demo_headers(settings)
    events = case / "events.ndjson"
    if events.is_file():
        lines = [
            _as_demo(json.loads(line)) for line in events.read_text("utf-8").splitlines() if line.strip()
        ]
        body = "\n".join(json.dumps(line) for line in lines)
        posted = client.post(
            "/v1/events", content=body, headers={**headers, "Content-Type": "application/x-ndjson"}
        )
        assert posted.status_code == 200, posted.text
    alert = _as_demo(json.loads((case / "alert.json").read_text("utf-8")))
    received = client.post("/v1/alerts", json=alert, headers=headers)
    assert received.status_code == 202, received.text
    return str(received.json()["incident_id"])


def _seed_lab(store: Store, incident_id: str) -> None:
    """The lab host as the alert describes it: its registry values, tasks, services, processes, files."""
    incident = store.incident(incident_id)
    assert incident is not None
    alerts = [Alert.model_validate(d) for d in store.alert_documents(incident_id)]
    found = {kind: targets_for(kind, incident, alerts) for kind in TargetKind}
    for host in incident.hosts:

        def on(kind: TargetKind, host: str = host) -> list[dict[str, Any]]:
            return [t.inputs for t in found[kind] if t.inputs.get("hostname", "").lower() == host.lower()]

        LabFleet(store.engine).seed(
            HostSeed(
                tenant="demo",
                hostname=host,
                registry_values=[
                    RegistryValueSeed(key=i["key"], name=i["name"]) for i in on(TargetKind.REGISTRY_VALUE)
                ],
                services=[ServiceSeed(name=i["name"]) for i in on(TargetKind.SERVICE)],
                scheduled_tasks=[TaskSeed(name=i["name"]) for i in on(TargetKind.SCHEDULED_TASK)],
                processes=[
                    ProcessSeed(pid=i["pid"], name=i.get("name", "x")) for i in on(TargetKind.PROCESS)
                ],
                files=[FileSeed(path=i["path"]) for i in on(TargetKind.FILE)],
            )
        )


async def _task_run_names(flow_run_id: str) -> list[str]:
    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200
        )
    return [run.name for run in runs]


@pytest.mark.parametrize(("case", "playbook"), CASES.items(), ids=list(CASES))
def test_a_shipped_playbook_replays_its_case(
    case: str, playbook: str, settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = [DEFAULT_FEED, *sorted((CORPUS / case).glob("intel*"))]
    monkeypatch.setenv("GARRISON_INTEL_FEEDS", json.dumps([str(f) for f in feeds]))
    get_settings.cache_clear()
    settings = get_settings()
    incident_id = _post(settings, CORPUS / case)
    _seed_lab(store, incident_id)

    result = respond(RespondRequest(incident_id=incident_id))

    incident = store.incident(incident_id)
    assert incident is not None
    assert result["playbook"] == playbook
    assert incident.playbook is not None and incident.playbook.startswith(f"{playbook} v")
    seen = {
        "playbook": incident.playbook,
        "verdict": incident.verdict,
        "status": incident.status,
        "actions": sorted(f"{a.key} {a.target}: {a.status}" for a in incident.actions),
        "chosen": [t.message for t in incident.timeline if t.step == "playbook"],
        "notified": sorted({n.event for n in incident.notifications}),
    }
    golden = GOLDEN / f"{case}.yaml"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(yaml.safe_dump(seen, sort_keys=False, allow_unicode=True), encoding="utf-8")
    assert seen == yaml.safe_load(golden.read_text(encoding="utf-8")), f"{golden} differs"
    # The customer's report names the playbook that handled the incident.
    sent = [path.read_text(encoding="utf-8") for path in (settings.outbox_dir / "demo").glob("*")]
    assert any(f"Handled with our playbook {incident.playbook}." in text for text in sent)
    # One task run per action and target, named after the capability and the target.
    names = asyncio.run(_task_run_names(incident.flow_run_id or ""))
    for action in incident.actions:
        capability = action.key.split(".", 1)[1]
        assert any(name.startswith(capability) and action.target[:40] in name for name in names), action
