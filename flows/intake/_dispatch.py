"""Start one ``respond`` flow run per incident, and the sweeper that sees every incident handled.

The alert and its incident are committed before anything here runs, so a failed trigger loses nothing.
Every few seconds the intake's sweeper (``PrefectDispatcher.sweep``):

- starts a run for incidents that have none (Prefect was down, the trigger failed, a new round began);
- reads the state of every open incident's run from Prefect and recovers the ones that will never finish
  it: a run that crashed or failed, a run that never took its incident (stuck PENDING beyond
  ``pending_bound``, SCHEDULED beyond ``scheduled_bound``, gone, or ended without claiming it). Once per
  response round it is retried: the same run again (Prefect's *Retry*) when it had claimed the incident,
  a new run otherwise. After that, or when an analyst cancelled the run, the incident goes to
  ``awaiting_approval`` and the analysts get an ``escalation``: nobody's incident stays ``new`` for good.

Runs are created with an idempotency key per incident and round, so an intake killed between creating a
run and recording it finds the same run again instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.settings import get_current_settings
from prefect.states import AwaitingRetry, Cancelled

from flows.store import IncidentStatus, Store

DEPLOYMENT = "respond/respond"
PENDING_BOUND_SECONDS = 120.0
SCHEDULED_BOUND_SECONDS = 900.0
RETRIES_PER_ROUND = 1
RECOVERY_STEP = "recover"
_UNCLAIMED = (IncidentStatus.NEW, IncidentStatus.REOPENED)
_IN_FLIGHT = (*_UNCLAIMED, IncidentStatus.TRIAGING, IncidentStatus.RESPONDING)
_FINAL = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)
_log = logging.getLogger("garrison.dispatch")


class Dispatcher(Protocol):
    async def dispatch(self, incident_id: str) -> str | None:
        """Start the incident's flow run; return its id, or None when it could not be started."""
        ...


@dataclass(frozen=True)
class InFlight:
    """An open incident whose response run should be at work (as read from the store)."""

    id: str
    status: str
    flow_run_id: str | None
    round: int


