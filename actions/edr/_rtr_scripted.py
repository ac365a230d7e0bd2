"""``crowdstrike_rtr`` actions through fixed scripts (``runscript -CloudFile=…``, see ``_rtr_scripts``):
scheduled tasks, services and files. Each captures what its inverse needs into ``undo``."""

from __future__ import annotations

from typing import Any

from .._capabilities import Capability
from .._context import ActionContext
from .._errors import PermanentError, TargetNotFound
from .._result import ActionResult, TargetState
from .._vendor import succeeded
from ._rtr_common import pending_change, rtr_action, run_script, state
from ._rtr_inputs import (
    EnableServiceInput,
    FileInput,
    RestoreFileInput,
    RestoreTaskInput,
    ServiceInput,
    TaskInput,
)
from ._rtr_scripts import FILE, SERVICE, TASK, b64
from ._rtr_session import VENDOR, RtrClient

_START = {"auto": "Automatic", "manual": "Manual"}
_FROM_START = {"Automatic": "auto", "Manual": "manual", "Disabled": "disabled"}

# -- scheduled tasks -----------------------------------------------------------------------------------


async def _task(inputs: TaskInput, ctx: ActionContext) -> tuple[bool, str]:
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        answer = await run_script(host, TASK, "query", inputs.name, "")
    return answer.get("present") is True, host.device_id


async def read_task_deleted(inputs: TaskInput, ctx: ActionContext) -> TargetState:
    present, ref = await _task(inputs, ctx)
    return state(not present, "task is absent", "task is present", ref, present=present)


async def read_task_restored(inputs: RestoreTaskInput, ctx: ActionContext) -> TargetState:
    present, ref = await _task(inputs, ctx)
    return state(present, "task is present", "task is absent", ref, present=present)


@rtr_action(Capability.DELETE_SCHEDULED_TASK, TaskInput, read_task_deleted)
async def delete_scheduled_task(inputs: TaskInput, ctx: ActionContext) -> ActionResult:
    """Delete a scheduled task over RTR (fixed script ``garrison_scheduled_task``), capturing its XML."""
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        answer = await run_script(host, TASK, "delete", inputs.name, "", changes=True)
    if answer.get("complete") is False:
        return pending_change(TASK.name, answer["cloud_request_id"])
    if answer.get("changed") is not True:
        return succeeded("task was already absent", changed=False, vendor_ref=host.device_id)
    xml = answer.get("xml")
    if not isinstance(xml, str) or not xml:
        raise PermanentError(f"{VENDOR}: {TASK.name} deleted {inputs.name} without printing its XML")
    undo = {"hostname": inputs.hostname, "name": inputs.name, "xml": xml}
    return succeeded("scheduled task deleted", vendor_ref=answer["cloud_request_id"], undo=undo)


@rtr_action(Capability.RESTORE_SCHEDULED_TASK, RestoreTaskInput, read_task_restored)
async def restore_scheduled_task(inputs: RestoreTaskInput, ctx: ActionContext) -> ActionResult:
    """Register a deleted scheduled task again from its captured XML (fixed script, XML in base64)."""
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        answer = await run_script(host, TASK, "restore", inputs.name, b64(inputs.xml), changes=True)
    if answer.get("complete") is False:
        return pending_change(TASK.name, answer["cloud_request_id"])
    if answer.get("changed") is not True:
        return succeeded("task was already in place", changed=False, vendor_ref=host.device_id)
    return succeeded("scheduled task restored", vendor_ref=answer["cloud_request_id"])


# -- services ------------------------------------------------------------------------------------------


async def _start_type(inputs: ServiceInput, ctx: ActionContext) -> tuple[str, str]:
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        answer = await run_script(host, SERVICE, "query", inputs.name, "")
    return _service(answer, inputs), host.device_id


def _service(answer: dict[str, Any], inputs: ServiceInput) -> str:
    if answer.get("present") is not True:
        raise TargetNotFound(f"no service named {inputs.name!r} on {inputs.hostname}")
    return str(answer.get("start_type", ""))


async def read_service_disabled(inputs: ServiceInput, ctx: ActionContext) -> TargetState:
    start, ref = await _start_type(inputs, ctx)
    return state(
        start == "Disabled", f"service start type {start}", f"service start type {start}", ref, start=start
    )


async def read_service_enabled(inputs: EnableServiceInput, ctx: ActionContext) -> TargetState:
    start, ref = await _start_type(inputs, ctx)
    want = _START[inputs.start_type]
    return state(
        start == want, f"service start type {start}", f"service start type {start}", ref, start=start
    )


async def _set_start(inputs: ServiceInput, ctx: ActionContext, start: str) -> tuple[dict[str, Any], str]:
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        before = _service(await run_script(host, SERVICE, "query", inputs.name, ""), inputs)
        if before in ("Boot", "System"):
            raise PermanentError(
                f"{inputs.name} on {inputs.hostname} is a driver started at {before}: change it by hand"
            )
        if before == start:
            return {"changed": False, "start_type": before}, host.device_id
        return await run_script(host, SERVICE, "set", inputs.name, start, changes=True), host.device_id


