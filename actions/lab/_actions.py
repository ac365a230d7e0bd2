"""Lab actions on the host itself: network isolation, and registry values (e.g. Run-key persistence)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .._capabilities import Capability
from .._context import ActionContext
from .._result import ActionResult, TargetState
from ._adapter import done, host_state, lab_action, on_fleet, readers, removed, state
from ._fleet import LabFleet
from ._seeds import RegistryValueSeed


class HostInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: str = Field(
        min_length=1, max_length=255, description="Hostname; must match exactly one device."
    )


class RegistryValueInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: str = Field(min_length=1, max_length=255, description="Host holding the value.")
    key: str = Field(min_length=1, max_length=1024, description=r"Full key path, e.g. HKLM\SOFTWARE\...\Run.")
    name: str = Field(min_length=1, max_length=1024, description="Value name under the key.")


class RestoreRegistryValueInput(RegistryValueInput):
    data: str = Field(default="", description="The data to write back (captured at deletion).")
    type: str = Field(default="REG_SZ", description="Registry value type.")


# -- isolation -----------------------------------------------------------------------------------------


async def _isolated(inputs: HostInput, ctx: ActionContext) -> bool:
    return bool((await host_state(ctx, inputs.hostname))["isolated"])


read_isolated, read_released = readers(_isolated, "host is isolated", "host is not isolated", "isolated")


@lab_action(Capability.ISOLATE_HOST, HostInput, read_state=read_isolated)
async def isolate_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Cut the host off the network (lab fleet)."""
    device_id, changed = await on_fleet(ctx, LabFleet.set_isolated, inputs.hostname, True)
    return done(changed, "host isolated", "host was already isolated", vendor_ref=device_id)


@lab_action(Capability.RELEASE_HOST, HostInput, read_state=read_released)
async def release_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Give the host its network back (lab fleet)."""
    device_id, changed = await on_fleet(ctx, LabFleet.set_isolated, inputs.hostname, False)
    return done(changed, "host released", "host was not isolated", vendor_ref=device_id)


# -- registry values -----------------------------------------------------------------------------------


def _value(host: dict[str, Any], key: str, name: str) -> tuple[str, str, str, str] | None:
    values: list[tuple[str, str, str, str]] = host["registry_values"]
    return next((v for v in values if v[0].lower() == key.lower() and v[1].lower() == name.lower()), None)


async def read_value_deleted(inputs: RegistryValueInput, ctx: ActionContext) -> TargetState:
    present = _value(await host_state(ctx, inputs.hostname), inputs.key, inputs.name) is not None
    return state(not present, "value is absent", "value is present", present=present)


async def read_value_restored(inputs: RestoreRegistryValueInput, ctx: ActionContext) -> TargetState:
    found = _value(await host_state(ctx, inputs.hostname), inputs.key, inputs.name)
    restored = found is not None and (found[2], found[3]) == (inputs.data, inputs.type)
    return state(restored, "value is in place", "value is absent or differs", present=found is not None)


@lab_action(Capability.DELETE_REGISTRY_VALUE, RegistryValueInput, read_state=read_value_deleted)
async def delete_registry_value(inputs: RegistryValueInput, ctx: ActionContext) -> ActionResult:
    """Delete a registry value (e.g. a Run-key persistence entry), capturing it for rollback."""
    captured = await on_fleet(ctx, LabFleet.delete_registry_value, inputs.hostname, inputs.key, inputs.name)
    return removed(captured, inputs.hostname, "registry value deleted", "value was already absent")


@lab_action(Capability.RESTORE_REGISTRY_VALUE, RestoreRegistryValueInput, read_state=read_value_restored)
async def restore_registry_value(inputs: RestoreRegistryValueInput, ctx: ActionContext) -> ActionResult:
    """Write a deleted registry value back from its captured data (rollback)."""
    seed = RegistryValueSeed(key=inputs.key, name=inputs.name, data=inputs.data, type=inputs.type)
    changed = await on_fleet(ctx, LabFleet.restore_registry_value, inputs.hostname, seed)
    return done(changed, "registry value restored", "value was already in place")
