"""Serve Garrison's deployments from this process (run by ``garrison up`` as a child process)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
    FlowRunFilterTags,
)
from prefect.client.schemas.objects import State, StateType
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound, TerminationSignal
from prefect.runner import Runner
from prefect.schedules import Cron, Schedule
from prefect.states import Cancelled, Crashed
from prefect.types.entrypoint import EntrypointType

from actions import registry
from flows.recheck import RecheckRequest, recheck_flow
from flows.respond import respond
from flows.settings import get_settings
from flows.store import Store
from flows.tenants import TenantDirectory, tenants_from

from ._processes import READY_MARK
from ._workers import claim_message, make_runner, serve_registered, worker_name, worker_tag

CONCURRENCY_ENV = "GARRISON_RESPOND_CONCURRENCY"
# In-process runs cost a thread, not a process, so more fit on the same cores; the GIL and the Prefect
# server's SQLite are what bound them (see `garrison bench respond`).
DEFAULT_CONCURRENCY = 8
INPROCESS_ENV = "GARRISON_INPROCESS_RUNS"
DEPLOYMENT = "respond/respond"
RECHECK_DEPLOYMENT = "recheck/recheck"
_log = logging.getLogger("garrison.runner")


def serve_deployments(role: str = "up") -> None:
    """Block, executing flow runs of the ``respond`` (and ``recheck``) deployments as Prefect schedules them.

    ``role="up"``: ``garrison up``'s runner, which registers both deployments (and the re-check's cron);
    ``role="worker"``: ``garrison worker``, which serves the deployments ``garrison up`` registered."""
    name = worker_name(role)
    inprocess = inprocess_runs()
    runner = make_runner(name, respond_concurrency(), inprocess)
    with get_client(sync_client=True) as client:
        settled = settle_orphaned_runs(client, worker=name)
        if settled:
            _log.warning("marked %d respond run(s) of this runner's previous life as crashed", settled)
        if inprocess:
            warm_up()
        if role == "worker":
            served = serve_registered(
                runner, client, {DEPLOYMENT: respond, RECHECK_DEPLOYMENT: recheck_flow}, required=DEPLOYMENT
            )
        else:
            served = _register(runner, inprocess)
    # What `garrison worker` waits for in this process's log before it says the worker is up.
    print(f"{READY_MARK.decode()} {name} serves {', '.join(served)}", flush=True)
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal) as stopped:
        _log.info("runner stopping (%s)", type(stopped).__name__)


def _register(runner: Runner, inprocess: bool) -> list[str]:
    description = "Respond to one incident (one run per incident, started by the intake)."
    module = EntrypointType.MODULE_PATH
    schedules = recheck_schedules()
    # paused=False: a deployment an older Garrison paused at shutdown is served again.
    if inprocess:
        # add_flow hands the Runner the flow object itself: InProcessRunner runs it in a thread.
        runner.add_flow(
            respond,
            "respond",
            description=description,
            tags=["garrison"],
            entrypoint_type=module,
            paused=False,
        )
        if schedules:
            runner.add_flow(
                recheck_flow, "recheck", schedules=schedules, **_RECHECK, entrypoint_type=module, paused=False
            )
        return [DEPLOYMENT, RECHECK_DEPLOYMENT] if schedules else [DEPLOYMENT]
    # Prefect's standard `serve`: each run loads the flow in a new `python -m prefect.engine`.
    deployment = respond.to_deployment(
        "respond", description=description, tags=["garrison"], entrypoint_type=module, paused=False
    )
    assert isinstance(deployment, RunnerDeployment)  # called from sync code: not a coroutine
    runner.add_deployment(deployment)
    if schedules:
        scheduled = recheck_flow.to_deployment(
            "recheck", schedules=schedules, **_RECHECK, entrypoint_type=module, paused=False
        )
        assert isinstance(scheduled, RunnerDeployment)
        runner.add_deployment(scheduled)
    return [DEPLOYMENT, RECHECK_DEPLOYMENT] if schedules else [DEPLOYMENT]


RECHECK_CRON_ENV = "GARRISON_RECHECK_CRON"
# Daily, at an hour off the hour (UTC): closed incidents are looked at again (``flows.recheck``).
DEFAULT_RECHECK_CRON = "17 3 * * *"
_RECHECK: dict[str, Any] = {
    "description": "Re-check closed incidents: fresh intel, triage again, remediation still in place.",
    "tags": ["garrison", "recheck"],
    "parameters": {"request": RecheckRequest().model_dump()},
}


def recheck_cron() -> str | None:
    """The re-check's schedule (``GARRISON_RECHECK_CRON``, a cron line; ``off`` serves none)."""
    raw = os.environ.get(RECHECK_CRON_ENV, "").strip()
    if raw.lower() in ("off", "0", "false", "no"):
        return None
    return raw or DEFAULT_RECHECK_CRON


