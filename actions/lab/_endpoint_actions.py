"""Lab actions on the endpoint's own objects: services, scheduled tasks, processes, files, accounts, URLs.

Each has its inverse (kill_process has none: a killed process cannot be brought back) and a read_state.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .._context import ActionContext
from .._registry import TargetKind, action
from .._result import ActionResult, TargetState
from ._actions import DOC, _done, _fleet, _host, _set_block, read_block, state


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


class RestoreFileInput(FileInput):
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="Hash captured at quarantine; must still match.",
    )


class AccountInput(_Input):
    account: str = Field(min_length=1, max_length=256, description="Account name in the tenant's directory.")


class UrlInput(_Input):
    url: str = Field(min_length=1, max_length=2048, description="URL to block, refanged.")


# -- services ------------------------------------------------------------------------------------------


async def read_service_disabled(inputs: ServiceInput, ctx: ActionContext) -> TargetState:
    start = (await _host(ctx, inputs.hostname))["services"].get(inputs.name.lower())
    return state(
        start == "disabled", f"service start type {start}", f"service start type {start}", start=start
    )


async def read_service_enabled(inputs: EnableServiceInput, ctx: ActionContext) -> TargetState:
    start = (await _host(ctx, inputs.hostname))["services"].get(inputs.name.lower())
    text = f"service start type {start}"
    return state(start == inputs.start_type, text, text, start=start)


@action(
    key="lab.disable_service",
    inputs=ServiceInput,
    target=TargetKind.SERVICE,
    inverse="lab.enable_service",
    doc_url=DOC,
    read_state=read_service_disabled,
    idempotent=True,
)
async def disable_service(inputs: ServiceInput, ctx: ActionContext) -> ActionResult:
    """Disable a service (e.g. a "Software Update" persistence service), capturing its start type."""
    previous, changed = await asyncio.to_thread(
        _fleet(ctx).set_service_start, ctx.tenant, inputs.hostname, inputs.name, "disabled"
    )
    undo = {"hostname": inputs.hostname, "name": inputs.name, "start_type": previous} if changed else {}
    return _done(changed, "service disabled", "service was already disabled", undo=undo)


@action(
    key="lab.enable_service",
    inputs=EnableServiceInput,
    target=TargetKind.SERVICE,
    inverse="lab.disable_service",
    doc_url=DOC,
    read_state=read_service_enabled,
    idempotent=True,
)
async def enable_service(inputs: EnableServiceInput, ctx: ActionContext) -> ActionResult:
    """Give a disabled service its start type back (rollback)."""
    _, changed = await asyncio.to_thread(
        _fleet(ctx).set_service_start, ctx.tenant, inputs.hostname, inputs.name, inputs.start_type
    )
    return _done(changed, "service enabled", f"service already starts {inputs.start_type}")


# -- scheduled tasks -----------------------------------------------------------------------------------


async def read_task_deleted(inputs: TaskInput, ctx: ActionContext) -> TargetState:
    present = inputs.name.lower() in (await _host(ctx, inputs.hostname))["tasks"]
    return state(not present, "task is absent", "task is present", present=present)


async def read_task_restored(inputs: RestoreTaskInput, ctx: ActionContext) -> TargetState:
    present = inputs.name.lower() in (await _host(ctx, inputs.hostname))["tasks"]
    return state(present, "task is present", "task is absent", present=present)


@action(
    key="lab.delete_scheduled_task",
    inputs=TaskInput,
    target=TargetKind.SCHEDULED_TASK,
    inverse="lab.restore_scheduled_task",
    doc_url=DOC,
    read_state=read_task_deleted,
    idempotent=True,
)
async def delete_scheduled_task(inputs: TaskInput, ctx: ActionContext) -> ActionResult:
    """Delete a scheduled task (e.g. PCASTLE's PowerShell downloader), capturing it for rollback."""
    captured = await asyncio.to_thread(_fleet(ctx).delete_task, ctx.tenant, inputs.hostname, inputs.name)
    if captured is None:
        return _done(False, "", "task was already absent")
    return _done(True, "scheduled task deleted", "", undo={"hostname": inputs.hostname, **captured})


@action(
    key="lab.restore_scheduled_task",
    inputs=RestoreTaskInput,
    target=TargetKind.SCHEDULED_TASK,
    inverse="lab.delete_scheduled_task",
    doc_url=DOC,
    read_state=read_task_restored,
    idempotent=True,
)
async def restore_scheduled_task(inputs: RestoreTaskInput, ctx: ActionContext) -> ActionResult:
    """Re-create a deleted scheduled task from its captured data (rollback)."""
    changed = await asyncio.to_thread(
        _fleet(ctx).restore_task, ctx.tenant, inputs.hostname, inputs.name, inputs.command, inputs.enabled
    )
    return _done(changed, "scheduled task restored", "task was already in place")


# -- processes -----------------------------------------------------------------------------------------


async def read_process_killed(inputs: ProcessInput, ctx: ActionContext) -> TargetState:
    running = (await _host(ctx, inputs.hostname))["processes"].get(inputs.pid)
    alive = running is not None and (inputs.name is None or running.lower() == inputs.name.lower())
    return state(not alive, "process is not running", "process is running", running=alive)


@action(
    key="lab.kill_process",
    inputs=ProcessInput,
    target=TargetKind.PROCESS,
    inverse=None,  # a killed process cannot be brought back
    doc_url=DOC,
    read_state=read_process_killed,
    idempotent=True,
)
async def kill_process(inputs: ProcessInput, ctx: ActionContext) -> ActionResult:
    """End a process on the host (refused if the pid now belongs to another image)."""
    killed = await asyncio.to_thread(
        _fleet(ctx).kill_process, ctx.tenant, inputs.hostname, inputs.pid, inputs.name
    )
    if killed is None:
        return _done(False, "", "process was not running")
    return _done(
        True, f"process {killed['name']} ({killed['pid']}) killed", "", vendor_ref=str(killed["pid"])
    )


# -- files ---------------------------------------------------------------------------------------------


async def _quarantined(ctx: ActionContext, inputs: FileInput) -> bool | None:
    quarantined = (await _host(ctx, inputs.hostname))["files"].get(inputs.path.lower())
    return None if quarantined is None else bool(quarantined)


async def read_file_quarantined(inputs: FileInput, ctx: ActionContext) -> TargetState:
    held = await _quarantined(ctx, inputs)
    return state(held is True, "file is quarantined", "file is not quarantined", quarantined=held)


async def read_file_restored(inputs: RestoreFileInput, ctx: ActionContext) -> TargetState:
    held = await _quarantined(ctx, inputs)
    return state(held is False, "file is in place", "file is quarantined or absent", quarantined=held)


@action(
    key="lab.quarantine_file",
    inputs=FileInput,
    target=TargetKind.FILE,
    inverse="lab.restore_file",
    doc_url=DOC,
    read_state=read_file_quarantined,
    idempotent=True,
)
async def quarantine_file(inputs: FileInput, ctx: ActionContext) -> ActionResult:
    """Move a file into quarantine on the host, capturing its hash for restore."""
    item, changed = await asyncio.to_thread(
        _fleet(ctx).set_quarantined, ctx.tenant, inputs.hostname, inputs.path, True
    )
    undo = {
        "hostname": inputs.hostname,
        "path": item["path"],
        **({"sha256": item["sha256"]} if item["sha256"] else {}),
    }
    return _done(changed, "file quarantined", "file was already quarantined", undo=undo)


@action(
    key="lab.restore_file",
    inputs=RestoreFileInput,
    target=TargetKind.FILE,
    inverse="lab.quarantine_file",
    doc_url=DOC,
    read_state=read_file_restored,
    idempotent=True,
)
async def restore_file(inputs: RestoreFileInput, ctx: ActionContext) -> ActionResult:
    """Bring a quarantined file back (rollback); its hash must match the captured one."""
    _, changed = await asyncio.to_thread(
        _fleet(ctx).set_quarantined, ctx.tenant, inputs.hostname, inputs.path, False, inputs.sha256
    )
    return _done(changed, "file restored", "file was not quarantined")


# -- accounts ------------------------------------------------------------------------------------------


async def read_account_disabled(inputs: AccountInput, ctx: ActionContext) -> TargetState:
    enabled = await asyncio.to_thread(_fleet(ctx).account_enabled, ctx.tenant, inputs.account)
    return state(not enabled, "account is disabled", "account is enabled", enabled=enabled)


async def read_account_enabled(inputs: AccountInput, ctx: ActionContext) -> TargetState:
    enabled = await asyncio.to_thread(_fleet(ctx).account_enabled, ctx.tenant, inputs.account)
    return state(enabled, "account is enabled", "account is disabled", enabled=enabled)


@action(
    key="lab.disable_account",
    inputs=AccountInput,
    target=TargetKind.ACCOUNT,
    inverse="lab.enable_account",
    doc_url=DOC,
    read_state=read_account_disabled,
    idempotent=True,
)
async def disable_account(inputs: AccountInput, ctx: ActionContext) -> ActionResult:
    """Disable an account in the tenant's directory (e.g. the VPN account an intruder used)."""
    changed = await asyncio.to_thread(_fleet(ctx).set_account_enabled, ctx.tenant, inputs.account, False)
    return _done(changed, "account disabled", "account was already disabled")


@action(
    key="lab.enable_account",
    inputs=AccountInput,
    target=TargetKind.ACCOUNT,
    inverse="lab.disable_account",
    doc_url=DOC,
    read_state=read_account_enabled,
    idempotent=True,
)
async def enable_account(inputs: AccountInput, ctx: ActionContext) -> ActionResult:
    """Enable a disabled account again (rollback)."""
    changed = await asyncio.to_thread(_fleet(ctx).set_account_enabled, ctx.tenant, inputs.account, True)
    return _done(changed, "account enabled", "account was already enabled")


# -- URLs ----------------------------------------------------------------------------------------------


@action(
    key="lab.block_url",
    inputs=UrlInput,
    target=TargetKind.URL,
    inverse="lab.unblock_url",
    doc_url=DOC,
    read_state=read_block("url", True, "url"),
    idempotent=True,
)
async def block_url(inputs: UrlInput, ctx: ActionContext) -> ActionResult:
    """Add the URL to the tenant's web proxy block list (lab)."""
    return await _set_block(ctx, "url", inputs.url.strip(), True)


@action(
    key="lab.unblock_url",
    inputs=UrlInput,
    target=TargetKind.URL,
    inverse="lab.block_url",
    doc_url=DOC,
    read_state=read_block("url", False, "url"),
    idempotent=True,
)
async def unblock_url(inputs: UrlInput, ctx: ActionContext) -> ActionResult:
    """Remove the URL from the tenant's web proxy block list (lab)."""
    return await _set_block(ctx, "url", inputs.url.strip(), False)
