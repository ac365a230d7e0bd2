"""An analyst's decision, however it arrives (``garrison decide``, ``POST /v1/decisions/{token}``), reaches
the incident the same way: the analyst proves their name with their key; then a paused respond run is
resumed through the Prefect API with the decision as its run input (what the Prefect UI's form sends), or,
when no run waits (the default), the decision starts the next response round and its run is dispatched.
Nothing acts here: a flow run does.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import uuid
from dataclasses import dataclass

from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.responses import SetStateStatus

from flows.runtime import answers
from flows.settings import Settings
from flows.store import IncidentStatus, IncidentView, Store
from flows.tenants import ANALYST_NAME, analyst_key_path, tenants_from

from ._dispatch import PrefectDispatcher

VERDICTS = ("malicious", "benign", "escalate")


class DecisionError(Exception):
    """A decision that cannot be taken, said in one line; ``status`` is the HTTP status that says it."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Applied:
    said: str
    flow_run_id: str
    url: str


def analyst_key(settings: Settings, name: str) -> str:
    """The key of analyst ``name`` of the configuration, from its owner-only file."""
    analysts = tenants_from(settings.tenants_file).analysts
    if not ANALYST_NAME.fullmatch(name) or name not in analysts:
        raise DecisionError(
            f"unknown analyst {name!r}: not in the analysts: list of {settings.tenants_file}", 403
        )
    path = analyst_key_path(settings.secrets_dir, name)
    try:
        info = path.stat()
        expected = path.read_text(encoding="utf-8").strip()
    except OSError:
        raise DecisionError(f"analyst {name} has no key at {path}: `garrison up` generates it", 403) from None
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise DecisionError(f"refused: {path} must be owner-only (chmod 600)", 403)
    if not expected:
        raise DecisionError(f"analyst {name}'s key file {path} is empty", 403)
    return expected


def check_analyst(settings: Settings, name: str, given: str) -> None:
    """``given`` is analyst ``name``'s key; ``DecisionError`` (403) otherwise."""
    expected = analyst_key(settings, name)
    if not hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8")):
        raise DecisionError(f"refused: the key given is not analyst {name}'s", 403)


def apply_decision(
    settings: Settings, store: Store, incident: IncidentView, verdict: str, analyst: str, comment: str
) -> Applied:
    """Take an authenticated analyst's decision on a waiting incident (see the module docstring)."""
    if verdict not in VERDICTS:
        raise DecisionError(f"invalid verdict {verdict!r}: choose malicious, benign or escalate", 422)
    if incident.status != IncidentStatus.AWAITING_APPROVAL:
        raise DecisionError(
            f"incident {incident.id[:8]} is not waiting for a decision (status {incident.status})"
        )
    decision = {"verdict": verdict, "analyst": analyst, "comment": comment}
    runs = asyncio.run(read_runs(settings, [incident.flow_run_id] if incident.flow_run_id else []))
    run = runs.get(incident.flow_run_id or "")
    if run is not None and is_paused(run):  # the tenant pauses runs: that run goes on from the decision
        run_id = str(run.id)
        asyncio.run(_resume(settings, run_id, decision))
        url = run_url(settings, run_id)
        return Applied(
            f"decision {verdict} by {analyst} sent: incident {incident.id[:8]} goes on in run {url}",
            run_id,
            url,
        )
    # A run Prefect reports over (crashed while paused: its runner died) holds nothing back.
    run_over = run is not None and run.state is not None and run.state.is_final()
    try:  # no run waits: the decision starts the next response round (escalate: it keeps waiting)
        said = store.decide_waiting(incident.id, verdict, analyst, comment, run_over=run_over)
    except ValueError as error:
        raise DecisionError(str(error)) from None
    run_id = dispatch_round(settings, store, incident.id) if verdict != "escalate" else ""
    return Applied(said, run_id, run_url(settings, run_id) if run_id else "")


def start_approved(
    settings: Settings, store: Store, incident_id: str, action_hash: str, target: str, analyst: str
) -> tuple[str, str]:
    """An action's approvals are complete (``garrison approve``, an approval link): start the round whose
    run does it and dispatch that run. Returns what happened, one line, and the run's id ("" when none
    started: the incident does not wait, or Prefect does not answer and the sweeper starts it)."""
    try:
        said = store.ledger.start_approved_round(incident_id, action_hash, target, analyst)
    except ValueError as error:
        return str(error), ""
    return said, dispatch_round(settings, store, incident_id)


def dispatch_round(settings: Settings, store: Store, incident_id: str) -> str:
    """Start the decided round's run now if Prefect answers (else `garrison up`'s sweeper starts it)."""
    if not answers(f"{settings.prefect_api_url}/health"):
        return ""
    dispatcher = PrefectDispatcher(
        store, api_url=settings.prefect_api_url, auth_string=settings.prefect_auth_string()
    )
    return asyncio.run(dispatcher.dispatch(incident_id)) or ""


def _client(settings: Settings) -> PrefectClient:
    # Garrison's own console, by its settings, with the basic-auth string `garrison up` generated.
    return PrefectClient(settings.prefect_api_url, auth_string=settings.prefect_auth_string())


async def read_runs(settings: Settings, ids: list[str]) -> dict[str, FlowRun]:
    """The flow runs of these ids, read from the Prefect API; none when it does not answer (with Garrison
    down no run can be paused: its worker is gone too, and the store alone says what waits)."""
    if not ids or not answers(f"{settings.prefect_api_url}/health"):
        return {}
    try:
        async with _client(settings) as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(i) for i in ids]))
            )
    except Exception as error:  # noqa: BLE001 - one line: the console is down or refuses us
        raise DecisionError(
            f"cannot read flow runs from the Prefect API at {settings.prefect_api_url}: {error}", 503
        ) from None
    return {str(run.id): run for run in runs}


def is_paused(run: FlowRun) -> bool:
    return run.state is not None and run.state.is_paused()


def run_url(settings: Settings, run_id: str) -> str:
    return f"{settings.prefect_ui_url}/runs/flow-run/{run_id}"


async def _resume(settings: Settings, run_id: str, decision: dict[str, str]) -> None:
    try:
        async with _client(settings) as client:
            answer = await client.resume_flow_run(uuid.UUID(run_id), run_input=decision)
    except Exception as error:  # noqa: BLE001 - one line
        raise DecisionError(
            f"cannot resume flow run {run_id} through {settings.prefect_api_url}: {error}", 503
        ) from None
    if answer.status is SetStateStatus.ACCEPT:
        return
    reason = getattr(answer.details, "reason", "") or answer.status.value
    if answer.status is SetStateStatus.ABORT:
        raise DecisionError(f"flow run {run_id} is not paused any more: {reason}")
    raise DecisionError(f"Prefect refused the decision for flow run {run_id}: {reason}")
