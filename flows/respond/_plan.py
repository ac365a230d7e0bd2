"""Plans: what the playbook would do to each target, with the guardrail verdict and the vendor's view.

A plan reads (the ledger, the vendor's current state through ``read_state``) and writes nothing: no
ledger row, no vendor write. ``garrison plan`` and the playbook-level ``dry_run`` both use it. A step's
capability that the tenant has no adapter for is a plan error for that step: its items say ``unbound``
and why, per target (or once, when the incident has none).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from actions import ActionContext, ActionError, ActionSpec, Effect, TargetKind, TargetNotFound, Unbound
from actions.http import shared_pool
from flows.models import Alert
from flows.store import IncidentView, LedgerRow, Store, idempotency_key
from flows.tenants import Tenant
from playbooks import ActStep, Playbook

from ._guardrails import Decision, Guard, Ruling
from ._targets import Target, acts_on, targets_for
from ._vendors import vendor_settings, with_secrets


@dataclass(frozen=True)
class PlanItem:
    step: str
    when: list[str] | None  # verdicts the step runs for; None: always
    action: str  # the bound action's key; the capability itself when the tenant has no adapter for it
    kind: str
    target: str
    verdict: str  # allowed | needs_approval | refused | unbound (a plan error: no adapter does it)
    reason: str
    vendor: str  # the adapter's view: in place / would run / cannot tell / error
    ledger: str | None  # the ledger row's status when this key already has one
    call: str = "-"  # the vendor request the action makes for this target (never sent by a plan)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def vendor_view(spec: ActionSpec, target: Target, ctx: ActionContext) -> str:
    """What the vendor says now, read-only; never raises (a plan shows problems, it does not stop)."""
    if not spec.can_read_state:
        return f"would run {spec.key} (the adapter cannot read state)"
    if spec.read_sends:  # a plan changes nothing and queues nothing on the customer's hosts
        return f"would run {spec.key} (state not read: reading runs a script on the host)"
    try:
        state = await spec.read_state(target.inputs, ctx)
    except TargetNotFound as error:
        return f"no action: {error}"
    except ActionError as error:
        return f"cannot read: {type(error).__name__}: {error}"
    except Exception as error:  # noqa: BLE001 - a broken adapter is one line of the plan, not a crash
        return f"cannot read: adapter error {type(error).__name__}"
    if state.effect is Effect.APPLIED:
        return f"already in place ({state.detail})"
    if state.effect is Effect.IN_PROGRESS:
        return f"in progress at the vendor ({state.detail})"
    if state.effect is Effect.UNKNOWN:
        return f"vendor cannot tell ({state.detail}); would run {spec.key}"
    return f"would run {spec.key} ({state.detail})"


class Planner:
    """Plans for one incident: guardrails as at execution, with blast-radius room counted as it goes."""

    def __init__(self, store: Store, tenant: Tenant, incident: IncidentView) -> None:
        self.store = store
        self.tenant = tenant
        self.incident = incident
        self.guard = Guard(tenant.policy)
        self.ledger = {row.idempotency_key: row for row in store.ledger.rows(incident.id)}
        self._isolations: dict[str, int] = {}  # planned hosts by cap window, beyond those in the ledger

    async def item(
        self, spec: ActionSpec, target: Target, ctx: ActionContext, step: str = "", when: Any = None
    ) -> PlanItem:
        key = idempotency_key(self.tenant.id, self.incident.id, spec.key, target.label, self.incident.round)
        row: LedgerRow | None = self.ledger.get(key)
        decision = self.guard.decide(spec, spec.target, target.inputs, target.tags)
        if not decision.refused and row is None:
            decision = self._room(spec, decision)
        scoped = await with_secrets(ctx, spec, self.tenant)
        if row is not None and row.status == "succeeded":
            view = f"done ({row.detail})" if row.detail else "done"
        else:
            view = await vendor_view(spec, target, scoped)
        return PlanItem(
            step=step,
            when=when,
            action=spec.key,
            kind=str(spec.target),
            target=target.label,
            verdict=str(decision.verdict),
            reason=decision.reason,
            vendor=view,
            ledger=row.status if row else None,
            call=spec.call_for(target.inputs),
        )

    def _room(self, spec: ActionSpec, decision: Decision) -> Decision:
        cap = self.guard.cap(spec)
        if cap is None:
            return decision
        incident_used, hour_used = self.store.ledger.isolated_hosts(cap, self.tenant.id, self.incident.id)
        planned = self._isolations.get("planned", 0)
        for used, limit, scope in (
            (incident_used, cap.per_incident, "this incident"),
            (hour_used, cap.per_tenant_hour, "this tenant in the last hour"),
        ):
            if limit is not None and used + planned >= limit:
                reason = f"blast radius: {used + planned} host(s) would be isolated for {scope} (cap {limit})"
                return Decision(Ruling.REFUSED, reason, "blast_radius")
        self._isolations["planned"] = planned + 1
        return decision


async def plan_incident(
    store: Store, tenant: Tenant, incident: IncidentView, playbook: Playbook
) -> list[PlanItem]:
    """Every action of every act step, per target, as the playbook would run it now."""
    alerts = [Alert.model_validate(document) for document in store.alert_documents(incident.id)]
    planner = Planner(store, tenant, incident)
    ctx = ActionContext(
        tenant=tenant.id,
        incident_id=incident.id,
        dry_run=True,
        db=store.engine,
        vendors=vendor_settings(tenant),
        http=shared_pool(store.engine),
    )
    items: list[PlanItem] = []
    for step in playbook.steps:
        if not isinstance(step, ActStep):
            continue
        when = [str(v) for v in step.when.verdict] if step.when.verdict is not None else None
        for wanted in step.actions:
            kind = acts_on(wanted)
            targets = targets_for(kind, incident, alerts)
            try:
                spec = tenant.action_for(wanted)
            except Unbound as unbound:
                for label in [t.label for t in targets] or ["-"]:
                    items.append(
                        PlanItem(step.id, when, wanted, str(kind), label, "unbound", str(unbound), "-", None)
                    )
                continue
            if not targets:
                why = f"no {kind} target in this incident"
                if kind in (TargetKind.IP, TargetKind.DOMAIN, TargetKind.URL):
                    why += " (blocks take only indicators intel calls malicious)"
                items.append(PlanItem(step.id, when, spec.key, str(kind), "-", "allowed", why, "-", None))
            for target in targets:
                items.append(await planner.item(spec, target, ctx, step.id, when))
    return items
