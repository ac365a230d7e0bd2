"""``crowdstrike_rtr`` actions with RTR's own commands: processes (``ps`` / ``kill``). The pid is a number
and the image name is only compared with what ``ps`` prints, never sent."""

from __future__ import annotations

from .._capabilities import Capability
from .._context import ActionContext
from .._errors import PermanentError, TargetNotFound
from .._result import ActionResult, TargetState
from .._vendor import succeeded
from ._rtr_common import check, pending_change, rtr_action, state
from ._rtr_inputs import ProcessInput
from ._rtr_output import processes, same_image
from ._rtr_session import HostSession, RtrClient

# -- processes -----------------------------------------------------------------------------------------


async def _running(host: HostSession, inputs: ProcessInput) -> bool:
    """Whether the pid runs the expected image; a pid now held by another image is refused."""
    table = processes((await host.run("ps", "ps")).stdout)
    running = table.running.get(inputs.pid)
    if running is None and table.unreadable:
        # Never read "not found" out of a table we could not read whole: that would skip a kill.
        raise PermanentError(
            f"ps on {inputs.hostname} printed {table.unreadable} rows Garrison cannot read: "
            f"cannot tell whether pid {inputs.pid} runs"
        )
    if running is None:
        return False
    if not same_image(running.name, inputs.name):
        raise TargetNotFound(
            f"pid {inputs.pid} on {inputs.hostname} is {running.name!r}, not {inputs.name!r} "
            "(the pid was reused): refusing to act"
        )
    return True


async def read_process_killed(inputs: ProcessInput, ctx: ActionContext) -> TargetState:
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        try:
            alive = await _running(host, inputs)
        except TargetNotFound:
            alive = False  # the process we meant is gone; another one holds its pid
    return state(not alive, "process is not running", "process is running", host.device_id, running=alive)


@rtr_action(Capability.KILL_PROCESS, ProcessInput, read_process_killed)
async def kill_process(inputs: ProcessInput, ctx: ActionContext) -> ActionResult:
    """End a process over RTR (``kill <pid>``) once ``ps`` shows the pid still runs the expected image.

    No inverse: a killed process cannot be brought back. A pid that now runs another image is refused
    (TargetNotFound); one that no longer runs is success without a change.
    """
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        if not await _running(host, inputs):
            return succeeded("process was not running", changed=False, vendor_ref=host.device_id)
        outcome = await host.run("kill", f"kill {inputs.pid}", changes=True)
    if not outcome.complete:
        return pending_change("kill", outcome.cloud_request_id)
    check(outcome, f"kill {inputs.pid}", inputs.hostname)
    return succeeded(f"process {inputs.name} ({inputs.pid}) killed", vendor_ref=outcome.cloud_request_id)
