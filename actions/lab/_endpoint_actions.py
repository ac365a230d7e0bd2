"""Lab actions on the endpoint's own objects: services, scheduled tasks, processes, files, accounts.

Each has its inverse (kill_process has none: a killed process cannot be brought back) and a read_state.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .._capabilities import Capability
from .._context import ActionContext
from .._result import ActionResult, TargetState
from ._adapter import done, host_state, lab_action, on_fleet, readers, removed, state
from ._fleet import LabFleet


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServiceInput(_Input):
    hostname: str = Field(min_length=1, max_length=255, description="Host running the service.")
    name: str = Field(min_length=1, max_length=256, description="Service name (not the display name).")


class EnableServiceInput(ServiceInput):
    start_type: Literal["auto", "manual"] = Field(
        default="auto", description="Start type to restore (captured when the service was disabled)."
    )


class TaskInput(_Input):
    hostname: str = Field(min_length=1, max_length=255, description="Host holding the task.")
    name: str = Field(
        min_length=1, max_length=512, description=r"Task path and name, e.g. \Microsoft\Updater."
    )


class RestoreTaskInput(TaskInput):
    command: str = Field(default="", description="The task's action command line (captured at deletion).")
    enabled: bool = Field(default=True, description="Whether the task was enabled (captured at deletion).")


class ProcessInput(_Input):
    hostname: str = Field(min_length=1, max_length=255, description="Host running the process.")
    pid: int = Field(ge=0, description="Process id.")
    name: str | None = Field(
        default=None, max_length=260, description="Image name the pid must still have (guards pid reuse)."
    )


class FileInput(_Input):
    hostname: str = Field(min_length=1, max_length=255, description="Host holding the file.")
    path: str = Field(min_length=1, max_length=1024, description="Full path of the file.")
    sha1: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{40}$", description="The file's SHA-1 if known (not needed here)."
    )


class RestoreFileInput(FileInput):
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="Hash captured at quarantine; must still match.",
    )


class AccountInput(_Input):
    account: str = Field(min_length=1, max_length=256, description="Account name in the tenant's directory.")


# -- services ------------------------------------------------------------------------------------------


async def _start_type(inputs: ServiceInput, ctx: ActionContext, want: str) -> TargetState:
    start = (await host_state(ctx, inputs.hostname))["services"].get(inputs.name.lower())
    text = f"service start type {start}"
    return state(start == want, text, text, start=start)


async def read_service_disabled(inputs: ServiceInput, ctx: ActionContext) -> TargetState:
    return await _start_type(inputs, ctx, "disabled")


async def read_service_enabled(inputs: EnableServiceInput, ctx: ActionContext) -> TargetState:
    return await _start_type(inputs, ctx, inputs.start_type)


@lab_action(Capability.DISABLE_SERVICE, ServiceInput, read_state=read_service_disabled)
async def disable_service(inputs: ServiceInput, ctx: ActionContext) -> ActionResult:
    """Disable a service (e.g. a "Software Update" persistence service), capturing its start type."""
    previous, changed = await on_fleet(
        ctx, LabFleet.set_service_start, inputs.hostname, inputs.name, "disabled"
    )
    undo = {"hostname": inputs.hostname, "name": inputs.name, "start_type": previous} if changed else {}
    return done(changed, "service disabled", "service was already disabled", undo=undo)


@lab_action(Capability.ENABLE_SERVICE, EnableServiceInput, read_state=read_service_enabled)
async def enable_service(inputs: EnableServiceInput, ctx: ActionContext) -> ActionResult:
    """Give a disabled service its start type back (rollback)."""
    _, changed = await on_fleet(
        ctx, LabFleet.set_service_start, inputs.hostname, inputs.name, inputs.start_type
    )
    return done(changed, "service enabled", f"service already starts {inputs.start_type}")


# -- scheduled tasks -----------------------------------------------------------------------------------


async def _task_present(inputs: TaskInput, ctx: ActionContext) -> bool:
    return inputs.name.lower() in (await host_state(ctx, inputs.hostname))["tasks"]


read_task_restored, read_task_deleted = readers(_task_present, "task is present", "task is absent", "present")


@lab_action(Capability.DELETE_SCHEDULED_TASK, TaskInput, read_state=read_task_deleted)
async def delete_scheduled_task(inputs: TaskInput, ctx: ActionContext) -> ActionResult:
    """Delete a scheduled task (e.g. PCASTLE's PowerShell downloader), capturing it for rollback."""
    captured = await on_fleet(ctx, LabFleet.delete_task, inputs.hostname, inputs.name)
    return removed(captured, inputs.hostname, "scheduled task deleted", "task was already absent")


@lab_action(Capability.RESTORE_SCHEDULED_TASK, RestoreTaskInput, read_state=read_task_restored)
async def restore_scheduled_task(inputs: RestoreTaskInput, ctx: ActionContext) -> ActionResult:
    """Re-create a deleted scheduled task from its captured data (rollback)."""
    changed = await on_fleet(
        ctx, LabFleet.restore_task, inputs.hostname, inputs.name, inputs.command, inputs.enabled
    )
    return done(changed, "scheduled task restored", "task was already in place")


# -- processes -----------------------------------------------------------------------------------------


async def read_process_killed(inputs: ProcessInput, ctx: ActionContext) -> TargetState:
    running = (await host_state(ctx, inputs.hostname))["processes"].get(inputs.pid)
    alive = running is not None and (inputs.name is None or running.lower() == inputs.name.lower())
    return state(not alive, "process is not running", "process is running", running=alive)


@lab_action(Capability.KILL_PROCESS, ProcessInput, read_state=read_process_killed)
async def kill_process(inputs: ProcessInput, ctx: ActionContext) -> ActionResult:
    """End a process on the host (refused if the pid now belongs to another image)."""
    killed = await on_fleet(ctx, LabFleet.kill_process, inputs.hostname, inputs.pid, inputs.name)
    if killed is None:
        return done(False, "", "process was not running")
    return done(True, f"process {killed['name']} ({killed['pid']}) killed", "", vendor_ref=str(killed["pid"]))


# -- files ---------------------------------------------------------------------------------------------


async def _quarantined(ctx: ActionContext, inputs: FileInput) -> bool | None:
    quarantined = (await host_state(ctx, inputs.hostname))["files"].get(inputs.path.lower())
    return None if quarantined is None else bool(quarantined)


async def read_file_quarantined(inputs: FileInput, ctx: ActionContext) -> TargetState:
    held = await _quarantined(ctx, inputs)
    return state(held is True, "file is quarantined", "file is not quarantined", quarantined=held)


async def read_file_restored(inputs: RestoreFileInput, ctx: ActionContext) -> TargetState:
    held = await _quarantined(ctx, inputs)
    return state(held is False, "file is in place", "file is quarantined or absent", quarantined=held)


@lab_action(Capability.QUARANTINE_FILE, FileInput, read_state=read_file_quarantined)
async def quarantine_file(inputs: FileInput, ctx: ActionContext) -> ActionResult:
    """Move a file into quarantine on the host, capturing its hash for restore."""
    item, changed = await on_fleet(ctx, LabFleet.set_quarantined, inputs.hostname, inputs.path, True)
    undo = {
        "hostname": inputs.hostname,
        "path": item["path"],
        **({"sha256": item["sha256"]} if item["sha256"] else {}),
    }
    return done(changed, "file quarantined", "file was already quarantined", undo=undo)


@lab_action(Capability.RESTORE_FILE, RestoreFileInput, read_state=read_file_restored)
async def restore_file(inputs: RestoreFileInput, ctx: ActionContext) -> ActionResult:
    """Bring a quarantined file back (rollback); its hash must match the captured one."""
    _, changed = await on_fleet(
        ctx, LabFleet.set_quarantined, inputs.hostname, inputs.path, False, inputs.sha256
    )
    return done(changed, "file restored", "file was not quarantined")


# -- accounts ------------------------------------------------------------------------------------------


async def _enabled(inputs: AccountInput, ctx: ActionContext) -> bool:
    return await on_fleet(ctx, LabFleet.account_enabled, inputs.account)


read_account_enabled, read_account_disabled = readers(
    _enabled, "account is enabled", "account is disabled", "enabled"
)


@lab_action(Capability.DISABLE_ACCOUNT, AccountInput, read_state=read_account_disabled)
async def disable_account(inputs: AccountInput, ctx: ActionContext) -> ActionResult:
    """Disable an account in the tenant's directory (e.g. the VPN account an intruder used)."""
    changed = await on_fleet(ctx, LabFleet.set_account_enabled, inputs.account, False)
    return done(changed, "account disabled", "account was already disabled")


@lab_action(Capability.ENABLE_ACCOUNT, AccountInput, read_state=read_account_enabled)
async def enable_account(inputs: AccountInput, ctx: ActionContext) -> ActionResult:
    """Enable a disabled account again (rollback)."""
    changed = await on_fleet(ctx, LabFleet.set_account_enabled, inputs.account, True)
    return done(changed, "account enabled", "account was already enabled")