class PrefectDispatcher:
    """Creates flow runs of the ``respond/respond`` deployment through the Prefect API.

    ``api_url`` and ``auth_string`` default to Prefect's own settings (``PREFECT_API_URL``,
    ``PREFECT_API_AUTH_STRING``), which ``garrison up`` gives the intake; a CLI passes Garrison's:
    ``PrefectDispatcher(store, api_url=s.prefect_api_url, auth_string=s.prefect_auth_string())``.
    """

    def __init__(
        self,
        store: Store,
        deployment: str = DEPLOYMENT,
        *,
        api_url: str | None = None,
        auth_string: str | None = None,
        pending_bound: float = PENDING_BOUND_SECONDS,
        scheduled_bound: float = SCHEDULED_BOUND_SECONDS,
    ) -> None:
        self.store = store
        self.deployment = deployment
        self.api_url = api_url
        self.auth_string = auth_string
        self.pending_bound = pending_bound
        self.scheduled_bound = scheduled_bound
        self._in_flight: set[str] = set()
        self._deployment_id: uuid.UUID | None = None

    def _configured(self) -> bool:
        return bool(self.api_url or get_current_settings().api.url)

    def _client(self) -> PrefectClient:
        if self.api_url:
            return PrefectClient(self.api_url, auth_string=self.auth_string)
        return get_client()

    async def dispatch(self, incident_id: str) -> str | None:
        if not self._configured():
            # Without a Prefect server (garrison ingest offline, tests) the client would start a throwaway
            # one per call; the incident stays 'new' and the runtime's sweeper starts it later.
            _log.debug("no Prefect API configured: incident %s waits for the sweeper", incident_id)
            return None
        if incident_id in self._in_flight:
            return None
        self._in_flight.add(incident_id)
        try:
            seen = await asyncio.to_thread(_current, self.store, incident_id)
            if seen is None:
                return None
            async with self._client() as client:
                run_id = await self._create_run(client, incident_id, f"{incident_id}:{seen.round}")
            await asyncio.to_thread(self.store.set_flow_run, incident_id, run_id)
            return run_id
        except Exception as error:  # noqa: BLE001 - the sweeper retries; the alert is already stored
            _log.warning("could not start a respond run for incident %s: %s", incident_id, error)
            self._deployment_id = None
            return None
        finally:
            self._in_flight.discard(incident_id)

    async def sweep(self, older_than_seconds: float = 10.0) -> int:
        """Dispatch incidents that never got a flow run, then recover runs that will never handle theirs;
        returns how many incidents were started or recovered."""
        pending = await asyncio.to_thread(self.store.undispatched, older_than_seconds)
        started = 0
        for incident_id in pending:
            if await self.dispatch(incident_id):
                started += 1
        return started + await self.recover()

    async def recover(self, limit: int = 200) -> int:
        """Retry or escalate the open incidents whose run crashed, failed, or never started."""
        if not self._configured():
            return 0
        incidents = [
            seen
            for seen in await asyncio.to_thread(_in_flight, self.store, limit)
            if seen.flow_run_id and _is_uuid(seen.flow_run_id)
        ]
        if not incidents:
            return 0
        recovered = 0
        async with self._client() as client:
            ids = [uuid.UUID(seen.flow_run_id) for seen in incidents if seen.flow_run_id]
            found = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids)
            )
            runs = {str(run.id): run for run in found}
            now = datetime.now(UTC)
            for seen in incidents:
                run = runs.get(seen.flow_run_id or "")
                problem = self.problem(seen, run, now)
                if problem is None:
                    continue
                # The run is final or stuck; act only if the incident did not move while we looked.
                if await asyncio.to_thread(_current, self.store, seen.id) != seen:
                    continue
                try:
                    await self._recover(client, seen, run, problem)
                    recovered += 1
                except Exception as error:  # noqa: BLE001 - one incident must not stop the others
                    _log.warning("could not recover incident %s (%s): %s", seen.id, problem, error)
        return recovered

    def problem(self, seen: InFlight, run: FlowRun | None, now: datetime) -> str | None:
        """Why ``run`` will never handle ``seen`` (None while it still may)."""
        if run is None:
            return "its flow run no longer exists"
        state = run.state
        if state is None:
            return None
        name = f"{state.type.value.lower()}" + (f" ({state.message[:200]})" if state.message else "")
        if state.type in (StateType.CRASHED, StateType.FAILED, StateType.CANCELLED):
            return f"its flow run {run.id} {name}"
        if state.type is StateType.COMPLETED:
            return f"its flow run {run.id} completed but left the incident {seen.status}"
        if seen.status not in _UNCLAIMED:
            return None  # running, paused or retrying: a run that took its incident is not second-guessed
        if state.type is StateType.PENDING:
            waited = (now - state.timestamp).total_seconds()
            if waited > self.pending_bound:
                return f"its flow run {run.id} has been pending for {waited:.0f} s"
        if state.type is StateType.SCHEDULED:
            due = state.state_details.scheduled_time or run.expected_start_time or state.timestamp
            waited = (now - due).total_seconds()
            if waited > self.scheduled_bound:
                return f"its flow run {run.id} has been scheduled for {waited:.0f} s without starting"
        return None

    async def _recover(
        self, client: PrefectClient, seen: InFlight, run: FlowRun | None, problem: str
    ) -> None:
        view = await asyncio.to_thread(self.store.incident, seen.id)
        retries = sum(
            1
            for entry in (view.timeline if view else [])
            if entry.step == RECOVERY_STEP
            and entry.data.get("round") == seen.round
            and entry.data.get("action") == "retry"
        )
        state = run.state.type if run is not None and run.state is not None else None
        unclaimed = seen.status in _UNCLAIMED
        # Only a run that can still do the job is retried: not one an analyst cancelled, nor a claimed
        # incident whose run is gone or finished (a new run could not take it over).
        retriable = state is not StateType.CANCELLED and (
            unclaimed or state in (StateType.CRASHED, StateType.FAILED)
        )
        if retries >= RETRIES_PER_ROUND or not retriable:
            await self._escalate(seen, problem, retries)
            return
        data: dict[str, Any] = {"round": seen.round, "action": "retry", "problem": problem}
        if unclaimed:
            if run is not None and state not in _FINAL:
                # Stuck: cancel it first so it can never start (and claim) beside its replacement; if it
                # claimed the incident meanwhile, leave the decision to the next sweep.
                await client.set_flow_run_state(
                    run.id, Cancelled(message="stuck; garrison replaces it with a new run"), force=True
                )
                if await asyncio.to_thread(_current, self.store, seen.id) != seen:
                    return
            new_id = await self._create_run(client, seen.id, f"{seen.id}:{seen.round}:retry{retries + 1}")
            await asyncio.to_thread(self.store.set_flow_run, seen.id, new_id)
            message = f"respond run recovered: {problem}; started flow run {new_id}"
            data.update(flow_run_id=new_id, replaced=seen.flow_run_id)
        else:
            assert run is not None
            await client.set_flow_run_state(
                run.id,
                AwaitingRetry(scheduled_time=datetime.now(UTC), message=f"garrison retries it: {problem}"),
                force=True,
            )
            message = f"respond run recovered: {problem}; retrying it"
            data.update(flow_run_id=seen.flow_run_id)
        _log.warning("incident %s: %s", seen.id, message)
        await asyncio.to_thread(self.store.add_timeline, seen.id, RECOVERY_STEP, message, data)

    async def _escalate(self, seen: InFlight, problem: str, retries: int) -> None:
        from flows.notify import EventDetails, notify_event

        reason = f"respond run could not finish: {problem}" + (
            f" (after {retries} retr{'y' if retries == 1 else 'ies'})" if retries else ""
        )
        _log.warning("incident %s: %s; escalated to the analysts", seen.id, reason)
        await asyncio.to_thread(
            self.store.set_status,
            seen.id,
            IncidentStatus.AWAITING_APPROVAL,
            f"escalated to an analyst: {reason}",
            RECOVERY_STEP,
        )
        try:
            await asyncio.to_thread(
                notify_event, "escalation", seen.id, details=EventDetails(reason=reason), store=self.store
            )
        except Exception as error:  # noqa: BLE001 - the incident already waits for a person
            _log.warning("escalation notice for incident %s failed: %s", seen.id, error)

    async def _create_run(self, client: PrefectClient, incident_id: str, key: str) -> str:
        if self._deployment_id is None:
            deployment = await client.read_deployment_by_name(self.deployment)
            self._deployment_id = deployment.id
        run = await client.create_flow_run_from_deployment(
            self._deployment_id,
            parameters={"request": {"incident_id": incident_id}},
            tags=["garrison", "respond"],
            idempotency_key=f"garrison-respond:{key}",
        )
        return str(run.id)


def _in_flight(store: Store, limit: int) -> list[InFlight]:
    # The oldest open incidents first, at most ``limit`` of them read in full per sweep.
    summaries = sorted(
        (summary for status in _IN_FLIGHT for summary in store.incidents(status=status, limit=10_000)),
        key=lambda summary: summary.created_at,
    )
    found = []
    for summary in summaries[:limit]:
        seen = _current(store, summary.id)
        if seen is not None and seen.flow_run_id:
            found.append(seen)
    return found


def _current(store: Store, incident_id: str) -> InFlight | None:
    view = store.incident(incident_id)
    return InFlight(view.id, str(view.status), view.flow_run_id, view.round or 1) if view else None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
