"""Microsoft Defender for Endpoint on a host's own objects (adapter ``defender_response``).

``quarantine_file`` is MDE's machine action "Stop and quarantine file" (``POST
/api/machines/{id}/StopAndQuarantineFile`` with the file's ``Sha1``). Registry values, scheduled tasks,
services and processes go through live response (``POST /api/machines/{id}/runliveresponse``, one
``RunScript`` of a library script from ``_mde_library``, which the MDR uploads to the tenant's live
response library once): the script captures what the inverse needs, and its printed result is read back
through ``GetLiveResponseResultDownloadLink``. Every machine action is followed until it ends; one still
running when ``verify_timeout`` passes (an offline machine queues it) is PENDING, reconciled later with
``read_state``. ``ActiveRequestAlreadyExists`` is followed when the running action is ours, else retried.

Its own app registration (settings as ``defender``: ``tenant_id``; secrets ``defender_response_client_id``
and ``defender_response_client_secret``) with the application permissions ``Machine.StopAndQuarantine``
and ``Machine.LiveResponse``. Alert text reaches a script only validated and quoted (``_mde_args``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from .._capabilities import Capability
from .._context import ActionContext
from .._errors import PermanentError
from .._registry import ActionFn, StateFn, action, registry
from .._result import ActionResult, ActionStatus, Effect, TargetState
from .._vendor import pending, succeeded
from ._mde_api import (
    ENDED_BADLY,
    RUNNING,
    SECRETS,
    VENDOR,
    DefenderResponseSettings,
    MdeResponse,
    failure_reason,
    latest,
)
from ._mde_args import encoded
from ._mde_inputs import (
    EnableServiceInput,
    FileInput,
    ProcessInput,
    RegistryValueInput,
    RestoreRegistryValueInput,
    RestoreTaskInput,
    ServiceInput,
    TaskInput,
)
from ._mde_library import LIBRARY, PROCESS, REGISTRY, SERVICE, TASK
from ._mde_run import Params, observe, outcome, run, state

__all__ = [
    "LIBRARY",
    "DefenderResponseSettings",
    "EnableServiceInput",
    "FileInput",
    "ProcessInput",
    "RegistryValueInput",
    "RestoreRegistryValueInput",
    "RestoreTaskInput",
    "ServiceInput",
    "TaskInput",
]

DOC_LIVE_RESPONSE = "https://learn.microsoft.com/en-us/defender-endpoint/api/run-live-response"
DOC_QUARANTINE = "https://learn.microsoft.com/en-us/defender-endpoint/api/stop-and-quarantine-file"

registry.declare_settings(VENDOR, DefenderResponseSettings)
registry.declare_scripts(VENDOR, LIBRARY)


def _register(
    capability: Capability, inputs: type[BaseModel], read: StateFn, script: str
) -> Callable[[ActionFn], ActionFn]:
    # Each live response verb reads its effect back, and its script compares before it writes.
    inverse = capability.inverse
    call = f"POST /api/machines/<id of {{hostname}}>/runliveresponse RunScript {script} ({capability})"
    return action(
        key=f"{VENDOR}.{capability}",
        inputs=inputs,
        capability=capability,
        secrets=SECRETS,
        inverse=None if inverse is None else f"{VENDOR}.{inverse}",
        doc_url=DOC_LIVE_RESPONSE,
        read_state=read,
        idempotent=True,
        call=call,
        read_sends=True,  # the read is a live response script run on the machine
    )


# -- registry values -----------------------------------------------------------------------------------


def _reg(inputs: RegistryValueInput, mode: str) -> Params:
    return [("Mode", mode), ("Key", inputs.key), ("Name", inputs.name)]


def _reg_restore(inputs: RestoreRegistryValueInput) -> Params:
    return [*_reg(inputs, "restore"), ("Value64", encoded({"type": inputs.type, "data": inputs.data}))]


def _value(printed: dict[str, Any]) -> dict[str, Any]:
    value = printed.get("value")
    return value if isinstance(value, dict) else {}


async def read_value_deleted(inputs: RegistryValueInput, ctx: ActionContext) -> TargetState:
    seen = await observe(ctx, inputs.hostname, REGISTRY, _reg(inputs, "read"), _reg(inputs, "delete"))
    if isinstance(seen, TargetState):
        return seen
    present = bool(seen.get("present"))
    return state(not present, "value is absent", "value is present", present=present)


async def read_value_restored(inputs: RestoreRegistryValueInput, ctx: ActionContext) -> TargetState:
    seen = await observe(ctx, inputs.hostname, REGISTRY, _reg(inputs, "read"), _reg_restore(inputs))
    if isinstance(seen, TargetState):
        return seen
    value = _value(seen)
    same = bool(seen.get("present")) and (value.get("type"), value.get("data")) == (inputs.type, inputs.data)
    return state(same, "value is in place", "value is absent or differs", present=bool(seen.get("present")))


@_register(Capability.DELETE_REGISTRY_VALUE, RegistryValueInput, read_value_deleted, REGISTRY)
async def delete_registry_value(inputs: RegistryValueInput, ctx: ActionContext) -> ActionResult:
    """Delete a registry value (e.g. a Run-key persistence entry) by live response, capturing it."""
    ran, output = await run(ctx, inputs.hostname, REGISTRY, _reg(inputs, "delete"))

    def undo(printed: dict[str, Any]) -> dict[str, Any]:
        value = _value(printed)
        captured = {"type": value.get("type"), "data": value.get("data")}
        return {"hostname": inputs.hostname, "key": inputs.key, "name": inputs.name, **captured}

    return outcome(ran, output, "registry value deleted", "value was already absent", undo)


@_register(Capability.RESTORE_REGISTRY_VALUE, RestoreRegistryValueInput, read_value_restored, REGISTRY)
async def restore_registry_value(inputs: RestoreRegistryValueInput, ctx: ActionContext) -> ActionResult:
    """Write a deleted registry value back from its captured type and data (rollback), by live response."""
    ran, output = await run(ctx, inputs.hostname, REGISTRY, _reg_restore(inputs))
    return outcome(ran, output, "registry value restored", "value was already in place", lambda _: {})


# -- scheduled tasks -----------------------------------------------------------------------------------


def _task(inputs: TaskInput, mode: str) -> Params:
    return [("Mode", mode), ("Name", inputs.name)]


def _task_restore(inputs: RestoreTaskInput) -> Params:
    return [*_task(inputs, "restore"), ("Xml64", encoded({"xml": inputs.xml}))]


async def read_task_deleted(inputs: TaskInput, ctx: ActionContext) -> TargetState:
    seen = await observe(ctx, inputs.hostname, TASK, _task(inputs, "read"), _task(inputs, "delete"))
    if isinstance(seen, TargetState):
        return seen
    present = bool(seen.get("present"))
    return state(not present, "task is absent", "task is present", present=present)


async def read_task_restored(inputs: RestoreTaskInput, ctx: ActionContext) -> TargetState:
    seen = await observe(ctx, inputs.hostname, TASK, _task(inputs, "read"), _task_restore(inputs))
    if isinstance(seen, TargetState):
        return seen
    present = bool(seen.get("present"))
    return state(present, "task is present", "task is absent", present=present)


@_register(Capability.DELETE_SCHEDULED_TASK, TaskInput, read_task_deleted, TASK)
async def delete_scheduled_task(inputs: TaskInput, ctx: ActionContext) -> ActionResult:
    """Delete a scheduled task (e.g. a PowerShell downloader) by live response, capturing its XML."""
    ran, output = await run(ctx, inputs.hostname, TASK, _task(inputs, "delete"))

    def undo(printed: dict[str, Any]) -> dict[str, Any]:
        return {"hostname": inputs.hostname, "name": inputs.name, "xml": printed.get("xml")}

    return outcome(ran, output, "scheduled task deleted", "task was already absent", undo)


@_register(Capability.RESTORE_SCHEDULED_TASK, RestoreTaskInput, read_task_restored, TASK)
async def restore_scheduled_task(inputs: RestoreTaskInput, ctx: ActionContext) -> ActionResult:
    """Register a deleted scheduled task again from its captured XML (rollback), by live response."""
    ran, output = await run(ctx, inputs.hostname, TASK, _task_restore(inputs))
    return outcome(ran, output, "scheduled task restored", "task was already in place", lambda _: {})


# -- services ------------------------------------------------------------------------------------------


def _service(inputs: ServiceInput, mode: str) -> Params:
    return [("Mode", mode), ("Name", inputs.name)]


def _service_enable(inputs: EnableServiceInput) -> Params:
    return [*_service(inputs, "enable"), ("StartType", inputs.start_type), ("Running", inputs.running)]


async def read_service_disabled(inputs: ServiceInput, ctx: ActionContext) -> TargetState:
    seen = await observe(ctx, inputs.hostname, SERVICE, _service(inputs, "read"), _service(inputs, "disable"))
    if isinstance(seen, TargetState):
        return seen
    start = seen.get("start_type")
    text = f"service start type {start}"
    return state(start == "disabled", text, text, start=start, running=seen.get("running"))


async def read_service_enabled(inputs: EnableServiceInput, ctx: ActionContext) -> TargetState:
    seen = await observe(ctx, inputs.hostname, SERVICE, _service(inputs, "read"), _service_enable(inputs))
    if isinstance(seen, TargetState):
        return seen
    start, running = seen.get("start_type"), bool(seen.get("running"))
    text = f"service start type {start}" + (", running" if running else "")
    applied = start == inputs.start_type and (running or not inputs.running)
    return state(applied, text, text, start=start, running=running)


@_register(Capability.DISABLE_SERVICE, ServiceInput, read_service_disabled, SERVICE)
async def disable_service(inputs: ServiceInput, ctx: ActionContext) -> ActionResult:
    """Disable and stop a service by live response, capturing its start type for rollback."""
    ran, output = await run(ctx, inputs.hostname, SERVICE, _service(inputs, "disable"))

    def undo(printed: dict[str, Any]) -> dict[str, Any]:
        start, running = printed.get("start_type"), bool(printed.get("running"))
        return {"hostname": inputs.hostname, "name": inputs.name, "start_type": start, "running": running}

    return outcome(ran, output, "service disabled", "service was already disabled", undo)


@_register(Capability.ENABLE_SERVICE, EnableServiceInput, read_service_enabled, SERVICE)
async def enable_service(inputs: EnableServiceInput, ctx: ActionContext) -> ActionResult:
    """Give a disabled service its start type back, started if it ran before (rollback), by live response."""
    ran, output = await run(ctx, inputs.hostname, SERVICE, _service_enable(inputs))
    already = f"service already starts {inputs.start_type}"
    return outcome(ran, output, "service enabled", already, lambda _: {})


# -- processes -----------------------------------------------------------------------------------------


def _process(inputs: ProcessInput, mode: str) -> Params:
    return [("Mode", mode), ("ProcessId", inputs.pid), *([("Name", inputs.name)] if inputs.name else [])]


async def read_process_killed(inputs: ProcessInput, ctx: ActionContext) -> TargetState:
    seen = await observe(ctx, inputs.hostname, PROCESS, _process(inputs, "read"), _process(inputs, "kill"))
    if isinstance(seen, TargetState):
        return seen
    alive = bool(seen.get("running"))
    return state(not alive, "process is not running", "process is running", running=alive)


@_register(Capability.KILL_PROCESS, ProcessInput, read_process_killed, PROCESS)
async def kill_process(inputs: ProcessInput, ctx: ActionContext) -> ActionResult:
    """End a process by live response (refused if the pid now belongs to another image); no inverse."""
    ran, output = await run(ctx, inputs.hostname, PROCESS, _process(inputs, "kill"))
    return outcome(ran, output, "process killed", "process was not running", lambda _: {})


# -- files ---------------------------------------------------------------------------------------------


def _sha1(inputs: FileInput) -> str:
    if inputs.sha1 is None:
        raise PermanentError(
            f"{VENDOR}.quarantine_file needs the file's SHA-1: the target gives only its path on "
            f"{inputs.hostname}"
        )
    return inputs.sha1


def _comment(ctx: ActionContext) -> str:
    return f"Garrison incident {ctx.incident_id}"


def _quarantines(actions: list[dict[str, Any]], sha1: str) -> list[dict[str, Any]]:
    return [
        a
        for a in actions
        if a.get("type") == "StopAndQuarantineFile"
        and a.get("status") not in ENDED_BADLY
        and str((a.get("relatedFileInfo") or {}).get("fileIdentifier", "")).lower() == sha1
    ]


def _ours(actions: list[dict[str, Any]], sha1: str, ctx: ActionContext) -> dict[str, Any] | None:
    # MDE keeps no "quarantined" state, only its actions: ours for this incident are what this step did.
    mine = [a for a in _quarantines(actions, sha1) if a.get("requestorComment") == _comment(ctx)]
    return latest(mine)


async def read_file_quarantined(inputs: FileInput, ctx: ActionContext) -> TargetState:
    sha1 = _sha1(inputs)
    async with MdeResponse(ctx) as mde:
        record = _ours(await mde.machine_actions(await mde.machine_id(inputs.hostname)), sha1, ctx)
    if record is None:
        return state(False, "", "no stop-and-quarantine of this SHA-1 for this incident")
    status, ref = str(record.get("status")), str(record.get("id"))
    effect = Effect.APPLIED if status == "Succeeded" else Effect.IN_PROGRESS
    observed = {"id": ref, "status": status}
    detail = f"stop-and-quarantine {status}"
    return TargetState(effect=effect, detail=detail, vendor_ref=ref, observed=observed)


@action(
    key=f"{VENDOR}.quarantine_file",
    inputs=FileInput,
    capability=Capability.QUARANTINE_FILE,
    secrets=SECRETS,
    inverse=None,
    doc_url=DOC_QUARANTINE,
    read_state=read_file_quarantined,
    idempotent=True,
    call="POST /api/machines/<id of {hostname}>/StopAndQuarantineFile {{Sha1: {sha1}}}",
)
async def quarantine_file(inputs: FileInput, ctx: ActionContext) -> ActionResult:
    """Stop the file's processes and quarantine it on the machine (MDE StopAndQuarantineFile, by SHA-1).

    MDE quarantines every copy with that SHA-1 on the machine, wherever it lies. No inverse: MDE's API has
    no call that restores a file quarantined this way (the restore is a portal action-center step, or
    ``MpCmdRun -Restore`` on the device), so a rollback leaves it quarantined and says so.
    """
    sha1 = _sha1(inputs)
    async with MdeResponse(ctx) as mde:
        machine_id = await mde.machine_id(inputs.hostname)
        done = _ours(await mde.machine_actions(machine_id), sha1, ctx)
        if done is not None and done.get("status") == "Succeeded":
            return succeeded("file was already quarantined", changed=False, vendor_ref=str(done.get("id")))
        body = {"Comment": _comment(ctx), "Sha1": sha1}
        record = await mde.start(
            machine_id, "StopAndQuarantineFile", body, lambda a: a in _quarantines([a], sha1)
        )
        ran = await mde.follow(record)
    if ran.status == "Succeeded":
        return succeeded("file stopped and quarantined", vendor_ref=ran.ref)
    if ran.status in RUNNING:
        return pending(f"stop-and-quarantine requested; still {ran.status}", vendor_ref=ran.ref)
    detail = f"stop-and-quarantine {ran.status}: {failure_reason(ran.record)}"
    return ActionResult(status=ActionStatus.FAILED, detail=detail, vendor_ref=ran.ref)
