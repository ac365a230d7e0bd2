"""Several runners serving the same deployments: ``garrison up``'s own, and ``garrison worker`` anywhere.

This is Prefect's standard scale-out for served deployments: each runner polls the API for scheduled runs
of the deployments it serves and proposes *Pending* for a run before it starts it
(``prefect/runner/_scheduled_run_poller.py``, ``ScheduledRunPoller._submit_run`` →
``StateProposer.propose_pending``). The server orchestrates that proposal with the run's row locked
(``prefect/server/models/flow_runs.py``, ``set_flow_run_state``: ``read_flow_run(…, for_update=True)``)
and its ``PreventPendingTransitions`` rule (``prefect/server/orchestration/core_policy.py``) rejects
PENDING → PENDING and RUNNING → PENDING: of two runners that polled the same run, the second is refused
(``Abort``), ``propose_pending`` returns False and the poller drops the run. A run is taken by one runner
only; Garrison's own claim on the incident (``Store.claim``) stays as the second lock behind it.

Each runner has a name (``GARRISON_WORKER_NAME``; ``<host>-up`` for ``garrison up``'s runner,
``<host>-worker`` for ``garrison worker``) and tags every run it wins ``garrison-worker:<name>``: the
analyst sees in the UI where a run executed, and a runner that starts again settles only the runs of its
own previous life (``settle_orphaned_runs``), never those another live runner is executing.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from prefect.exceptions import Abort, ObjectNotFound
from prefect.runner import Runner
from prefect.states import Pending
from prefect.utilities.engine import propose_state

from ._inprocess import InProcessRunner

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun
    from prefect.flows import Flow

WORKER_NAME_ENV = "GARRISON_WORKER_NAME"
WORKER_TAG_PREFIX = "garrison-worker:"
_log = logging.getLogger("garrison.runner")


class WorkerError(Exception):
    """A worker cannot serve: the message says what is missing and where."""


def worker_name(role: str) -> str:
    """This runner's name: ``GARRISON_WORKER_NAME``, else ``<hostname>-<role>``."""
    given = os.environ.get(WORKER_NAME_ENV, "").strip()
    name = given or f"{socket.gethostname()}-{role}"
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(name) > 100:
        raise WorkerError(f"{WORKER_NAME_ENV}={name!r}: letters, digits, '.', '-' and '_' only (at most 100)")
    return name


def worker_tag(name: str) -> str:
    return f"{WORKER_TAG_PREFIX}{name}"


def claim_message(name: str) -> str:
    """The message of the Pending state a runner proposes: who took the run, recorded with the claim."""
    return f"taken by {worker_tag(name)}"


class _Tagging:
    """Proposes Pending in the runner's own name, then tags the run it won with that name.

    The name goes in the Pending state's message, written in the same transaction as the claim: a runner
    killed before the tag is written still finds the run it left Pending (``settle_orphaned_runs``)."""

    worker: str = ""

    async def __aenter__(self) -> Any:
        entered = await super().__aenter__()  # type: ignore[misc]
        runner: Any = self
        proposer = runner._scheduled_run_poller._state_proposer
        tag = worker_tag(self.worker)
        message = claim_message(self.worker)

        async def propose_pending(flow_run: FlowRun) -> bool:
            # Prefect's StateProposer.propose_pending, with the runner's name in the state.
            try:
                state = await propose_state(runner._client, Pending(message=message), flow_run_id=flow_run.id)
            except Abort as refused:  # another runner has it (PreventPendingTransitions)
                _log.info("flow run %s: not submitted, the server refused Pending: %s", flow_run.id, refused)
                return False
            except Exception:  # noqa: BLE001 - as Prefect's: the next poll tries again
                _log.exception("flow run %s: could not propose Pending", flow_run.id)
                return False
            if not state.is_pending():
                return False
            try:
                tags = [t for t in flow_run.tags if not t.startswith(WORKER_TAG_PREFIX)]
                await runner._client.update_flow_run(flow_run.id, tags=[*tags, tag])
            except Exception as error:  # noqa: BLE001 - a missing tag must not cost the incident its run
                _log.warning("flow run %s: could not tag it %s: %s", flow_run.id, tag, error)
            return True

        setattr(proposer, "propose_pending", propose_pending)  # noqa: B010 - shadows the bound method
        return entered


class NamedRunner(_Tagging, Runner):
    """Prefect's Runner (a process per run) that tags the runs it takes."""


class NamedInProcessRunner(_Tagging, InProcessRunner):
    """:class:`InProcessRunner` (runs in threads) that tags the runs it takes."""


def make_runner(name: str, limit: int, inprocess: bool) -> Runner:
    # pause_on_shutdown=False: Prefect's default pauses every served deployment when a runner stops, which
    # would stop the other runners' respond runs and the re-check schedule because one machine went away.
    cls: type[Runner] = NamedInProcessRunner if inprocess else NamedRunner
    runner = cls(name=name, limit=limit, pause_on_shutdown=False)
    setattr(runner, "worker", name)  # noqa: B010 - the mixin's attribute, set after Prefect's __init__
    return runner


def serve_registered(
    runner: Runner, client: SyncPrefectClient, flows: dict[str, Flow[Any, Any]], required: str
) -> list[str]:
    """Serve deployments that ``garrison up`` registered, without registering them again.

    ``Runner.add_flow`` would apply each deployment, and an apply replaces the deployment's schedules with
    the applier's (``models.deployments.update_deployment`` deletes and recreates them when ``schedules``
    is sent, even empty): a worker would wipe or fight over the re-check's cron. Only ``garrison up``'s
    runner applies; a worker looks the deployments up and polls for their runs. Returns the names served.
    """
    served = []
    for full_name, flow in flows.items():
        try:
            deployment = client.read_deployment_by_name(full_name)
        except ObjectNotFound:
            if full_name == required:
                raise WorkerError(
                    f"no {full_name} deployment on the Prefect API: start `garrison up` first"
                ) from None
            _log.info("%s is not registered (garrison up serves none): not served here", full_name)
            continue
        registry = runner._deployment_registry
        registry.register_deployment(deployment.id, deployment.name)
        # The flow object itself: runs start from this installation's code, never from a path on the
        # machine that registered the deployment.
        registry.register_flow(deployment.id, flow)
        served.append(full_name)
    return served
