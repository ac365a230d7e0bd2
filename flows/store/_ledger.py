"""The action ledger: one row per idempotency key, claimed by one worker at a time under a lease.

A worker *claims* a key before calling the vendor: the row is PENDING, owned by the worker until
``lease_until``, and the worker renews the lease (heartbeat) while it waits. Another worker finding a
PENDING row with a live lease leaves it alone; one finding the lease run out knows its owner died and
*resumes* it, which means reconciling by reading the vendor's state before anything is sent.

Guardrails that depend on what else happened (blast-radius caps, approvals) are checked inside the
claim's transaction, so fifty concurrent isolations cannot all see "nothing isolated yet".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ._approvals import ApprovalNeed, ApprovalView, approvals, approve, consume, start_approved_round
from ._audit import append_audit
from ._rows import aware, from_row, note
from ._schema import ActionRow, ActionStatusValue, utcnow

PENDING, SUCCEEDED, FAILED, SKIPPED = (
    ActionStatusValue.PENDING,
    ActionStatusValue.SUCCEEDED,
    ActionStatusValue.FAILED,
    ActionStatusValue.SKIPPED,
)


def idempotency_key(tenant: str, incident_id: str, action: str, target: str, round: int = 1) -> str:
    """The ledger key. A reopened incident (round 2, 3 …) may act on the same target again."""
    scope = incident_id if round == 1 else f"{incident_id}#{round}"
    return hashlib.sha256("\x1f".join((tenant, scope, action, target)).encode()).hexdigest()


def undo_key(original_key: str, inverse: str) -> str:
    """The key of the rollback of one ledger row: its own key, so a rollback runs once too."""
    return hashlib.sha256("\x1f".join(("undo", original_key, inverse)).encode()).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """The ledger row for an idempotency key, and what this call got: ``created`` it, ``claimed`` it (may
    act), or ``resumed`` a dead worker's PENDING row (must read the vendor's state before sending)."""

    id: int
    status: str
    created: bool
    undo: dict[str, Any]
    claimed: bool = False
    resumed: bool = False
    detail: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IsolationCap:
    """Blast-radius caps: distinct hosts isolated (pending or done) by any of ``actions``."""

    actions: frozenset[str]
    per_incident: int | None
    per_tenant_hour: int | None


@dataclass(frozen=True)
class LedgerRow:
    id: int
    idempotency_key: str
    tenant: str
    incident_id: str
    action: str
    target: str
    inputs: dict[str, Any]
    status: str
    detail: str
    vendor_ref: str | None
    inverse: str | None
    undo: dict[str, Any]
    owner: str | None
    lease_until: datetime | None
    attempts: int
    changed: bool | None
    reverses: int | None
    round: int
    created_at: datetime
    updated_at: datetime

    def stale(self, now: datetime | None = None) -> bool:
        """A PENDING row nobody is working on: its worker died, or it waits for the vendor (IN_PROGRESS)."""
        if self.status != PENDING:
            return False
        return self.lease_until is None or self.lease_until <= (now or utcnow())


class Ledger:
    """Every read and write of the ledger and approvals; each method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- claims ----------------------------------------------------------------------------------------

    def claim(
        self,
        *,
        tenant: str,
        incident_id: str,
        action: str,
        target: str,
        inputs: dict[str, Any],
        inverse: str | None,
        owner: str,
        lease_seconds: float,
        round: int = 1,
        key: str | None = None,
        reverses: int | None = None,
        cap: IsolationCap | None = None,
        approval: ApprovalNeed | None = None,
    ) -> LedgerEntry:
        """Take the key for ``owner`` (see the module doc); guardrail refusals are written as SKIPPED."""
        key = key or idempotency_key(tenant, incident_id, action, target, round)
        fresh = _fresh_row(key, tenant, incident_id, action, target, inputs, inverse, round, reverses)
        return _retried(
            lambda: self._claim_once(key, fresh, owner, lease_seconds, cap, approval),
            f"could not claim ledger key {key[:12]}",
        )

    def _claim_once(
        self,
        key: str,
        fresh: dict[str, Any],
        owner: str,
        lease_seconds: float,
        cap: IsolationCap | None,
        approval: ApprovalNeed | None,
    ) -> LedgerEntry:
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            _serialize(session, fresh["tenant"])
            row = session.scalar(select(ActionRow).where(ActionRow.idempotency_key == key).with_for_update())
            created = row is None
            if row is None:
                row = ActionRow(**fresh, status=PENDING, attempts=0)
                session.add(row)
                session.flush()
            elif row.status in (SUCCEEDED, FAILED):
                return _entry(row, created=False)
            elif row.status == PENDING and row.owner not in (None, owner) and _live(row, now):
                return _entry(row, created=False)  # a live worker holds it
            resumed = not created and row.status == PENDING
            if not resumed:  # a resumed row passed these checks when it was first claimed
                refusal = _over_cap(session, row, cap, now) or consume(session, row, approval, now)
                if refusal:
                    again = row.status == SKIPPED and row.detail == refusal and not created
                    row.status, row.detail, row.owner, row.lease_until = SKIPPED, refusal, None, None
                    if not again:  # the same refusal on every re-run is not news
                        _timeline(session, row, f"{row.action} on {row.target}: refused ({refusal})")
                        append_audit(session, "respond", "action.refused", key, {"reason": refusal})
                    return _entry(row, created=created)
            row.status, row.owner = PENDING, owner
            row.lease_until = now + timedelta(seconds=lease_seconds)
            row.attempts = (row.attempts or 0) + 1
            event = "action.resumed" if resumed else "action.pending"
            append_audit(session, "respond", event, key, {"action": row.action, "target": row.target})
            return _entry(row, created=created, claimed=True, resumed=resumed)

    def renew(self, entry_id: int, owner: str, lease_seconds: float) -> bool:
        """The heartbeat: extend the lease; False when the row is no longer ours."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(ActionRow)
                .where(ActionRow.id == entry_id, ActionRow.owner == owner, ActionRow.status == PENDING)
                .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
            )
            renewed = cast("CursorResult[Any]", result).rowcount  # an UPDATE's result has a rowcount
            return bool(renewed)

    def finish(
        self,
        entry_id: int,
        owner: str,
        *,
        status: str,
        detail: str,
        vendor_ref: str | None = None,
        undo: dict[str, Any] | None = None,
        changed: bool | None = None,
    ) -> bool:
        """Record the outcome, if the row is still ours (a worker that lost its lease must not overwrite
        what its successor found). PENDING releases the row for a later re-check of the vendor's state."""
        with Session(self.engine) as session, session.begin():
            row = session.scalar(select(ActionRow).where(ActionRow.id == entry_id).with_for_update())
            if row is None or row.owner != owner or row.status != PENDING:
                return False
            row.status, row.detail, row.owner, row.lease_until = status, detail, None, None
            row.vendor_ref = vendor_ref or row.vendor_ref
            row.undo = undo or row.undo or {}
            row.changed = changed
            message = f"{row.action} on {row.target}: {status}" + (f" ({detail})" if detail else "")
            _timeline(session, row, message)
            append_audit(session, "respond", f"action.{status}", row.idempotency_key, {"detail": detail})
            return True

    def refuse(
        self,
        *,
        tenant: str,
        incident_id: str,
        action: str,
        target: str,
        inputs: dict[str, Any],
        inverse: str | None,
        reason: str,
        round: int = 1,
        key: str | None = None,
        reverses: int | None = None,
    ) -> LedgerEntry:
        """Write a guardrail refusal as SKIPPED (nothing was sent). A row already done or pending keeps
        its state: the refusal cannot undo what happened, and a pending row needs reconciling."""
        key = key or idempotency_key(tenant, incident_id, action, target, round)
        fresh = _fresh_row(key, tenant, incident_id, action, target, inputs, inverse, round, reverses)
        return _retried(
            lambda: self._refuse_once(key, fresh, reason),
            f"could not record the refusal of ledger key {key[:12]}",
        )

    def _refuse_once(self, key: str, fresh: dict[str, Any], reason: str) -> LedgerEntry:
        with Session(self.engine) as session, session.begin():
            row = session.scalar(select(ActionRow).where(ActionRow.idempotency_key == key).with_for_update())
            created = row is None
            if row is None:
                row = ActionRow(**fresh, status=SKIPPED, attempts=0)
                session.add(row)
            elif row.status != SKIPPED:
                return _entry(row, created=False)
            if created or row.detail != reason:
                row.detail = reason
                session.flush()
                _timeline(session, row, f"{fresh['action']} on {fresh['target']}: refused ({reason})")
                append_audit(session, "respond", "action.refused", key, {"reason": reason})
            return _entry(row, created=created)

    # -- reads -----------------------------------------------------------------------------------------

    def rows(self, incident_id: str) -> list[LedgerRow]:
        with Session(self.engine) as session:
            found = session.scalars(
                select(ActionRow).where(ActionRow.incident_id == incident_id).order_by(ActionRow.id)
            )
            return [_row(r) for r in found]

    def row(self, key: str) -> LedgerRow | None:
        with Session(self.engine) as session:
            found = session.scalar(select(ActionRow).where(ActionRow.idempotency_key == key))
            return _row(found) if found else None

    def stale(self, incident_id: str | None = None) -> list[LedgerRow]:
        """PENDING rows nobody is working on, oldest first: what reconciliation looks at."""
        query = select(ActionRow).where(ActionRow.status == PENDING).order_by(ActionRow.id)
        if incident_id is not None:
            query = query.where(ActionRow.incident_id == incident_id)
        now = utcnow()
        with Session(self.engine) as session:
            return [r for r in map(_row, session.scalars(query)) if r.stale(now)]

    def isolated_hosts(self, cap: IsolationCap, tenant: str, incident_id: str) -> tuple[int, int]:
        """(hosts isolated for this incident, hosts isolated for the tenant in the last hour)."""
        with Session(self.engine) as session:
            now = utcnow()
            return (
                _count(session, cap, tenant, incident_id=incident_id),
                _count(session, cap, tenant, since=now - timedelta(hours=1)),
            )

    # -- approvals (``_approvals``) ----------------------------------------------------------------------

    def approve(self, **binding: Any) -> ApprovalView:
        """Record one person's approval (see ``_approvals.approve``)."""
        return approve(self.engine, **binding)

    def start_approved_round(self, incident_id: str, action_hash: str, target: str, analyst: str) -> str:
        """Approvals complete: the next round's run does the action (``_approvals.start_approved_round``)."""
        return start_approved_round(self.engine, incident_id, action_hash, target, analyst)

    def approvals(self, incident_id: str) -> list[ApprovalView]:
        return approvals(self.engine, incident_id)


