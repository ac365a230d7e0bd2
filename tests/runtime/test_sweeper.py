"""The intake's sweeper against a real Prefect API: runs that never started, got stuck or crashed are
retried once per response round, then escalated to the analysts; a restarted runner settles the runs its
predecessor left PENDING or RUNNING. No runner executes anything here: states are set as a crash would."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.states import Cancelled, Cancelling, Completed, Crashed, Paused, Pending, Running

from flows.demo._run import demo_headers
from flows.intake import DEPLOYMENT, PrefectDispatcher, create_app
from flows.runtime._runner import settle_orphaned_runs
from flows.settings import Settings
from flows.store import Store
from flows.tenants import generate_missing_secrets, tenants_from

pytestmark = pytest.mark.usefixtures("prefect_harness")


class _NoDispatch:
    async def dispatch(self, incident_id: str) -> str | None:
        return None


@pytest.fixture(scope="module")
def deployment(prefect_harness: None) -> str:
    async def create() -> str:
        async with get_client() as client:
            flow_id = await client.create_flow_from_name("respond")
            return str(await client.create_deployment(flow_id=flow_id, name="respond"))

    return asyncio.run(create())


def _incident(settings: Settings) -> str:
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    unique = uuid.uuid4().hex
    alert = {  # nothing shared with another alert: its own incident
        "class_uid": 2004,
        "metadata": {"product": {"name": "Sweeper EDR"}},
        "finding_info": {"uid": f"sweeper-{unique}", "title": "Sweeper test", "analytic": {"uid": unique}},
        "device": {"hostname": f"WS-{unique[:12]}"},
    }
    client = TestClient(create_app(settings, dispatcher=_NoDispatch(), sweep=False))
    response = client.post("/v1/alerts", json=alert, headers=demo_headers(settings))
    assert response.status_code == 202, response.text
    return str(response.json()["incident_id"])


def _set_state(run_id: str, state: Any) -> None:
    async def go() -> None:
        async with get_client() as client:
            await client.set_flow_run_state(run_id, state, force=True)

    asyncio.run(go())


def _state(run_id: str) -> tuple[StateType, str]:
    async def go() -> Any:
        async with get_client() as client:
            return (await client.read_flow_run(run_id)).state

    state = asyncio.run(go())
    return state.type, state.name


def _recoveries(store: Store, incident_id: str) -> list[dict[str, Any]]:
    view = store.incident(incident_id)
    assert view is not None
    return [e.data for e in view.timeline if e.step == "recover" and e.data.get("action") == "retry"]


def test_a_run_that_never_started_is_replaced_once_then_escalated(
    settings: Settings, store: Store, deployment: str
) -> None:
    incident_id = _incident(settings)
    dispatcher = PrefectDispatcher(store, pending_bound=0)
    stuck = asyncio.run(dispatcher.dispatch(incident_id))
    assert stuck is not None
    _set_state(stuck, Pending())  # a runner took it and died while starting it ("Submitting" for good)

    assert asyncio.run(dispatcher.recover()) == 1
    view = store.incident(incident_id)
    assert view is not None and view.status == "new" and view.flow_run_id not in (None, stuck)
    assert _state(stuck)[0] is StateType.CANCELLED  # it can never start beside its replacement
    [retry] = _recoveries(store, incident_id)
    assert retry == {**retry, "round": 1, "flow_run_id": view.flow_run_id, "replaced": stuck}
    assert "pending for" in retry["problem"]

    _set_state(view.flow_run_id, Crashed())  # the replacement dies too: a person must look
    assert asyncio.run(dispatcher.recover()) == 1
    view = store.incident(incident_id)
    assert view is not None and view.status == "awaiting_approval"
    assert any(n.event == "escalation" for n in view.notifications)
    assert asyncio.run(dispatcher.recover()) == 0  # waiting for a human: left alone


def test_a_claimed_run_that_crashed_is_retried_as_the_same_run_then_escalated(
    settings: Settings, store: Store, deployment: str
) -> None:
    incident_id = _incident(settings)
    dispatcher = PrefectDispatcher(store)
    run_id = asyncio.run(dispatcher.dispatch(incident_id))
    assert run_id is not None and store.claim(incident_id, run_id)
    _set_state(run_id, Running())
    assert asyncio.run(dispatcher.recover()) == 0  # running: not second-guessed

    _set_state(run_id, Crashed(message="its runner stopped"))
    assert asyncio.run(dispatcher.recover()) == 1
    assert _state(run_id) == (StateType.SCHEDULED, "AwaitingRetry")  # Prefect's own Retry: the runner
    view = store.incident(incident_id)  # picks it up again and store.claim() lets the same run back in
    assert view is not None and view.status == "triaging" and view.flow_run_id == run_id
    assert store.claim(incident_id, run_id)

    _set_state(run_id, Crashed())
    assert asyncio.run(dispatcher.recover()) == 1
    view = store.incident(incident_id)
    assert view is not None and view.status == "awaiting_approval"
    assert any("after 1 retry" in entry.message for entry in view.timeline if entry.step == "recover")


def test_a_run_an_analyst_cancelled_or_that_ended_without_a_verdict_is_escalated_at_once(
    settings: Settings, store: Store, deployment: str
) -> None:
    dispatcher = PrefectDispatcher(store)
    for final in (Cancelled(message="cancelled from the UI"), Completed()):
        incident_id = _incident(settings)
        run_id = asyncio.run(dispatcher.dispatch(incident_id))
        assert run_id is not None and store.claim(incident_id, run_id)
        _set_state(run_id, final)
        assert asyncio.run(dispatcher.recover()) == 1
        view = store.incident(incident_id)
        assert view is not None and view.status == "awaiting_approval", final
        assert _recoveries(store, incident_id) == []  # no retry


def test_fresh_runs_wait_and_dispatch_is_idempotent_per_round(
    settings: Settings, store: Store, deployment: str
) -> None:
    incident_id = _incident(settings)
    first = asyncio.run(PrefectDispatcher(store).dispatch(incident_id))
    # An intake killed after creating the run but before recording it: the sweeper finds the same run.
    again = asyncio.run(PrefectDispatcher(store).dispatch(incident_id))
    assert first is not None and again == first
    assert asyncio.run(PrefectDispatcher(store).recover()) == 0  # SCHEDULED, just now
    _set_state(first, Pending())
    assert asyncio.run(PrefectDispatcher(store).recover()) == 0  # PENDING for less than 120 s


def test_a_new_runner_settles_what_its_predecessor_left(
    settings: Settings, store: Store, deployment: str
) -> None:
    dispatcher = PrefectDispatcher(store)
    runs = {}
    for state in (Pending(), Running(), Cancelling(), Paused(), None):
        incident_id = _incident(settings)
        run_id = asyncio.run(dispatcher.dispatch(incident_id))
        assert run_id is not None
        if state is not None:
            _set_state(run_id, state)
        runs[state.type if state else StateType.SCHEDULED] = run_id
    cancelling = runs[StateType.CANCELLING]

    with get_client(sync_client=True) as client:
        settled = settle_orphaned_runs(client, DEPLOYMENT)
    assert settled >= 4
    assert _state(runs[StateType.PENDING])[0] is StateType.CRASHED
    assert _state(runs[StateType.RUNNING])[0] is StateType.CRASHED
    # A run paused for a decision lived in the dead runner's process: a resume would find nobody.
    assert _state(runs[StateType.PAUSED])[0] is StateType.CRASHED
    assert _state(cancelling)[0] is StateType.CANCELLED
    assert _state(runs[StateType.SCHEDULED])[0] is StateType.SCHEDULED  # the new runner takes it
