"""The gray-verdict gate end to end on the shared Prefect harness: the respond run pauses with a decision
form, ``garrison decide`` resumes the same run, and the playbook goes on from the decision."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import get_current_settings
from typer.testing import CliRunner

from actions.lab import HostSeed, LabFleet
from flows.cli import app
from flows.respond import RespondRequest, respond
from flows.settings import Settings, get_settings
from flows.store import Store
from flows.tenants import generate_missing_secrets, tenants_from
from tests.respond._gray import Running, decision_timeout

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()
HOST = "SRV-FILES-01"


def _gray_alert(uid: str) -> dict[str, Any]:
    return {
        "class_uid": 2004,
        "severity_id": 2,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Demo AV"}, "uid": f"av-{uid}"},
        "finding_info": {"uid": f"av-quarantine-{uid}", "title": "HackTool:Win32/Mimikatz quarantined"},
        "device": {"hostname": HOST},
    }


@pytest.fixture
def gated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """A Garrison home whose demo tenant waits ``timeout`` minutes for a decision, with analyst keys, and
    whose console is the harness's Prefect API (so the CLI resumes runs there)."""
    decision_timeout(tmp_path, monkeypatch, getattr(request, "param", 2.0))
    api = urlsplit(str(get_current_settings().api.url))
    monkeypatch.setenv("GARRISON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GARRISON_HOST", api.hostname or "127.0.0.1")
    monkeypatch.setenv("GARRISON_PREFECT_PORT", str(api.port))
    monkeypatch.delenv("GARRISON_ANALYST_KEY", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_home()
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    yield settings
    get_settings.cache_clear()


def _incident(store: Store, uid: str) -> str:
    from flows.models import Alert

    document = _gray_alert(uid)
    return store.record_alert(Alert.model_validate(document), document).incident_id


async def _state(run_id: str) -> Any:
    async with get_client() as client:
        return (await client.read_flow_run(run_id)).state


async def _inputs(run_id: str) -> list[Any]:
    async with get_client() as client:
        return await client.filter_flow_run_input(run_id, key_prefix="paused-", limit=10, exclude_keys=set())


async def _resume(run_id: str, run_input: dict[str, Any]) -> Any:
    async with get_client() as client:
        return await client.resume_flow_run(run_id, run_input=run_input)


def _wait_paused(store: Store, incident_id: str, running: Running, timeout: float = 90.0) -> str:
    import asyncio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert running.thread.is_alive() or running.error is None, running.error
        incident = store.incident(incident_id)
        if incident and incident.flow_run_id:
            state = asyncio.run(_state(incident.flow_run_id))
            if state is not None and state.is_paused():
                return incident.flow_run_id
        time.sleep(0.2)
    raise AssertionError("the respond run never paused")


def _decide(incident_id: str, *args: str) -> Any:
    return runner.invoke(app, ["decide", incident_id[:8], *args])


def test_a_gray_incident_pauses_and_a_malicious_decision_contains_it_in_the_same_run(
    gated: Settings,
) -> None:
    import asyncio

    store = Store.open(gated.database_url)
    fleet = LabFleet(store.engine)
    fleet.seed(HostSeed(tenant="demo", hostname=HOST))
    incident_id = _incident(store, "m1")
    running = Running(RespondRequest(incident_id=incident_id, playbook="default"))
    run_id = _wait_paused(store, incident_id, running)

    # Paused with the decision form: the schema the Prefect UI renders is saved on the run.
    inputs = asyncio.run(_inputs(run_id))
    schema = next(json.loads(i.value) for i in inputs if i.key.endswith("-schema"))
    assert set(schema["properties"]) >= {"verdict", "analyst", "comment"}
    assert store.incident(incident_id).status == "awaiting_approval"  # type: ignore[union-attr]

    listed = runner.invoke(app, ["pending", "--json"])
    assert listed.exit_code == 0, listed.output
    [item] = json.loads(listed.stdout)
    assert item["incident_id"] == incident_id and item["flow_run_id"] == run_id
    assert item["url"].endswith(f"/runs/flow-run/{run_id}") and "gray verdict" in item["why"]

    decided = _decide(
        incident_id, "--verdict", "malicious", "--by", "alice", "--comment", "mimikatz run by hand"
    )
    assert decided.exit_code == 0, decided.output
    result = running.join()

    incident = store.incident(incident_id)
    assert incident is not None and incident.flow_run_id == run_id  # the same run went on
    assert result["verdict"] == "malicious" and incident.verdict == "malicious"
    assert [(a.key, a.target.split(":", 1)[-1], a.status) for a in incident.actions] == [
        ("lab.isolate_host", HOST, "succeeded")
    ]
    assert fleet.show("demo", HOST)[0]["isolated"] is True
    assert incident.contained_at is not None and incident.status == "closed"  # an analyst decided: it closes
    analyst = incident.reasons[-1]
    assert analyst["question"] == "What did the analyst decide?" and "alice" in analyst["finding"]
    assert "mimikatz run by hand" in analyst["finding"]
    decision = [t for t in incident.timeline if t.step == "decision"]
    assert decision[0].data["waiting"] and decision[-1].data["analyst"] == "alice"
    assert decision[-1].data["waited_seconds"] >= 0 and decision[-1].at >= decision[0].at
    assert [n.event for n in incident.notifications] == [
        "escalation",
        "containment_done",
        "incident_report",
    ]
    assert asyncio.run(_state(run_id)).is_completed()


def test_a_benign_decision_closes_the_incident_with_the_analysts_reason(gated: Settings) -> None:
    store = Store.open(gated.database_url)
    incident_id = _incident(store, "b1")
    running = Running(RespondRequest(incident_id=incident_id, playbook="default"))
    _wait_paused(store, incident_id, running)

    decided = _decide(incident_id, "--verdict", "benign", "--by", "bob", "--comment", "sanctioned pentest")
    assert decided.exit_code == 0, decided.output
    running.join()

    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "closed" and incident.verdict == "benign"
    assert incident.actions == []
    [report] = sorted((gated.outbox_dir / "demo").glob("*.txt"))
    text = report.read_text(encoding="utf-8")
    # In the customer's language, from the catalog: the analyst's own words quoted as they wrote them.
    assert "Analyst bob decided: Benign. sanctioned pentest" in text


@pytest.mark.parametrize("gated", [0.05], indirect=True)  # 3 s
def test_a_decision_that_times_out_leaves_the_incident_waiting_and_the_run_completed(
    gated: Settings,
) -> None:
    import asyncio

    store = Store.open(gated.database_url)
    incident_id = _incident(store, "t1")
    running = Running(RespondRequest(incident_id=incident_id, playbook="default"))
    run_id = _wait_paused(store, incident_id, running)

    result = running.join()

    incident = store.incident(incident_id)
    assert incident is not None and result["status"] == "awaiting_approval"
    assert incident.status == "awaiting_approval" and incident.verdict == "suspicious"
    assert any(t.step == "decision" and t.data.get("timed_out") for t in incident.timeline)
    assert [n.event for n in incident.notifications] == ["escalation", "escalation", "incident_report"]
    assert asyncio.run(_state(run_id)).is_completed()
    # The run has ended, the incident still waits: a later decision starts the next round instead.
    late = _decide(incident_id, "--verdict", "benign", "--by", "alice")
    assert late.exit_code == 0, late.output
    after = store.incident(incident_id)
    assert after is not None and after.status == "reopened" and after.round == 2


def test_an_escalate_decision_tells_the_analysts_and_the_incident_keeps_waiting(gated: Settings) -> None:
    store = Store.open(gated.database_url)
    incident_id = _incident(store, "e1")
    running = Running(RespondRequest(incident_id=incident_id, playbook="default"))
    _wait_paused(store, incident_id, running)

    decided = _decide(incident_id, "--verdict", "escalate", "--by", "alice", "--comment", "need tier 2")
    assert decided.exit_code == 0, decided.output
    running.join()

    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "awaiting_approval"
    assert any("analyst alice escalated it: need tier 2" in t.message for t in incident.timeline)
    assert [n.event for n in incident.notifications] == ["escalation", "escalation", "incident_report"]


def test_a_wrong_key_resumes_nothing(gated: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    store = Store.open(gated.database_url)
    incident_id = _incident(store, "k1")
    running = Running(RespondRequest(incident_id=incident_id, playbook="default"))
    run_id = _wait_paused(store, incident_id, running)
    bob = (gated.secrets_dir / "analysts" / "bob").read_text(encoding="utf-8")

    monkeypatch.setenv("GARRISON_ANALYST_KEY", bob)
    refused = _decide(incident_id, "--verdict", "malicious", "--by", "alice")
    assert refused.exit_code == 1 and "is not analyst alice's" in str(refused.exception)
    assert asyncio.run(_state(run_id)).is_paused()
    # The API the UI form posts to checks the input against the decision's schema: refused, still paused.
    answer = asyncio.run(_resume(run_id, {"verdict": "maybe", "analyst": "alice"}))
    assert answer.status.value == "REJECT" and asyncio.run(_state(run_id)).is_paused()

    accepted = _decide(incident_id, "--verdict", "benign", "--by", "bob")  # bob's own key: accepted
    assert accepted.exit_code == 0, accepted.output
    running.join()
    assert store.incident(incident_id).status == "closed"  # type: ignore[union-attr]


def test_a_dry_run_never_pauses(gated: Settings) -> None:
    store = Store.open(gated.database_url)
    incident_id = _incident(store, "d1")

    result = respond(RespondRequest(incident_id=incident_id, dry_run=True))  # returns: nothing waits

    incident = store.incident(incident_id)
    assert incident is not None and result["status"] == "awaiting_approval"
    assert any("dry-run: would pause for an analyst's decision" in t.message for t in incident.timeline)
    assert not any(t.step == "decision" for t in incident.timeline)


@pytest.mark.parametrize("gated", [0.05], indirect=True)  # 3 s
def test_a_run_whose_incident_moved_to_a_new_round_while_it_waited_leaves_it_alone(gated: Settings) -> None:
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from flows.store._schema import IncidentRow

    store = Store.open(gated.database_url)
    incident_id = _incident(store, "r1")
    running = Running(RespondRequest(incident_id=incident_id, playbook="default"))
    _wait_paused(store, incident_id, running)
    # An alert with news started round 2 (as the intake does): the paused run no longer owns the incident.
    with Session(store.engine) as session, session.begin():
        session.execute(
            update(IncidentRow)
            .where(IncidentRow.id == incident_id)
            .values(status="reopened", round=2, flow_run_id=None)
        )

    result = running.join()

    incident = store.incident(incident_id)
    assert result["superseded"] is True and incident is not None and incident.status == "reopened"
    assert any("earlier response round ignored" in t.message for t in incident.timeline)


def test_a_decision_for_a_run_that_crashed_while_paused_starts_a_new_round(gated: Settings) -> None:
    # The runner died while the run waited (its restart marks such runs Crashed): the run never ended
    # its round, but nothing waits in Prefect any more, so the decision starts the next round.
    import asyncio

    from prefect import flow
    from prefect.states import Crashed

    from flows.store import IncidentStatus

    @flow(name="respond")
    def stand_in() -> None: ...

    async def crashed_run() -> str:
        async with get_client() as client:
            run = await client.create_flow_run(stand_in, state=Crashed(message="its runner stopped"))
            return str(run.id)

    store = Store.open(gated.database_url)
    incident_id = _incident(store, "crashed")
    store.set_flow_run(incident_id, asyncio.run(crashed_run()))
    store.set_status(incident_id, IncidentStatus.AWAITING_APPROVAL, "waiting for an analyst", "escalate")

    decided = _decide(incident_id, "--verdict", "benign", "--by", "alice", "--json")

    assert decided.exit_code == 0, decided.output
    assert "new response round 2" in json.loads(decided.stdout)["said"]
    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "reopened" and incident.round == 2
