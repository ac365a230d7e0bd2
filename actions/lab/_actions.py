"""Lab actions: every response verb against the simulated fleet, with the same contract as a vendor."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .._context import ActionContext
from .._errors import PermanentError
from .._registry import TargetKind, action
from .._result import ActionResult, ActionStatus, Effect, TargetState
from ._fleet import LabFleet, RegistryValueSeed

# The lab is a simulation: its "vendor documentation" is the fleet's own code (a path in this repository).
DOC = "actions/lab/_fleet.py"


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


def state(applied: bool, yes: str, no: str, **observed: object) -> TargetState:
    return TargetState(
        effect=Effect.APPLIED if applied else Effect.ABSENT, detail=yes if applied else no, observed=observed
    )


async def _host(ctx: ActionContext, hostname: str) -> dict[str, Any]:
    return await asyncio.to_thread(_fleet(ctx).host_state, ctx.tenant, hostname)


async def read_isolated(inputs: HostInput, ctx: ActionContext) -> TargetState:
    isolated = bool((await _host(ctx, inputs.hostname))["isolated"])
    return state(isolated, "host is isolated", "host is not isolated", isolated=isolated)


async def read_released(inputs: HostInput, ctx: ActionContext) -> TargetState:
    isolated = bool((await _host(ctx, inputs.hostname))["isolated"])
    return state(not isolated, "host is not isolated", "host is isolated", isolated=isolated)


def _value(host: dict[str, object], key: str, name: str) -> tuple[str, str, str, str] | None:
    values: list[tuple[str, str, str, str]] = host["registry_values"]  # type: ignore[assignment]
    return next((v for v in values if v[0].lower() == key.lower() and v[1].lower() == name.lower()), None)


async def read_value_deleted(inputs: RegistryValueInput, ctx: ActionContext) -> TargetState:
    present = _value(await _host(ctx, inputs.hostname), inputs.key, inputs.name) is not None
    return state(not present, "value is absent", "value is present", present=present)


async def read_value_restored(inputs: RestoreRegistryValueInput, ctx: ActionContext) -> TargetState:
    found = _value(await _host(ctx, inputs.hostname), inputs.key, inputs.name)
    restored = found is not None and (found[2], found[3]) == (inputs.data, inputs.type)
    return state(restored, "value is in place", "value is absent or differs", present=found is not None)


def read_block(kind: str, blocked: bool, field: str):  # type: ignore[no-untyped-def]
    async def read(inputs: BaseModel, ctx: ActionContext) -> TargetState:
        value = _normal(kind, str(getattr(inputs, field)).strip())
        listed = await asyncio.to_thread(_fleet(ctx).is_blocked, ctx.tenant, kind, value)
        text = f"{kind} is {'' if listed else 'not '}blocked"
        return state(listed == blocked, text, text, blocked=listed)

    return read


def _normal(kind: str, value: str) -> str:
    return value.lower().rstrip(".") if kind == "domain" else value


def _done(changed: bool, did: str, already: str, **extra: Any) -> ActionResult:
    return ActionResult(
        status=ActionStatus.SUCCEEDED, detail=did if changed else already, changed=changed, **extra
    )


@action(
    key="lab.isolate_host",
    inputs=HostInput,
    target=TargetKind.HOST,
    inverse="lab.release_host",
    doc_url=DOC,
    read_state=read_isolated,
    idempotent=True,
)
async def isolate_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Cut the host off the network (lab fleet)."""
    device_id, changed = await asyncio.to_thread(_fleet(ctx).set_isolated, ctx.tenant, inputs.hostname, True)
    return _done(changed, "host isolated", "host was already isolated", vendor_ref=device_id)


@action(
    key="lab.release_host",
    inputs=HostInput,
    target=TargetKind.HOST,
    inverse="lab.isolate_host",
    doc_url=DOC,
    read_state=read_released,
    idempotent=True,
)
async def release_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Give the host its network back (lab fleet)."""
    device_id, changed = await asyncio.to_thread(_fleet(ctx).set_isolated, ctx.tenant, inputs.hostname, False)
    return _done(changed, "host released", "host was not isolated", vendor_ref=device_id)


@action(
    key="lab.delete_registry_value",
    inputs=RegistryValueInput,
    target=TargetKind.REGISTRY_VALUE,
    inverse="lab.restore_registry_value",
    doc_url=DOC,
    read_state=read_value_deleted,
    idempotent=True,
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
    doc_url=DOC,
    read_state=read_value_restored,
    idempotent=True,
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


@action(
    key="lab.block_domain",
    inputs=DomainInput,
    target=TargetKind.DOMAIN,
    inverse="lab.unblock_domain",
    doc_url=DOC,
    read_state=read_block("domain", True, "domain"),
    idempotent=True,
)
async def block_domain(inputs: DomainInput, ctx: ActionContext) -> ActionResult:
    """Add the domain to the tenant's DNS/proxy block list (lab)."""
    return await _set_block(ctx, "domain", inputs.domain.lower().rstrip("."), True)


@action(
    key="lab.unblock_domain",
    inputs=DomainInput,
    target=TargetKind.DOMAIN,
    inverse="lab.block_domain",
    doc_url=DOC,
    read_state=read_block("domain", False, "domain"),
    idempotent=True,
)
async def unblock_domain(inputs: DomainInput, ctx: ActionContext) -> ActionResult:
    """Remove the domain from the tenant's block list (lab)."""
    return await _set_block(ctx, "domain", inputs.domain.lower().rstrip("."), False)


@action(
    key="lab.block_ip",
    inputs=IpInput,
    target=TargetKind.IP,
    inverse="lab.unblock_ip",
    doc_url=DOC,
    read_state=read_block("ip", True, "ip"),
    idempotent=True,
)
async def block_ip(inputs: IpInput, ctx: ActionContext) -> ActionResult:
    """Add the IP address to the tenant's firewall block list (lab)."""
    return await _set_block(ctx, "ip", str(inputs.ip), True)


@action(
    key="lab.unblock_ip",
    inputs=IpInput,
    target=TargetKind.IP,
    inverse="lab.block_ip",
    doc_url=DOC,
    read_state=read_block("ip", False, "ip"),
    idempotent=True,
)
async def unblock_ip(inputs: IpInput, ctx: ActionContext) -> ActionResult:
    """Remove the IP address from the tenant's firewall block list (lab)."""
    return await _set_block(ctx, "ip", str(inputs.ip), False)