@rtr_action(Capability.DISABLE_SERVICE, ServiceInput, read_service_disabled)
async def disable_service(inputs: ServiceInput, ctx: ActionContext) -> ActionResult:
    """Set a service's start type to Disabled over RTR (fixed script ``garrison_service``), capturing the
    previous start type; a running service is left running (``kill_process`` ends it)."""
    answer, ref = await _set_start(inputs, ctx, "Disabled")
    if answer.get("complete") is False:
        return pending_change(SERVICE.name, answer["cloud_request_id"])
    if answer.get("changed") is not True:
        return succeeded("service was already disabled", changed=False, vendor_ref=ref)
    previous = _FROM_START.get(str(answer.get("start_type")), "auto")
    undo = {"hostname": inputs.hostname, "name": inputs.name, "start_type": previous}
    return succeeded("service disabled", vendor_ref=answer["cloud_request_id"], undo=undo)


@rtr_action(Capability.ENABLE_SERVICE, EnableServiceInput, read_service_enabled)
async def enable_service(inputs: EnableServiceInput, ctx: ActionContext) -> ActionResult:
    """Give a disabled service its captured start type back over RTR (fixed script ``garrison_service``)."""
    answer, ref = await _set_start(inputs, ctx, _START[inputs.start_type])
    if answer.get("complete") is False:
        return pending_change(SERVICE.name, answer["cloud_request_id"])
    if answer.get("changed") is not True:
        return succeeded(f"service already starts {inputs.start_type}", changed=False, vendor_ref=ref)
    return succeeded("service enabled", vendor_ref=answer["cloud_request_id"])


# -- files ---------------------------------------------------------------------------------------------


async def _file(inputs: FileInput, ctx: ActionContext) -> tuple[dict[str, Any], str]:
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        return await run_script(host, FILE, "query", inputs.path, ""), host.device_id


async def read_file_quarantined(inputs: FileInput, ctx: ActionContext) -> TargetState:
    answer, ref = await _file(inputs, ctx)
    held = answer.get("quarantined") is True and answer.get("present") is not True
    return state(held, "file is quarantined", "file is not quarantined", ref, **_seen(answer))


async def read_file_restored(inputs: RestoreFileInput, ctx: ActionContext) -> TargetState:
    answer, ref = await _file(inputs, ctx)
    back = answer.get("present") is True
    return state(back, "file is in place", "file is quarantined or absent", ref, **_seen(answer))


def _seen(answer: dict[str, Any]) -> dict[str, Any]:
    return {"present": answer.get("present") is True, "quarantined": answer.get("quarantined") is True}


@rtr_action(Capability.QUARANTINE_FILE, FileInput, read_file_quarantined)
async def quarantine_file(inputs: FileInput, ctx: ActionContext) -> ActionResult:
    """Move a file into Garrison's quarantine folder on the host over RTR (fixed script).

    Falcon has no per-path quarantine over RTR (and ``get`` only uploads a copy), so this moves the file
    to %ProgramData%\\Garrison\\Quarantine, a folder only SYSTEM and Administrators can read, renamed to
    its SHA-256 plus a hash of its path (no extension: it cannot be run by double-click); the original
    path and the SHA-256 go into ``undo`` for ``restore_file``. It does not stop a running copy, nor block
    the hash elsewhere (``crowdstrike_iocs.block_hash`` does).
    """
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        answer = await run_script(host, FILE, "quarantine", inputs.path, "", changes=True)
    if answer.get("complete") is False:
        return pending_change(FILE.name, answer["cloud_request_id"])
    if answer.get("changed") is True:
        undo = {"hostname": inputs.hostname, "path": inputs.path, "sha256": answer.get("sha256")}
        return succeeded("file quarantined", vendor_ref=answer["cloud_request_id"], undo=undo)
    if answer.get("quarantined") is True:
        return succeeded("file was already quarantined", changed=False, vendor_ref=host.device_id)
    raise TargetNotFound(f"no file {inputs.path!r} on {inputs.hostname}")


@rtr_action(Capability.RESTORE_FILE, RestoreFileInput, read_file_restored)
async def restore_file(inputs: RestoreFileInput, ctx: ActionContext) -> ActionResult:
    """Move a quarantined file back to its original path over RTR; its SHA-256 must match the captured one."""
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        answer = await run_script(host, FILE, "restore", inputs.path, inputs.sha256 or "", changes=True)
    if answer.get("complete") is False:
        return pending_change(FILE.name, answer["cloud_request_id"])
    if answer.get("changed") is True:
        return succeeded("file restored", vendor_ref=answer["cloud_request_id"])
    if answer.get("present") is True:
        return succeeded("file was already in place", changed=False, vendor_ref=host.device_id)
    raise TargetNotFound(f"{inputs.path!r} is neither on {inputs.hostname} nor in its Garrison quarantine")
