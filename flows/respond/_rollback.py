"""Rollback: undo an incident's containment (a false positive), newest action first.

Each succeeded action is undone by its declared inverse, with the inputs its result captured (``undo``:
e.g. the registry data it deleted) or else its own inputs, through the ledger under a key of its own
(so a rollback runs once too) and on the timeline. Actions declared without an inverse are reported as
not reversible; actions whose effect was already in place before us are left alone (undoing them would
undo someone else's work).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError

from actions import ActionSpec, registry
from flows.store import IncidentView, LedgerRow, Store
from flows.tenants import Tenant

from ._act import base_context
from ._execute import SUCCEEDED, TIMING, Timing, execute
from ._targets import Target


@dataclass(frozen=True)
class RollbackItem:
    action: str  # the action being undone
    target: str
    inverse: str | None
    status: (
        str  # would_run | succeeded | failed | pending | skipped | not_reversible | nothing_to_undo | done
    )
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Step:
    row: LedgerRow
    inverse: ActionSpec | None
    inputs: dict[str, Any]
    item: RollbackItem


def rollback_steps(store: Store, incident: IncidentView) -> list[_Step]:
    """What a rollback would do, newest action first; nothing is changed."""
    rows = store.ledger.rows(incident.id)
    undone = {r.reverses: r for r in rows if r.reverses is not None}
    done = (r for r in rows if r.reverses is None and r.status == SUCCEEDED)
    return [_step(row, undone.get(row.id)) for row in sorted(done, key=lambda r: -r.id)]


def _step(row: LedgerRow, previous: LedgerRow | None) -> _Step:
    def step(status: str, detail: str, inverse: ActionSpec | None = None, inputs: Any = None) -> _Step:
        return _Step(
            row, inverse, inputs or {}, RollbackItem(row.action, row.target, row.inverse, status, detail)
        )

    if row.inverse is None:
        return step("not_reversible", f"{row.action} declares no inverse")
    if row.changed is False:
        return step("nothing_to_undo", "the effect was already in place before this incident")
    if previous is not None and previous.status == SUCCEEDED:
        return step("done", f"already rolled back ({previous.detail})")
    try:
        inverse = registry.get(row.inverse)
    except KeyError:
        return step("failed", f"inverse {row.inverse} is not installed")
    inputs = row.undo or row.inputs
    try:
        inverse.inputs.model_validate(inputs)
    except ValidationError as error:
        return step("failed", f"{row.inverse} cannot take the recorded inputs: {error.errors()[0]['msg']}")
    return step("would_run", f"{row.inverse} on {row.target}", inverse, inputs)


async def rollback_incident(
    store: Store, tenant: Tenant, incident: IncidentView, *, by: str | None = None, timing: Timing = TIMING
) -> list[RollbackItem]:
    """Run the inverses (one at a time, newest first) and report per action."""
    if tenant.id != incident.tenant:
        raise PermissionError(f"incident {incident.id} belongs to another tenant")
    steps = rollback_steps(store, incident)
    runnable = [s for s in steps if s.inverse is not None]
    who = f" by {by}" if by else ""
    store.add_timeline(incident.id, "rollback", f"rollback of {len(runnable)} action(s) requested{who}")
    ctx = base_context(store, tenant, incident.id)
    items = []
    for step in steps:
        if step.inverse is None:
            items.append(step.item)
            continue
        target = Target(step.row.target, step.inputs)
        outcome = await execute(
            step.inverse, target, ctx, store, step.row.round, tenant=tenant, timing=timing, reverses=step.row
        )
        items.append(
            RollbackItem(step.row.action, step.row.target, step.row.inverse, outcome.status, outcome.detail)
        )
    undone = sum(1 for i in items if i.status == SUCCEEDED)
    store.add_timeline(
        incident.id, "rollback", f"rollback finished: {undone} of {len(runnable)} action(s) undone"
    )
    return items
