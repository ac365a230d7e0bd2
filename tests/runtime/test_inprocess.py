"""The in-process runner against a real Prefect API: a served run executes in a thread of the runner (no
process is spawned), its flow run and task runs are in Prefect as the analyst sees them, a failing run is
Failed (not Crashed), and cancelling a run from Prefect stops its thread and leaves it Cancelled."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import prefect.runner._starter_direct
import pytest
from fastapi.testclient import TestClient
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import StateType
from prefect.flows import Flow
from prefect.states import Cancelling

from actions.lab import LabFleet
from flows.demo import mykings_alert, mykings_host
from flows.demo._run import demo_headers
from flows.intake import create_app
from flows.respond import respond
from flows.runtime._inprocess import InProcessRunner
from flows.settings import Settings
from flows.store import Store
from flows.tenants import generate_missing_secrets, tenants_from

pytestmark = pytest.mark.usefixtures("prefect_harness")
_FINAL = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)


@flow(name="garrison-test-sleeper")
def sleeper(seconds: float) -> int:
    ticks, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
        ticks += 1
    return ticks


@flow(name="garrison-test-broken")
def broken() -> None:
    raise ValueError("this flow fails on purpose")


class _NoDispatch:
    async def dispatch(self, incident_id: str) -> str | None:
        return None


@pytest.fixture(autouse=True)
def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect's own starter would spawn a process: make that fail loudly, so a pass proves the run
    executed in this process."""

    def spawned(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a flow-run process was spawned")

    monkeypatch.setattr(prefect.runner._starter_direct, "run_flow_in_subprocess", spawned)


def _serve(target: Flow[Any, Any], parameters: dict[str, Any]) -> tuple[InProcessRunner, str]:
    runner = InProcessRunner(limit=2, query_seconds=1, pause_on_shutdown=False)
    deployment_id = runner.add_flow(target, name=f"inprocess-{uuid.uuid4().hex[:8]}")

    async def create() -> str:
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
            return str(run.id)

    return runner, asyncio.run(create())


async def _read(run_id: str) -> Any:
    async with get_client() as client:
        return await client.read_flow_run(uuid.UUID(run_id))


def _task_runs(run_id: str) -> list[Any]:
    async def go() -> list[Any]:
        async with get_client() as client:
            return await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(run_id)])), limit=200
            )

    return asyncio.run(go())


def test_a_respond_run_executes_in_the_runner_and_its_task_runs_are_in_prefect(
    settings: Settings, store: Store
) -> None:
    LabFleet(store.engine).seed(mykings_host())
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    intake = TestClient(create_app(settings, dispatcher=_NoDispatch(), sweep=False))
    posted = intake.post("/v1/alerts", json=mykings_alert(), headers=demo_headers(settings))
    assert posted.status_code == 202, posted.text
    incident_id = posted.json()["incident_id"]
    runner, run_id = _serve(respond, {"request": {"incident_id": incident_id}})

    asyncio.run(runner.start(run_once=True))  # one poll, then waits for the run to end

    run = asyncio.run(_read(run_id))
    assert run.state.type is StateType.COMPLETED, run.state
    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "contained"
    assert incident.flow_run_id == run_id  # the run claimed its incident
    tasks = {t.name: t.state.type for t in _task_runs(run_id)}
    assert {"enrich", "classify"} <= tasks.keys()
    assert any(name.startswith("isolate_host") for name in tasks), tasks
    assert set(tasks.values()) == {StateType.COMPLETED}
    assert all(a.status == "succeeded" for a in incident.actions) and incident.actions


def test_a_failing_run_is_failed_not_crashed() -> None:
    runner, run_id = _serve(broken, {})

    asyncio.run(runner.start(run_once=True))

    run = asyncio.run(_read(run_id))
    assert run.state.type is StateType.FAILED, run.state
    assert "this flow fails on purpose" in (run.state.message or "")


def test_cancelling_a_run_in_prefect_stops_its_thread_and_leaves_it_cancelled() -> None:
    runner, run_id = _serve(sleeper, {"seconds": 300})
    started = time.monotonic()
    serving = threading.Thread(target=lambda: asyncio.run(runner.start(run_once=True)), daemon=True)
    serving.start()
    deadline = time.monotonic() + 60
    while asyncio.run(_read(run_id)).state.type is not StateType.RUNNING:
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    assert any(t.name == f"flow-run-{run_id}" for t in threading.enumerate())

    async def cancel() -> None:
        async with get_client() as client:
            await client.set_flow_run_state(uuid.UUID(run_id), Cancelling(), force=True)

    asyncio.run(cancel())
    serving.join(timeout=90)

    assert not serving.is_alive(), "the runner still waits for the cancelled run"
    assert time.monotonic() - started < 120  # well before the flow's own 300 s
    assert not any(t.name == f"flow-run-{run_id}" for t in threading.enumerate())
    assert asyncio.run(_read(run_id)).state.type is StateType.CANCELLED


def test_the_runner_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.runtime._runner import inprocess_runs, respond_concurrency

    monkeypatch.delenv("GARRISON_RESPOND_CONCURRENCY", raising=False)
    monkeypatch.delenv("GARRISON_INPROCESS_RUNS", raising=False)
    assert (respond_concurrency(), inprocess_runs()) == (8, True)
    monkeypatch.setenv("GARRISON_RESPOND_CONCURRENCY", "3")
    monkeypatch.setenv("GARRISON_INPROCESS_RUNS", "0")
    assert (respond_concurrency(), inprocess_runs()) == (3, False)
    monkeypatch.setenv("GARRISON_RESPOND_CONCURRENCY", "eight")
    with pytest.raises(ValueError, match="GARRISON_RESPOND_CONCURRENCY='eight': must be a whole number"):
        respond_concurrency()