def recheck_schedules(tenants: TenantDirectory | None = None) -> list[Schedule]:
    """The re-check deployment's schedules: the default one (``GARRISON_RECHECK_CRON``), which leaves out
    the tenants with a schedule of their own, and one per such tenant (``recheck.cron``), each run asking
    for its tenant only. Cron lines are read as UTC; each schedule has a slug, so registering again on the
    next start replaces it instead of adding one."""
    tenants = tenants if tenants is not None else tenants_from(get_settings().tenants_file)
    schedules = []
    cron = recheck_cron()
    if cron:
        default = RecheckRequest(skip_own_schedules=True).model_dump()
        schedules.append(Cron(cron, timezone="UTC", parameters={"request": default}, slug="recheck-default"))
    for tenant in tenants:
        if tenant.recheck.cron:
            own = RecheckRequest(tenant=tenant.id).model_dump()
            schedules.append(
                Cron(
                    tenant.recheck.cron,
                    timezone="UTC",
                    parameters={"request": own},
                    slug=f"recheck-{tenant.id}",
                )
            )
    return schedules


def warm_up() -> None:
    """Do once, before runs share this process, what each run's process used to do for itself on first
    use: load the action plugins (loading is not safe for two threads at once: one sees the registry
    half-filled) and open the store (its schema is created on first use)."""
    registry.load_plugins()
    Store.open(get_settings().database_url)


def respond_concurrency() -> int:
    """How many respond runs at once (``GARRISON_RESPOND_CONCURRENCY``, default 8)."""
    raw = os.environ.get(CONCURRENCY_ENV, "").strip()
    if not raw:
        return DEFAULT_CONCURRENCY
    if not raw.isdigit() or not 1 <= int(raw) <= 256:
        raise ValueError(f"{CONCURRENCY_ENV}={raw!r}: must be a whole number from 1 to 256")
    return int(raw)


def inprocess_runs() -> bool:
    """Runs in threads of the runner (the default), or each in its own process (``GARRISON_INPROCESS_RUNS=0``,
    Prefect's standard)."""
    return os.environ.get(INPROCESS_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def settle_orphaned_runs(
    client: SyncPrefectClient, deployment: str = DEPLOYMENT, *, worker: str | None = None
) -> int:
    """Mark the deployment's PENDING, RUNNING and PAUSED runs Crashed (CANCELLING ones Cancelled); returns
    how many. ``worker``: only the runs that runner took (tagged ``garrison-worker:<name>``); None: all.

    ``garrison up`` kills what a dead runner spawned before starting it again (runs in its threads died
    with it), so when a runner starts, a run its previous life still holds PENDING or RUNNING has nothing
    behind it and never will: Prefect leaves it so forever. Crashed, the intake's sweeper retries it once
    or escalates it. Runs other runners took (``garrison worker`` on other machines) are theirs: left.
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
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=states)),
                    tags=FlowRunFilterTags(all_=[worker_tag(worker)]) if worker else None,
                ),
                limit=200,
            )
            if str(run.id) not in settled
        ]
        if worker:  # and what it claimed but died before tagging: its name is in the Pending state
            runs += [
                run
                for run in client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PENDING]))
                    ),
                    limit=200,
                )
                if str(run.id) not in settled
                and run.state is not None
                and run.state.message == claim_message(worker)
                and worker_tag(worker) not in run.tags
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
