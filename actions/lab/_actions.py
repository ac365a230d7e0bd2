"""Lab actions: every response verb against the simulated fleet, with the same contract as a vendor."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address, IPv6Address

from pydantic import BaseModel, ConfigDict, Field

from .._context import ActionContext
from .._errors import PermanentError
from .._registry import TargetKind, action
from .._result import ActionResult, ActionStatus
from ._fleet import LabFleet, RegistryValueSeed


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


class DomainInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1, max_length=253, description="Domain name to block, refanged.")


class IpInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ip: IPv4Address | IPv6Address = Field(description="IP address to block.")


def _fleet(ctx: ActionContext) -> LabFleet:
    if ctx.db is None:
        raise PermanentError("the lab adapter needs the Garrison store (ActionContext.db)")
    return LabFleet(ctx.db)


def _done(changed: bool, did: str, already: str, **extra: object) -> ActionResult:
    return ActionResult(
        status=ActionStatus.SUCCEEDED, detail=did if changed else already, changed=changed, **extra
    )


@action(key="lab.isolate_host", inputs=HostInput, target=TargetKind.HOST, inverse="lab.release_host")
async def isolate_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Cut the host off the network (lab fleet)."""
    device_id, changed = await asyncio.to_thread(_fleet(ctx).set_isolated, ctx.tenant, inputs.hostname, True)
    return _done(changed, "host isolated", "host was already isolated", vendor_ref=device_id)


@action(key="lab.release_host", inputs=HostInput, target=TargetKind.HOST, inverse="lab.isolate_host")
async def release_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Give the host its network back (lab fleet)."""
    device_id, changed = await asyncio.to_thread(_fleet(ctx).set_isolated, ctx.tenant, inputs.hostname, False)
    return _done(changed, "host released", "host was not isolated", vendor_ref=device_id)


@action(
    key="lab.delete_registry_value",
    inputs=RegistryValueInput,
    target=TargetKind.REGISTRY_VALUE,
    inverse="lab.restore_registry_value",
)
async def delete_registry_value(inputs: RegistryValueInput, ctx: ActionContext) -> ActionResult:
    """Delete a registry value (e.g. a Run-key persistence entry), capturing it for rollback."""
    captured = await asyncio.to_thread(
        _fleet(ctx).delete_registry_value, ctx.tenant, inputs.hostname, inputs.key, inputs.name
    )
    if captured is None:
        return _done(False, "", "value was already absent")
    return _done(True, "registry value deleted", "", undo={"hostname": inputs.hostname, **captured})


@action(
    key="lab.restore_registry_value",
    inputs=RestoreRegistryValueInput,
    target=TargetKind.REGISTRY_VALUE,
    inverse="lab.delete_registry_value",
)
async def restore_registry_value(inputs: RestoreRegistryValueInput, ctx: ActionContext) -> ActionResult:
    """Write a deleted registry value back from its captured data (rollback)."""
    seed = RegistryValueSeed(key=inputs.key, name=inputs.name, data=inputs.data, type=inputs.type)
    changed = await asyncio.to_thread(_fleet(ctx).restore_registry_value, ctx.tenant, inputs.hostname, seed)
    return _done(changed, "registry value restored", "value was already in place")


async def _set_block(ctx: ActionContext, kind: str, value: str, blocked: bool) -> ActionResult:
    changed = await asyncio.to_thread(_fleet(ctx).set_block, ctx.tenant, kind, value, blocked)
    if blocked:
        return _done(changed, f"{kind} blocked", f"{kind} was already blocked")
    return _done(changed, f"{kind} unblocked", f"{kind} was not blocked")


@action(key="lab.block_domain", inputs=DomainInput, target=TargetKind.DOMAIN, inverse="lab.unblock_domain")
async def block_domain(inputs: DomainInput, ctx: ActionContext) -> ActionResult:
    """Add the domain to the tenant's DNS/proxy block list (lab)."""
    return await _set_block(ctx, "domain", inputs.domain.lower().rstrip("."), True)


@action(key="lab.unblock_domain", inputs=DomainInput, target=TargetKind.DOMAIN, inverse="lab.block_domain")
async def unblock_domain(inputs: DomainInput, ctx: ActionContext) -> ActionResult:
    """Remove the domain from the tenant's block list (lab)."""
    return await _set_block(ctx, "domain", inputs.domain.lower().rstrip("."), False)


@action(key="lab.block_ip", inputs=IpInput, target=TargetKind.IP, inverse="lab.unblock_ip")
async def block_ip(inputs: IpInput, ctx: ActionContext) -> ActionResult:
    """Add the IP address to the tenant's firewall block list (lab)."""
    return await _set_block(ctx, "ip", str(inputs.ip), True)


@action(key="lab.unblock_ip", inputs=IpInput, target=TargetKind.IP, inverse="lab.block_ip")
async def unblock_ip(inputs: IpInput, ctx: ActionContext) -> ActionResult:
    """Remove the IP address from the tenant's firewall block list (lab)."""
    return await _set_block(ctx, "ip", str(inputs.ip), False)
