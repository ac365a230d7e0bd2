"""Approvals for the two-person rule, bound to tenant + incident + action hash + target + response round,
expiring, and used once: ``consume`` runs inside the ledger's claim, so the action and its approvals go
together. Approvals complete → ``start_approved_round``: the next response round's run does the action
(no action runs in the process that records an approval)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ._audit import append_audit
from ._lifecycle import check_transition
from ._rows import aware, from_row, note
from ._schema import ActionRow, ApprovalRow, IncidentRow, IncidentStatus, utcnow


def action_hash(tenant: str, incident_id: str, action: str, inputs: dict[str, Any]) -> str:
    """What an approval is bound to besides the target: the action and its exact inputs."""
    canonical = json.dumps([tenant, incident_id, action, inputs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ApprovalNeed:
    """The two-person rule for one action: ``required`` distinct approvers out of ``approvers``."""

    action_hash: str
    required: int
    approvers: frozenset[str]  # lower-case names; empty: nobody may approve
    reason: str


@dataclass(frozen=True)
class ApprovalView:
    id: int
    tenant: str
    incident_id: str
    action: str
    action_hash: str
    target: str
    approver: str
    requested_by: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: int | None
    round: int | None = None


class ApprovalRefused(ValueError):
    """An approval that cannot be recorded (self-approval, not an approver, already given)."""


def approve(
    engine: Engine,
    *,
    tenant: str,
    incident_id: str,
    action: str,
    action_hash: str,
    target: str,
    approver: str,
    ttl: timedelta,
    requested_by: str | None = None,
    round_: int | None = None,
) -> ApprovalView:
    """Record one person's approval. The same person twice for one binding, or the requester
    approving their own request, is refused: the two-person rule needs two other people."""
    name = approver.strip()
    if requested_by and requested_by.strip().lower() == name.lower():
        raise ApprovalRefused(f"{name} requested this action and cannot approve it")
    now = utcnow()
    with Session(engine) as session, session.begin():
        mine = session.scalars(
            select(ApprovalRow).where(
                ApprovalRow.tenant == tenant,
                ApprovalRow.incident_id == incident_id,
                ApprovalRow.action_hash == action_hash,
                ApprovalRow.target == target,
                func.lower(ApprovalRow.approver) == name.lower(),
                ApprovalRow.used_at.is_(None),
            )
        )
        if any(aware(a.expires_at) > now for a in mine):
            raise ApprovalRefused(f"{name} has already approved this action")
        row = ApprovalRow(
            tenant=tenant,
            incident_id=incident_id,
            action=action,
            action_hash=action_hash,
            target=target,
            approver=name,
            requested_by=requested_by,
            created_at=now,
            expires_at=now + ttl,
            round=round_,
        )
        session.add(row)
        session.flush()
        message = f"{action} on {target}: approved by {name}"
        note(session, incident_id, "approve", message, action=action, target=target, approver=name)
        append_audit(session, name, "approval.given", f"{incident_id}:{action_hash}", {"target": target})
        return from_row(ApprovalView, row)


def approvals(engine: Engine, incident_id: str) -> list[ApprovalView]:
    with Session(engine) as session:
        found = session.scalars(
            select(ApprovalRow).where(ApprovalRow.incident_id == incident_id).order_by(ApprovalRow.id)
        )
        return [from_row(ApprovalView, a) for a in found]


def consume(session: Session, row: ActionRow, need: ApprovalNeed | None, now: datetime) -> str | None:
    """Consume ``need.required`` approvals by distinct listed approvers for this row, or say what lacks."""
    if need is None:
        return None
    if not need.approvers:
        return f"{need.reason}; no approvers are configured in the tenant's policy"
    candidates = session.scalars(
        select(ApprovalRow)
        .where(
            ApprovalRow.tenant == row.tenant,
            ApprovalRow.incident_id == row.incident_id,
            ApprovalRow.action_hash == need.action_hash,
            ApprovalRow.target == row.target,
            or_(ApprovalRow.used_at.is_(None), ApprovalRow.used_by == row.id),
            # Given for this round (an earlier round's approvals lapsed with it).
            or_(ApprovalRow.round.is_(None), ApprovalRow.round == row.round),
        )
        .order_by(ApprovalRow.id)
        .with_for_update()
    )
    chosen: dict[str, ApprovalRow] = {}
    for approval in candidates:
        who = approval.approver.strip().lower()
        usable = approval.used_by == row.id or aware(approval.expires_at) > now
        if usable and who in need.approvers and who != (approval.requested_by or "").strip().lower():
            chosen.setdefault(who, approval)
    if len(chosen) < need.required:
        return f"{need.reason}; awaiting approval ({len(chosen)} of {need.required})"
    for approval in list(chosen.values())[: need.required]:
        if approval.used_at is None:
            approval.used_at, approval.used_by = now, row.id  # single use: bound to this ledger row now
    return None


def start_approved_round(
    engine: Engine, incident_id: str, action_hash: str, target: str, analyst: str
) -> str:
    """The approvals of one held action are complete: start the next response round (REOPENED, round + 1,
    the verdict kept as decided so nothing is classified again) and carry this round's unused approvals
    over to it, so that its run does the action. Returns what happened, one line; ValueError when the
    incident is not waiting, or its run has not ended."""
    with Session(engine) as session, session.begin():
        incident = session.get(IncidentRow, incident_id, with_for_update=True)
        if incident is None:
            raise ValueError(f"no incident {incident_id}")
        if incident.status != IncidentStatus.AWAITING_APPROVAL or incident.run_ended_at is None:
            raise ValueError(
                f"incident {incident_id[:8]} is not waiting (status {incident.status}): the approvals are "
                "recorded, and its next response round will use them"
            )
        old = incident.round or 1
        now = utcnow()
        carried = session.scalars(
            select(ApprovalRow).where(
                ApprovalRow.incident_id == incident_id,
                ApprovalRow.used_at.is_(None),
                ApprovalRow.round == old,
            )
        ).all()
        for approval in carried:
            if aware(approval.expires_at) > now:
                approval.round = old + 1
        incident.decided_verdict = incident.verdict
        check_transition(incident_id, incident.status, IncidentStatus.REOPENED)
        incident.status, incident.round, incident.flow_run_id = IncidentStatus.REOPENED, old + 1, None
        message = f"approvals complete for {target}: response round {incident.round} does the action"
        note(session, incident_id, "approve", message, target=target, round=incident.round, status="reopened")
        append_audit(
            session, analyst, "approval.round", f"{incident_id}:{action_hash}", {"round": incident.round}
        )
        return message