def _retried(attempt: Callable[[], LedgerEntry], failure: str) -> LedgerEntry:
    for _ in range(3):
        try:
            return attempt()
        except IntegrityError:
            continue  # another worker inserted the key between our read and our insert: read it now
    raise RuntimeError(failure)


def _serialize(session: Session, tenant: str) -> None:
    # Caps count other rows of the tenant: two transactions counting at once must not both see room.
    # SQLite serializes writers already (BEGIN IMMEDIATE); PostgreSQL takes a per-tenant advisory lock.
    if session.get_bind().dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(hashtext(:t))")
        session.execute(lock, {"t": f"garrison-ledger:{tenant}"})


def _live(row: ActionRow, now: datetime) -> bool:
    return row.lease_until is not None and aware(row.lease_until) > now


def _count(
    session: Session,
    cap: IsolationCap,
    tenant: str,
    *,
    incident_id: str | None = None,
    since: datetime | None = None,
    besides: ActionRow | None = None,
) -> int:
    query = select(func.count(func.distinct(func.lower(ActionRow.target)))).where(
        ActionRow.tenant == tenant,
        ActionRow.action.in_(sorted(cap.actions)),
        ActionRow.status.in_([PENDING, SUCCEEDED]),
        ActionRow.reverses.is_(None),
    )
    if incident_id is not None:
        query = query.where(ActionRow.incident_id == incident_id)
    if since is not None:
        query = query.where(ActionRow.created_at >= since)
    if besides is not None:
        query = query.where(
            ActionRow.id != besides.id, func.lower(ActionRow.target) != besides.target.lower()
        )
    return int(session.scalar(query) or 0)


