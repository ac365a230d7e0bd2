"""Reconciliation: PENDING ledger rows nobody works on are settled by reading the vendor's state.

A row is left PENDING by a worker that died mid-action (its lease ran out) or by a vendor that accepted
an action not yet in effect (an offline host's containment). Each is claimed again and resumed through
``execute``: APPLIED → succeeded without sending, IN_PROGRESS → still pending, UNKNOWN → failed for a
human, ABSENT → sent once, guardrails re-checked first.
"""

from __future__ import annotations

from actions import registry
from flows.models import Alert
from flows.store import IncidentStatus, LedgerRow, Store
from flows.tenants import TenantDirectory

from ._act import base_context
from ._execute import FAILED, SUCCEEDED, TIMING, Outcome, Timing, execute
from ._targets import Target, host_tags


async def reconcile(
    store: Store, tenants: TenantDirectory, incident_id: str | None = None, *, timing: Timing = TIMING
) -> list[Outcome]:
    """Settle the stale PENDING rows of one incident (or of all); returns what became of each."""
    outcomes: list[Outcome] = []
    touched: set[str] = set()
    for row in store.ledger.stale(incident_id):
        tenant = tenants.get(row.tenant)
        incident = store.incident(row.incident_id)
        if tenant is None or incident is None or incident.tenant != row.tenant:
            outcomes.append(
                Outcome(row.action, row.target, "pending", "its tenant is not configured", "pending")
            )
            continue
        try:
            spec = registry.get(row.action)
        except KeyError:
            outcomes.append(
                Outcome(row.action, row.target, "pending", "its action is not installed", "pending")
            )
            continue
        alerts = [Alert.model_validate(d) for d in store.alert_documents(row.incident_id)]
        host = str(row.inputs.get("hostname", "")).lower()
        target = Target(row.target, row.inputs, host_tags(alerts).get(host, frozenset()))
        original = _original(store, row)
        ctx = base_context(store, tenant, row.incident_id)
        outcomes.append(
            await execute(
                spec, target, ctx, store, row.round, tenant=tenant, timing=timing, reverses=original
            )
        )
        touched.add(row.incident_id)
    for touched_id in sorted(touched):
        resettle(store, touched_id)
    return outcomes


def _original(store: Store, row: LedgerRow) -> LedgerRow | None:
    if row.reverses is None:
        return None
    return next((r for r in store.ledger.rows(row.incident_id) if r.id == row.reverses), None)


def resettle(store: Store, incident_id: str) -> str | None:
    """After approvals or reconciliation: an incident waiting on its actions is contained once every
    action of its current round is in place. Returns the new status, or None when unchanged."""
    incident = store.incident(incident_id)
    if incident is None or incident.status not in (
        IncidentStatus.AWAITING_APPROVAL,
        IncidentStatus.RESPONDING,
    ):
        return None
    rows = [r for r in store.ledger.rows(incident_id) if r.round == incident.round and r.reverses is None]
    if not rows or any(r.status != SUCCEEDED for r in rows):
        failed = [r for r in rows if r.status == FAILED]
        if failed:
            store.add_timeline(incident_id, "act", f"{len(failed)} action(s) failed: an analyst must look")
        return None
    store.set_status(incident_id, IncidentStatus.CONTAINED, f"{len(rows)} action(s) in place", "act")
    return IncidentStatus.CONTAINED.value
