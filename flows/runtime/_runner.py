"""Serve Garrison's deployments from this process (run by ``garrison up`` as a child process)."""

from __future__ import annotations

import logging
from typing import Any

from prefect import serve
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import State, StateType
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Crashed
from prefect.types.entrypoint import EntrypointType

from flows.respond import respond

RESPOND_CONCURRENCY = 4
DEPLOYMENT = "respond/respond"
_log = logging.getLogger("garrison.runner")


def serve_deployments() -> None:
    """Block, executing flow runs of the ``respond`` deployment as Prefect schedules them."""
    with get_client(sync_client=True) as client:
        settled = settle_orphaned_runs(client)
    if settled:
        _log.warning("marked %d respond run(s) of a previous runner as crashed", settled)
    deployment = respond.to_deployment(
        name="respond",
        description="Respond to one incident (one run per incident, started by the intake).",
        tags=["garrison"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    assert isinstance(deployment, RunnerDeployment)  # called from sync code: not a coroutine
    serve(deployment, limit=RESPOND_CONCURRENCY, print_starting_message=False)


def settle_orphaned_runs(client: SyncPrefectClient, deployment: str = DEPLOYMENT) -> int:
    """Mark the deployment's PENDING, RUNNING and PAUSED runs Crashed (CANCELLING ones Cancelled); returns
    how many.

    ``garrison up`` runs exactly one runner and kills what a dead one spawned before starting the next,
    so when this runner starts, a run still PENDING or RUNNING has no process behind it and never will:
    Prefect leaves it so forever. Crashed, the intake's sweeper retries it once or escalates it.
    """
    try:
        deployment_id = client.read_deployment_by_name(deployment).id
    except ObjectNotFound:
        return 0
    # PAUSED too: a run waiting for a decision lives in its runner's process (pause_flow_run polls), so
    # with that process gone a resume would mark it Running with nobody to run it. Crashed, the next
    # decision starts a new response round instead (``flows.intake.apply_decision``).
    states = [StateType.PENDING, StateType.RUNNING, StateType.CANCELLING, StateType.PAUSED]
    settled: set[str] = set()
    while True:  # pages of 200; a settled run leaves the filter
        runs = [
            run
            for run in client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=states))
                ),
                limit=200,
            )
            if str(run.id) not in settled
        ]
        if not runs:
            return len(settled)
        for run in runs:
            cancelling = run.state is not None and run.state.type is StateType.CANCELLING
            state: State[Any] = (
                Cancelled(message="cancelled while its runner stopped")
                if cancelling
                else Crashed(message="its runner stopped before it finished")
            )
            client.set_flow_run_state(run.id, state, force=True)
            settled.add(str(run.id))
