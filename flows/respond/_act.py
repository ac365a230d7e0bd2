"""The act step as a plain function: every action on every target of an incident, concurrently.

A step names capabilities (or explicit action keys); each is bound to the action of the tenant's own
adapter that does it. One failure does not stop the others: each target has its own ledger row and
outcome, and a capability the tenant has no adapter for is an outcome too (held for a person), never
a silent success. The tenant's policy and vendors are read as they are now, since guardrails are
decided when an action executes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from actions import ActionContext, ActionSpec, Unbound
from actions.http import shared_pool
from flows.models import Alert
from flows.store import IncidentStatus, IncidentView, Store
from flows.tenants import Tenant

from ._execute import TIMING, UNBOUND, Outcome, Timing, execute, not_bound
from ._guardrails import Guard
from ._targets import Target, acts_on, targets_for
from ._vendors import vendor_settings


def base_context(store: Store, tenant: Tenant, incident_id: str, *, dry_run: bool = False) -> ActionContext:
    """The context every action of this incident starts from (secrets are added per action)."""
    return ActionContext(
        tenant=tenant.id,
        incident_id=incident_id,
        dry_run=dry_run,
        db=store.engine,
        vendors=vendor_settings(tenant),
        # Rate limits and circuit breakers every worker of this store shares.
        http=shared_pool(store.engine),
    )


@dataclass(frozen=True)
class Job:
    """One action on one target: what the playbook asked (``wanted``: a capability or an action key) and
    the tenant's action that does it, or why none does (then nothing is sent, and the ledger says so)."""

    wanted: str
    target: Target
    spec: ActionSpec | None
    unbound: Unbound | None = None

    @property
    def name(self) -> str:
        """How the job reads in the Prefect UI: ``isolate_host WS-FINANCE-07``."""
        return f"{self.wanted} {self.target.label}"[:120]


def jobs_for(store: Store, incident: IncidentView, tenant: Tenant, actions: list[str]) -> list[Job]:
    """Every action of ``actions`` (capabilities, or explicit action keys) on every target of its kind;
    what has no target or no adapter is noted on the incident's timeline."""
    if tenant.id != incident.tenant:
        raise PermissionError(f"incident {incident.id} belongs to another tenant")  # never cross tenants
    alerts = [Alert.model_validate(document) for document in store.alert_documents(incident.id)]
    jobs: list[Job] = []
    for wanted in actions:
        kind = acts_on(wanted)
        targets = targets_for(kind, incident, alerts)
        try:
            spec = tenant.action_for(wanted)
        except Unbound as unbound:
            what = f"{wanted}: {unbound}" + ("" if targets else f" (and no {kind} target in this incident)")
            store.add_timeline(incident.id, "act", what)
            jobs.extend(Job(wanted, target, None, unbound) for target in targets)
            continue
        if not targets:
            store.add_timeline(incident.id, "act", f"{spec.key}: no {kind} target in this incident")
        jobs.extend(Job(wanted, target, spec) for target in targets)
    return jobs


async def run_job(
    job: Job,
    store: Store,
    incident: IncidentView,
    tenant: Tenant,
    ctx: ActionContext,
    *,
    guard: Guard | None = None,
    timing: Timing = TIMING,
) -> Outcome:
    """Run one job through the ledger (``execute``), or record that no adapter of the tenant does it."""
    if job.spec is None:
        why = job.unbound or Unbound(f"no adapter for {job.wanted} in tenant {tenant.id}")
        return await not_bound(job.wanted, job.target, ctx, store, incident.round, why)
    guard = guard or Guard(tenant.policy)
    return await execute(
        job.spec, job.target, ctx, store, incident.round, tenant=tenant, guard=guard, timing=timing
    )


async def act_on_incident(
    store: Store,
    incident: IncidentView,
    tenant: Tenant,
    actions: list[str],
    *,
    dry_run: bool = False,
    timing: Timing = TIMING,
    ctx: ActionContext | None = None,
) -> list[Outcome]:
    """Run each of ``actions`` (capabilities, or explicit action keys) on every target of its kind, all
    concurrently in this event loop (the respond flow runs each job as its own task instead)."""
    jobs = jobs_for(store, incident, tenant, actions)
    ctx = ctx or base_context(store, tenant, incident.id, dry_run=dry_run)
    guard = Guard(tenant.policy)
    return list(
        await asyncio.gather(
            *(run_job(job, store, incident, tenant, ctx, guard=guard, timing=timing) for job in jobs)
        )
    )


_WAITS = {
    "approval": "awaiting two-person approval",
    "refused": "refused by a guardrail",
    "blast_radius": "halted by the blast-radius cap",
    "pending": "not confirmed by the vendor yet",
    "unbound": "not run for want of an adapter",
}


def settle(store: Store, incident_id: str, outcomes: list[dict[str, object]]) -> tuple[bool, str]:
    """After an act step: (contained, why a person must look). Contained only when every action is in
    place. Anything else — an action held by a guardrail, an approval or the vendor, a capability no
    adapter of the tenant does, an action that failed, or nothing to act on at all — sends the incident
    to a human: containment never goes quiet."""
    held = [o for o in outcomes if o.get("hold")]
    failed = [o for o in outcomes if o["status"] == "failed" and not o.get("hold")]
    parts = []
    if held:
        kinds = sorted({str(o["hold"]) for o in held})
        parts.append(f"{len(held)} action(s) {', '.join(_WAITS.get(k, k) for k in kinds)}")
    missing = [str(o["action"]).removeprefix(f"{UNBOUND}.") for o in held if o.get("hold") == "unbound"]
    missing = list(dict.fromkeys(missing))
    if missing:  # what the analyst must bind (or do by hand), each named once
        parts.append(f"no adapter for {', '.join(missing)} in this tenant (see its adapters and bind)")
    if failed:
        parts.append(f"{len(failed)} action(s) failed")
    if parts:
        first = (held or failed)[0]
        reason = f"{'; '.join(parts)}; first: {first['action']} on {first['target']}: {first['detail']}"
        store.set_status(incident_id, IncidentStatus.AWAITING_APPROVAL, reason, "act")
        return False, reason
    if not outcomes:
        reason = "containment found nothing to act on (no host, registry value or malicious indicator)"
        store.set_status(incident_id, IncidentStatus.AWAITING_APPROVAL, reason, "act")
        return False, reason
    store.set_status(incident_id, IncidentStatus.CONTAINED, f"{len(outcomes)} action(s) in place", "act")
    return True, ""
