"""What every ``crowdstrike_rtr`` action shares: how it registers, how it reads a fixed script's answer and
reports a state, a change still running, or a command that failed on the host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from .._capabilities import Capability
from .._errors import PermanentError
from .._registry import ActionFn, StateFn, action
from .._result import ActionResult, Effect, TargetState
from .._vendor import pending
from ._rtr_output import script_json
from ._rtr_scripts import Script
from ._rtr_session import SECRETS, VENDOR, HostSession, Outcome

DOC = "https://www.falconpy.io/Service-Collections/Real-Time-Response-Admin.html#rtr_executeadmincommand"


# What each capability sends, for plans: the RTR command, or the fixed script it runs.
_CALLS = {
    Capability.DELETE_REGISTRY_VALUE: "reg delete {key} {name}",
    Capability.RESTORE_REGISTRY_VALUE: "runscript -CloudFile=garrison_registry_value (set {key} {name})",
    Capability.KILL_PROCESS: "kill {pid} ({name})",
    Capability.DELETE_SCHEDULED_TASK: "runscript -CloudFile=garrison_scheduled_task (delete {name})",
    Capability.RESTORE_SCHEDULED_TASK: "runscript -CloudFile=garrison_scheduled_task (restore {name})",
    Capability.DISABLE_SERVICE: "runscript -CloudFile=garrison_service (disable {name})",
    Capability.ENABLE_SERVICE: "runscript -CloudFile=garrison_service (enable {name})",
    Capability.QUARANTINE_FILE: "runscript -CloudFile=garrison_quarantine_file (quarantine {path})",
    Capability.RESTORE_FILE: "runscript -CloudFile=garrison_quarantine_file (restore {path})",
}


def rtr_action(
    capability: Capability, inputs: type[BaseModel], read: StateFn
) -> Callable[[ActionFn], ActionFn]:
    """Register ``crowdstrike_rtr.<capability>``, undone by its inverse's action; every one reads the host
    before it changes anything, so each is idempotent."""
    command = _CALLS[capability]
    return action(
        key=f"{VENDOR}.{capability}",
        inputs=inputs,
        capability=capability,
        secrets=SECRETS,
        inverse=f"{VENDOR}.{capability.inverse}" if capability.inverse else None,
        doc_url=DOC,
        read_state=read,
        idempotent=True,
        call=f"POST /real-time-response/entities/admin-command/v1 on {{hostname}}: {command}",
        read_sends=True,  # the read opens an RTR session and runs a command or script on the host
    )


def state(applied: bool, yes: str, no: str, ref: str, **observed: Any) -> TargetState:
    return TargetState(
        effect=Effect.APPLIED if applied else Effect.ABSENT,
        detail=yes if applied else no,
        vendor_ref=ref,
        observed=observed,
    )


async def run_script(host: HostSession, script: Script, *args: str, changes: bool = False) -> dict[str, Any]:
    """The script's JSON answer and the command's ``cloud_request_id``; ``complete`` False when a change
    was still running when polling stopped."""
    outcome = await host.run("runscript", script.call(*args), changes=changes)
    if not outcome.complete:
        return {"complete": False, "cloud_request_id": outcome.cloud_request_id}
    answer = script_json(script.name, outcome.stdout, outcome.stderr)
    return {**answer, "cloud_request_id": outcome.cloud_request_id}


def check(outcome: Outcome, command: str, hostname: str) -> None:
    """A command that printed an error on the host failed; its text is the host's, cut to one line."""
    if outcome.stderr.strip():
        text = " ".join(outcome.stderr.split())[:200]
        raise PermanentError(f"{VENDOR}: {command} failed on {hostname}: {text}")


def pending_change(command: str, request_id: str, undo: dict[str, Any] | None = None) -> ActionResult:
    # Sent, not seen to complete: reconcile with read_state, never by sending the change again.
    result = pending(f"{command} sent; not complete when polling stopped", vendor_ref=request_id)
    return result.model_copy(update={"undo": undo}) if undo else result
