"""One live response action from start to result: run a library script on the host, follow it, and turn
what it printed into an ``ActionResult`` (changing) or the facts a ``read_state`` judges (reading)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._context import ActionContext
from .._errors import PermanentError, TargetNotFound, TransientError
from .._result import ActionResult, ActionStatus, Effect, TargetState
from .._vendor import pending, succeeded
from ._mde_api import RUNNING, VENDOR, Followed, MdeResponse, failure_reason, one_line, same_script
from ._mde_args import script_args

Params = list[tuple[str, str | int | bool]]


async def run(ctx: ActionContext, hostname: str, script: str, params: Params) -> tuple[Followed, Any]:
    """Run ``script`` on the host: the followed machine action and, once it succeeded, what it printed."""
    args = script_args(params)  # refuses before any call
    async with MdeResponse(ctx) as mde:
        ran = await mde.run_script(await mde.machine_id(hostname), script, args)
        if ran.status != "Succeeded":
            return ran, None
        return ran, await mde.script_output(ran.ref, script)


def outcome(
    ran: Followed, output: Any, did: str, already: str, undo: Callable[[dict[str, Any]], dict[str, Any]]
) -> ActionResult:
    """The result of a changing run: ``did`` or ``already`` (unchanged), with ``undo`` of what it printed."""
    if ran.status in RUNNING:
        return pending(f"live response queued on the machine; still {ran.status}", vendor_ref=ran.ref)
    if output is None:
        detail = f"live response {ran.status}: {failure_reason(ran.record)}"
        return ActionResult(status=ActionStatus.FAILED, detail=detail, vendor_ref=ran.ref)
    status, reason = output["status"], one_line(output.get("reason", ""))
    if status == "changed":
        return succeeded(did, vendor_ref=ran.ref, undo=undo(output))
    if status == "unchanged":
        return succeeded(already, changed=False, vendor_ref=ran.ref)
    if status == "not_found":
        raise TargetNotFound(f"{VENDOR}: {reason}")
    if status == "refused":
        raise PermanentError(f"{VENDOR}: {reason}")
    return ActionResult(status=ActionStatus.FAILED, detail=f"script failed: {reason}", vendor_ref=ran.ref)


async def observe(
    ctx: ActionContext, hostname: str, script: str, read: Params, change: Params
) -> TargetState | dict[str, Any]:
    """IN_PROGRESS while the change (``change``: its parameters) is still queued or running on the machine;
    otherwise what a read-only run of ``script`` prints. Nothing on the host is changed."""
    reading, changing = script_args(read), script_args(change)
    async with MdeResponse(ctx) as mde:
        machine_id = await mde.machine_id(hostname)
        running = await mde.running(machine_id, same_script(script, changing))
        if running is not None:
            return TargetState(
                effect=Effect.IN_PROGRESS,
                detail=f"live response {running.get('status')}",
                vendor_ref=str(running.get("id")),
            )
        ran = await mde.run_script(machine_id, script, reading)
        if ran.status in RUNNING:
            raise TransientError(f"{VENDOR}: the machine has not run {script} yet (offline?)")
        if ran.status != "Succeeded":
            why = failure_reason(ran.record)
            raise PermanentError(f"{VENDOR}: reading with {script} {ran.status}: {why}")
        output = await mde.script_output(ran.ref, script)
    reason = one_line(output.get("reason", ""))
    if output["status"] == "not_found":
        raise TargetNotFound(f"{VENDOR}: {reason}")
    if output["status"] != "read":
        raise PermanentError(f"{VENDOR}: {script} could not read: {reason}")
    return output


def state(applied: bool, yes: str, no: str, **observed: Any) -> TargetState:
    return TargetState(
        effect=Effect.APPLIED if applied else Effect.ABSENT, detail=yes if applied else no, observed=observed
    )
