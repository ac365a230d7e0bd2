"""The human gate inside the respond run: pause it until an analyst decides, or until the decision times out.

The run is paused the way Prefect's ``pause_flow_run(wait_for_input=AnalystDecision, …)`` does it (a Paused
state with a run-input keyset, the input's schema saved so the Prefect UI renders the form, and a loop that
polls the run's state), with one difference: Prefect's own timeout leaves the run Paused past its deadline,
and a run past that deadline can only end Failed (Prefect 3.8.8's orchestration rejects any other state, see
DESIGN §4). Here the server-side deadline is set a margin *after* the decision timeout, and at the timeout
the run resumes itself while it still may: a timed-out decision ends the run Completed, never crashed.

Whoever changes the state first wins: an analyst who resumes the run in the same second as the timeout is
seen (their input is read after the run resumed itself), and a ``garrison decide`` after the run resumed
itself is told the run is no longer paused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from prefect import get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectNotFound
from prefect.input import RunInput, keyset_from_paused_state
from prefect.states import Paused, Running
from pydantic import ConfigDict, Field, ValidationError

# The server keeps the pause open this much longer than Garrison waits, so the run can still resume itself.
_DEADLINE_MARGIN_SECONDS = 300


class AnalystDecision(RunInput):
    """An analyst's decision on a gray incident (the Prefect UI renders this as the resume form)."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["malicious", "benign", "escalate"] = Field(
        description="malicious: contain it as the playbook says; benign: close it; escalate: next tier."
    )
    analyst: str = Field(
        min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$", description="Who decides."
    )
    comment: str = Field(
        default="", max_length=2000, description="Why (goes to the timeline and the report)."
    )


@dataclass(frozen=True)
class GateResult:
    """What came of a pause: the decision, or None when it timed out; how long the run waited."""

    decision: AnalystDecision | None
    waited_seconds: float


def wait_for_decision(key: str, timeout_seconds: float, poll_seconds: float) -> GateResult:
    """Pause the current flow run until an analyst decides or ``timeout_seconds`` pass."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("only a flow run can wait for a decision")
    run_id = context.flow_run.id
    logger = get_run_logger()
    proposed: State[Any] = Paused(
        timeout_seconds=int(timeout_seconds) + _DEADLINE_MARGIN_SECONDS, pause_key=key
    )
    keyset = keyset_from_paused_state(proposed)
    proposed.state_details.run_input_keyset = {str(name): value for name, value in keyset.items()}
    started = time.monotonic()
    with get_client(sync_client=True) as client:
        answer = client.set_flow_run_state(run_id, proposed)
        if answer.state is None or not answer.state.is_paused():
            raise RuntimeError(f"flow run {run_id} could not pause: {answer.details}")
        AnalystDecision.save(keyset, flow_run_id=run_id)  # the schema: the UI's form, the API's check
        logger.info("waiting for an analyst's decision (at most %.0f s)", timeout_seconds)
        while True:
            time.sleep(min(poll_seconds, max(0.0, timeout_seconds - (time.monotonic() - started))) or 0.05)
            state = client.read_flow_run(run_id).state
            if state is not None and not state.is_paused():
                if not state.is_running():  # cancelled by someone: nothing more to do in this run
                    raise RuntimeError(f"flow run {run_id} left its pause as {state.type.value}")
                break  # resumed by an analyst
            if time.monotonic() - started >= timeout_seconds:
                # Resume ourselves before the server's deadline; a decision that came first still counts.
                client.set_flow_run_state(run_id, Running())
                state = client.read_flow_run(run_id).state
                if state is None or not state.is_running():
                    raise RuntimeError(f"flow run {run_id} could not leave its pause: {state}")
                break
        waited = time.monotonic() - started
        decision = _read_decision(client, run_id, keyset["response"])
    if decision is None:
        logger.warning("no decision within %.0f s", timeout_seconds)
    return GateResult(decision=decision, waited_seconds=waited)


def _read_decision(client: SyncPrefectClient, run_id: UUID, key: str) -> AnalystDecision | None:
    try:
        raw = client.read_flow_run_input(flow_run_id=run_id, key=key)
    except ObjectNotFound:
        return None
    except Exception as error:  # noqa: BLE001 - a 404 comes as an HTTP status error in 3.8.8
        if getattr(getattr(error, "response", None), "status_code", None) == 404:
            return None
        raise
    try:
        return AnalystDecision.model_validate_json(raw)
    except ValidationError:
        # The API validated it against the same schema; anything else is not a decision: treat as none.
        get_run_logger().error("the run input is not a valid decision; treated as no decision")
        return None