def _over_cap(session: Session, row: ActionRow, cap: IsolationCap | None, now: datetime) -> str | None:
    if cap is None or row.action not in cap.actions:
        return None
    if cap.per_incident is not None:
        done = _count(session, cap, row.tenant, incident_id=row.incident_id, besides=row)
        if done >= cap.per_incident:
            return (
                f"PolicyViolation: blast radius: {done} host(s) already isolated for this incident "
                f"(cap {cap.per_incident})"
            )
    if cap.per_tenant_hour is not None:
        done = _count(session, cap, row.tenant, since=now - timedelta(hours=1), besides=row)
        if done >= cap.per_tenant_hour:
            return (
                f"PolicyViolation: blast radius: {done} host(s) isolated for this tenant in the last hour "
                f"(cap {cap.per_tenant_hour})"
            )
    return None


def _timeline(session: Session, row: ActionRow, message: str) -> None:
    step = "rollback" if row.reverses is not None else "act"
    note(session, row.incident_id, step, message, action=row.action, target=row.target, status=row.status)


def _entry(row: ActionRow, *, created: bool, claimed: bool = False, resumed: bool = False) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        status=row.status,
        created=created,
        undo=dict(row.undo or {}),
        claimed=claimed,
        resumed=resumed,
        detail=row.detail or "",
        inputs=dict(row.inputs or {}),
    )


def _row(r: ActionRow) -> LedgerRow:
    return from_row(
        LedgerRow,
        r,
        inputs=dict(r.inputs or {}),
        detail=r.detail or "",
        undo=dict(r.undo or {}),
        attempts=r.attempts or 0,
        round=r.round or 1,
    )


def _fresh_row(
    key: str,
    tenant: str,
    incident_id: str,
    action: str,
    target: str,
    inputs: dict[str, Any],
    inverse: str | None,
    round: int,
    reverses: int | None,
) -> dict[str, Any]:
    """The columns of a ledger row that does not exist yet (claimed or refused)."""
    return {
        "idempotency_key": key,
        "tenant": tenant,
        "incident_id": incident_id,
        "action": action,
        "target": target,
        "inputs": inputs,
        "inverse": inverse,
        "round": round,
        "reverses": reverses,
    }
