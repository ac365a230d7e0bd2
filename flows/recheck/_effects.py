"""Is the remediation still in place? Each succeeded, non-reverted ledger row of an incident's last round
is read again from its vendor with the row's own inputs (``ActionSpec.read_state``), changing nothing.

MyKings came back through the Run key it had used for two years: a host re-imaged from an old backup, an
isolation lifted by hand, a block list rebuilt without ours. An action that cannot read its state, a
reader that raises, or a vendor that cannot tell is "cannot verify", never "fine".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace

from actions import ActionContext, ActionSpec, Capability, Effect, registry, resolve_secrets
from actions.http import shared_pool
from flows.models import defang
from flows.store import IncidentView, LedgerRow, Store
from flows.tenants import Tenant

from ._findings import EffectCheck

SUCCEEDED = "succeeded"
READ_CONCURRENCY = 16  # vendor reads in flight at once across a batch (each vendor also paces its own)
_RUN_KEYS = ("\\run", "\\runonce")


def effect_rows(store: Store, incident: IncidentView) -> list[LedgerRow]:
    """The rows whose effect should still hold: succeeded in the incident's last round, not rolled back."""
    rows = store.ledger.rows(incident.id)
    undone = {r.reverses for r in rows if r.reverses is not None and r.status == SUCCEEDED}
    return [
        r
        for r in rows
        if r.round == incident.round and r.reverses is None and r.status == SUCCEEDED and r.id not in undone
    ]


async def verify(
    rows_by_incident: Mapping[str, Sequence[LedgerRow]], tenants: Mapping[str, Tenant], store: Store
) -> dict[str, list[EffectCheck]]:
    """Read every row's state, all incidents of a batch at once within ``READ_CONCURRENCY``."""
    gate = asyncio.Semaphore(READ_CONCURRENCY)

    async def one(row: LedgerRow) -> EffectCheck:
        async with gate:
            return await _check(row, tenants.get(row.tenant), store)

    checks: dict[str, list[EffectCheck]] = {}
    for incident_id, rows in rows_by_incident.items():
        checks[incident_id] = list(await asyncio.gather(*(one(row) for row in rows)))
    return checks


async def _check(row: LedgerRow, tenant: Tenant | None, store: Store) -> EffectCheck:
    def unverifiable(why: str) -> EffectCheck:
        return EffectCheck(action=row.action, target=row.target, state="unverifiable", detail=why[:500])

    if tenant is None:
        return unverifiable(f"tenant {row.tenant} is not configured")
    try:
        spec = registry.get(row.action)
    except KeyError:
        return unverifiable(f"action {row.action} is not installed")
    if not spec.can_read_state:
        return unverifiable(f"{spec.key} cannot read the target's state")
    if spec.read_sends and not tenant.recheck.read_host_state:
        return unverifiable(f"reading it runs a script on the host, which tenant {tenant.id} turned off")
    try:
        ctx = await _context(store, tenant, row.incident_id, spec)
        state = await spec.read_state(row.inputs, ctx)
    except Exception as error:  # noqa: BLE001 - any adapter failure is one unverifiable effect, not a crash
        return unverifiable(f"{type(error).__name__}: {error}")
    if state.effect is Effect.APPLIED:
        return EffectCheck(action=row.action, target=row.target, state="holds", detail=state.detail[:500])
    if state.effect is Effect.ABSENT:
        return EffectCheck(
            action=row.action,
            target=row.target,
            state="lost",
            detail=state.detail[:500],
            lost=lost(row, spec),
        )
    return unverifiable(f"the vendor says {state.effect.value}: {state.detail}")


async def _context(store: Store, tenant: Tenant, incident_id: str, spec: ActionSpec) -> ActionContext:
    # As the respond engine builds it: the tenant's non-secret vendor settings, and only the secrets this
    # action declared, resolved from its own vendor's references (in a thread: a Prefect block may load).
    ctx = ActionContext(
        tenant=tenant.id,
        incident_id=incident_id,
        db=store.engine,
        vendors={name: dict(config.settings) for name, config in tenant.adapters.items()},
        # The vendor's rate limits and circuit breaker as every worker of this store shares them.
        http=shared_pool(store.engine),
    )
    config = tenant.adapters.get(spec.vendor)
    if not spec.secrets or config is None:
        return ctx
    return replace(ctx, secrets=await asyncio.to_thread(resolve_secrets, spec.secrets, config.secrets))


def lost(row: LedgerRow, spec: ActionSpec) -> str:
    """Why the incident reopens, in an analyst's words: ``Run-key value start is back on WS-FINANCE-07``."""
    given = row.inputs
    host = str(given.get("hostname") or "")
    name = str(given.get("name") or "")
    on = f" on {host}" if host else ""
    capability = spec.capability
    if capability is Capability.DELETE_REGISTRY_VALUE:
        key = str(given.get("key") or "")
        if key.lower().endswith(_RUN_KEYS):
            return f"Run-key value {name} is back{on}"
        return f"registry value {key}\\{name} is back{on}"
    if capability is Capability.ISOLATE_HOST:
        return f"{host or row.target} is no longer isolated"
    if capability in (
        Capability.BLOCK_IP,
        Capability.BLOCK_DOMAIN,
        Capability.BLOCK_URL,
        Capability.BLOCK_HASH,
    ):
        value = next((str(v) for k, v in given.items() if k in ("ip", "domain", "url", "sha256")), row.target)
        return f"the block of {defang(value)} is gone"
    if capability is Capability.DELETE_SCHEDULED_TASK:
        return f"scheduled task {name} is back{on}"
    if capability is Capability.DISABLE_SERVICE:
        return f"service {name} is enabled again{on}"
    if capability is Capability.QUARANTINE_FILE:
        return f"file {given.get('path') or row.target} is back{on}"
    if capability is Capability.DISABLE_ACCOUNT:
        return f"account {given.get('account') or row.target} is enabled again"
    if capability is Capability.KILL_PROCESS:
        return f"process {name or given.get('pid')} runs again{on}"
    return f"{row.action} on {row.target} is no longer in place"
