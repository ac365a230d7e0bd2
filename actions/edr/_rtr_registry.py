"""``crowdstrike_rtr`` registry value actions.

A value is read by the fixed script ``garrison_registry_value`` (its type and exact data, base64), deleted
by name with RTR's own ``reg delete``, and written back by the same script from base64 (``_rtr_regdata``),
so any data restores: a Run value's quoted path, backticks, newlines in a REG_MULTI_SZ. ``reg query`` is
not the reader: it prints data as text lines, which loses a newline inside it and trailing spaces, so what
it captured would not be what was deleted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .._capabilities import Capability
from .._context import ActionContext
from .._errors import PermanentError
from .._result import ActionResult, TargetState
from .._vendor import succeeded
from ._rtr_common import check, pending_change, rtr_action, run_script, state
from ._rtr_inputs import RegistryValueInput, RestoreRegistryValueInput
from ._rtr_regdata import RegistryData, from_wire, to_wire
from ._rtr_scripts import REGISTRY
from ._rtr_session import VENDOR, HostSession, RtrClient

_TYPE = re.compile(r"^REG_[A-Z_]{1,30}$")


@dataclass(frozen=True)
class _Value:
    type: str
    wire: str  # the data as the script carries it: base64, canonical on both sides

    def data(self, where: str) -> RegistryData:
        try:
            return from_wire(self.type, self.wire)
        except ValueError as error:
            raise PermanentError(f"{VENDOR}: {REGISTRY.name} read {where}: {error}") from None


async def _read(host: HostSession, inputs: RegistryValueInput) -> _Value | None:
    answer = await run_script(host, REGISTRY, "read", inputs.key, inputs.name, "", "")
    if answer.get("present") is not True:
        return None
    kind, wire = answer.get("type"), answer.get("data")
    if not isinstance(kind, str) or not _TYPE.match(kind) or not isinstance(wire, str):
        raise PermanentError(
            f"{VENDOR}: {REGISTRY.name} found {inputs.name} on {inputs.hostname} but printed no type and data"
        )
    return _Value(kind, wire)


def _restorable(kind: str, data: RegistryData) -> str:
    try:
        to_wire(kind, data)
    except ValueError as error:
        return f"; {error}: restore it by hand from the captured data"
    return ""


async def read_value_deleted(inputs: RegistryValueInput, ctx: ActionContext) -> TargetState:
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        found = await _read(host, inputs)
    return state(
        found is None, "value is absent", "value is present", host.device_id, present=found is not None
    )


async def read_value_restored(inputs: RestoreRegistryValueInput, ctx: ActionContext) -> TargetState:
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        found = await _read(host, inputs)
    same = found == _Value(inputs.type, inputs.wire)
    return state(
        same, "value is in place", "value is absent or differs", host.device_id, present=found is not None
    )


@rtr_action(Capability.DELETE_REGISTRY_VALUE, RegistryValueInput, read_value_deleted)
async def delete_registry_value(inputs: RegistryValueInput, ctx: ActionContext) -> ActionResult:
    """Delete a registry value over RTR: ``garrison_registry_value`` captures its type and exact data into
    ``undo``, then ``reg delete`` removes it by name."""
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        found = await _read(host, inputs)
        if found is None:
            return succeeded("value was already absent", changed=False, vendor_ref=host.device_id)
        data = found.data(f"{inputs.name} on {inputs.hostname}")
        undo: dict[str, Any] = {"hostname": inputs.hostname, "key": inputs.key, "name": inputs.name}
        undo |= {"type": found.type, "data": data}
        outcome = await host.run("reg", f'reg delete "{inputs.key}" "{inputs.name}"', changes=True)
    if not outcome.complete:
        return pending_change("reg delete", outcome.cloud_request_id, undo)
    check(outcome, "reg delete", inputs.hostname)
    detail = "registry value deleted" + _restorable(found.type, data)
    return succeeded(detail, vendor_ref=outcome.cloud_request_id, undo=undo)


@rtr_action(Capability.RESTORE_REGISTRY_VALUE, RestoreRegistryValueInput, read_value_restored)
async def restore_registry_value(inputs: RestoreRegistryValueInput, ctx: ActionContext) -> ActionResult:
    """Write a deleted registry value back over RTR with its captured type and data (fixed script
    ``garrison_registry_value``, data in base64); a value already holding that data is left unchanged."""
    async with RtrClient(ctx) as rtr, rtr.on_host(inputs.hostname) as host:
        args = (inputs.key, inputs.name, inputs.type, inputs.wire)
        answer = await run_script(host, REGISTRY, "restore", *args, changes=True)
    if answer.get("complete") is False:
        return pending_change(REGISTRY.name, answer["cloud_request_id"])
    if answer.get("changed") is not True:
        return succeeded("value was already in place", changed=False, vendor_ref=host.device_id)
    return succeeded("registry value restored", vendor_ref=answer["cloud_request_id"])
