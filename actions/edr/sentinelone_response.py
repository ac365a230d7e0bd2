"""SentinelOne on a tenant's files and a host's objects (adapter ``sentinelone_response``).

- ``block_hash`` / ``unblock_hash``: the console's blocklist (``POST``/``GET``/``DELETE
  /web/api/v2.1/restrictions``, ``type: black_hash``, ``sha256Value``, ``osType: windows``) in the tenant's
  sites or accounts; an item already there is success, unchanged.
- ``delete_registry_value``, ``delete_scheduled_task``, ``disable_service``: Remote Script Orchestration
  (``POST /web/api/v2.1/remote-scripts/execute``) of a library script (``_s1_library``) on the one agent
  named, followed through ``GET /web/api/v2.1/remote-scripts/status`` to a final state. These have no
  inverse: the API returns a script's output only as a download link to an archive whose layout it does
  not document, so nothing the inverse needs (the value's data, the task's XML, the start type) can be
  captured, and their ``read_state`` can only resolve the agent and answer UNKNOWN (a human checks).

Not here: ``kill_process`` and ``quarantine_file``. SentinelOne's mitigation (``POST
/web/api/v2.1/threats/mitigate/{action}``: kill, quarantine, remediate, rollback) acts on a *threat* the
agent detected, by threat id, never on a pid or a path that Garrison names.

Its own API token (settings as ``sentinelone``: ``base_url`` and the tenant's ``site_ids`` or
``account_ids``; secret ``sentinelone_response_api_token``): blocklist and remote script rights
(``Blacklist``, ``Remote Script Orchestration.runActionScript``) are a stronger grant than network
isolation, so a tenant opts into them apart. Alert text reaches a script only validated and quoted
(``_s1_inputs``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._capabilities import Capability
from .._context import ActionContext
from .._errors import VendorRejected
from .._registry import ActionFn, action, registry
from .._result import ActionResult, ActionStatus, Effect, TargetState
from .._vendor import pending, succeeded
from ._base import Side, register_pair
from ._iocs import ABSENT, PRESENT, HashIndicator
from ._mde_args import script_args
from ._s1_api import (
    DONE,
    ENDED_BADLY,
    SECRETS,
    VENDOR,
    S1Response,
    ScriptRun,
    SentinelOneResponseSettings,
    duplicate,
    one_line,
)
from ._s1_inputs import RegistryValueInput, ServiceInput, TaskInput
from ._s1_library import LIBRARY

__all__ = [
    "LIBRARY",
    "RegistryValueInput",
    "SentinelOneResponseSettings",
    "ServiceInput",
    "TaskInput",
]

# The API reference lives on every management console (login needed).
_DOCS = "https://usea1-partners.sentinelone.net/api-doc/api-details?category="
DOC_BLOCK = _DOCS + "exclusions-and-blocklist&api=create-blocklist-item"
DOC_UNBLOCK = _DOCS + "exclusions-and-blocklist&api=delete-blocklist-item"
DOC_SCRIPTS = _DOCS + "remoteops-scripts&api=run-remote-script"

registry.declare_settings(VENDOR, SentinelOneResponseSettings)
registry.declare_scripts(VENDOR, LIBRARY)


# -- the blocklist -------------------------------------------------------------------------------------


def _refs(items: list[dict[str, Any]]) -> str | None:
    return ",".join(str(i["id"]) for i in items if i.get("id")) or None


async def _block(s1: S1Response, sha256: str) -> ActionResult:
    items = await s1.blocklist_items(sha256)
    missing = s1.uncovered(items)
    if not missing:
        return succeeded("file hash already on the blocklist", changed=False, vendor_ref=_refs(items))
    try:
        created = await s1.block_hash(sha256, missing)
    except VendorRejected as error:
        # Added by a run that crashed before its ledger entry, or by an analyst: read it back.
        if not duplicate(error):
            raise
        items = await s1.blocklist_items(sha256)
        if s1.uncovered(items):
            raise
        return succeeded("file hash already on the blocklist", changed=False, vendor_ref=_refs(items))
    return succeeded("file hash on the blocklist (Windows)", vendor_ref=",".join(created) or None)


async def _unblock(s1: S1Response, sha256: str) -> ActionResult:
    items = await s1.blocklist_items(sha256)
    ref = _refs(items)
    if ref is None:
        return succeeded("file hash was not on the blocklist", changed=False)
    if await s1.delete_items(ref.split(",")) == 0:
        return succeeded("file hash was already off the blocklist", changed=False, vendor_ref=ref)
    return succeeded("file hash off the blocklist", vendor_ref=ref)


async def _run_hash(inputs: HashIndicator, ctx: ActionContext, side: Side) -> ActionResult:
    async with S1Response(ctx) as s1:
        if side.want == PRESENT:
            return await _block(s1, inputs.sha256)
        return await _unblock(s1, inputs.sha256)


async def _read_hash(inputs: HashIndicator, ctx: ActionContext, side: Side) -> TargetState:
    async with S1Response(ctx) as s1:
        items = await s1.blocklist_items(inputs.sha256)
        missing = s1.uncovered(items)
    blocked = not missing
    applied = blocked if side.want == PRESENT else not items
    detail = "file hash is on the blocklist" if blocked else "file hash is not on the blocklist"
    if items and missing:
        detail = f"file hash is on the blocklist of part of the tenant (not in {', '.join(missing)})"
    return TargetState(
        effect=Effect.APPLIED if applied else Effect.ABSENT,
        detail=detail,
        vendor_ref=_refs(items),
        observed={"ids": [str(i.get("id")) for i in items], "uncovered": missing},
    )


register_pair(
    VENDOR,
    (Capability.BLOCK_HASH, Capability.UNBLOCK_HASH),
    (
        Side(
            "create",
            PRESENT,
            DOC_BLOCK,
            "Put the file's SHA-256 on the SentinelOne blocklist (Windows) in the tenant's scope.",
            "POST /web/api/v2.1/restrictions type=black_hash osType=windows sha256Value={sha256} "
            "(filter: the tenant's sites or accounts)",
        ),
        Side(
            "delete",
            ABSENT,
            DOC_UNBLOCK,
            "Remove the file's SHA-256 from the SentinelOne blocklist in the tenant's scope.",
            "DELETE /web/api/v2.1/restrictions type=black_hash (the items of sha256Value {sha256} in the "
            "tenant's sites or accounts)",
        ),
    ),
    inputs=HashIndicator,
    secrets=SECRETS,
    run=_run_hash,
    read=_read_hash,
)


# -- remote scripts ------------------------------------------------------------------------------------

Params = list[tuple[str, str | int | bool]]


def _outcome(ran: ScriptRun, did: str) -> ActionResult:
    if ran.awaiting_approval:
        return pending(
            "the remote script awaits approval in the SentinelOne console", vendor_ref=ran.parent_task_id
        )
    if ran.status == DONE:
        # The script leaves an object already gone as it is, and its output never comes back: a completed
        # run says the effect is in place, not whether this run was the one that made it.
        return succeeded(f"remote script completed: {did}", vendor_ref=ran.parent_task_id)
    if ran.status in ENDED_BADLY:
        why = one_line(ran.task.get("detailedStatus") or "SentinelOne gave no reason")
        return ActionResult(
            status=ActionStatus.FAILED,
            detail=f"remote script {ran.status}: {why}",
            vendor_ref=ran.parent_task_id,
        )
    return pending(
        f"remote script still {ran.status or 'queued'} on the agent", vendor_ref=ran.parent_task_id
    )


async def _remote(
    ctx: ActionContext, hostname: str, setting: str, params: Params, did: str, capability: Capability
) -> ActionResult:
    args = script_args(params)  # refuses before any call
    async with S1Response(ctx) as s1:
        script = s1.script_id(setting)
        agent = await s1.agent(hostname)
        description = f"Garrison incident {ctx.incident_id}: {capability}"
        ran = await s1.run_script(str(agent["id"]), script, args, description)
    return _outcome(ran, did)


async def _read_remote(inputs: Any, ctx: ActionContext) -> TargetState:
    async with S1Response(ctx) as s1:
        agent = await s1.agent(inputs.hostname)
    return TargetState(
        effect=Effect.UNKNOWN,
        detail="SentinelOne's API gives no remote script output back: check the host",
        vendor_ref=str(agent.get("id")),
        observed={"agent": str(agent.get("id")), "isActive": agent.get("isActive")},
    )


def _scripted(
    capability: Capability, inputs: type[Any], script: str, shown: str
) -> Callable[[ActionFn], ActionFn]:
    return action(
        key=f"{VENDOR}.{capability}",
        inputs=inputs,
        capability=capability,
        secrets=SECRETS,
        inverse=None,  # nothing to restore from: see the module docstring
        doc_url=DOC_SCRIPTS,
        read_state=_read_remote,
        idempotent=True,
        call=f"POST /web/api/v2.1/remote-scripts/execute {script} inputParams={shown} "
        "(the agent computerName {hostname})",
    )


@_scripted(
    Capability.DELETE_REGISTRY_VALUE, RegistryValueInput, "garrison-s1-reg.ps1", "-Key '{key}' -Name '{name}'"
)
async def delete_registry_value(inputs: RegistryValueInput, ctx: ActionContext) -> ActionResult:
    """Delete a registry value (e.g. a Run-key persistence entry) by a SentinelOne remote script."""
    params: Params = [("Key", inputs.key), ("Name", inputs.name)]
    return await _remote(
        ctx,
        inputs.hostname,
        "registry_script_id",
        params,
        "the value is absent",
        Capability.DELETE_REGISTRY_VALUE,
    )


@_scripted(Capability.DELETE_SCHEDULED_TASK, TaskInput, "garrison-s1-task.ps1", "-Name '{name}'")
async def delete_scheduled_task(inputs: TaskInput, ctx: ActionContext) -> ActionResult:
    """Delete a scheduled task (e.g. a PowerShell downloader) by a SentinelOne remote script."""
    return await _remote(
        ctx,
        inputs.hostname,
        "task_script_id",
        [("Name", inputs.name)],
        "the task is absent",
        Capability.DELETE_SCHEDULED_TASK,
    )


@_scripted(Capability.DISABLE_SERVICE, ServiceInput, "garrison-s1-svc.ps1", "-Name '{name}'")
async def disable_service(inputs: ServiceInput, ctx: ActionContext) -> ActionResult:
    """Disable and stop a service by a SentinelOne remote script."""
    return await _remote(
        ctx,
        inputs.hostname,
        "service_script_id",
        [("Name", inputs.name)],
        "the service is disabled and stopped",
        Capability.DISABLE_SERVICE,
    )
