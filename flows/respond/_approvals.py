"""Approvals for the two-person rule: one person's consent to one action on one target of one incident.

An approval is bound to the tenant, the incident, the action's hash (its key and exact inputs) and the
target; it expires (``approval_ttl_minutes``) and is used once: the ledger consumes it when the action is
claimed; it belongs to the incident's response round. Only the tenant's listed approvers count, each once,
and never for their own request. Approvals only lift the protected-asset hold: a never-block refusal cannot
be approved away. Nothing runs here: once the approvals are complete, the next response round's run does
the action (``Ledger.start_approved_round``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from actions import ActionSpec, registry
from flows.models import Alert
from flows.settings import get_settings
from flows.store import (
    ApprovalRefused,
    ApprovalView,
    IncidentView,
    Store,
    action_hash,
    decision_key,
    issue_token,
)
from flows.tenants import Tenant

from ._guardrails import Guard, Ruling
from ._targets import Target, targets_for


@dataclass(frozen=True)
class ApprovalStatus:
    approval: ApprovalView
    have: int  # valid approvals by distinct listed approvers, this one included
    required: int

    @property
    def ready(self) -> bool:
        return self.have >= self.required


def find_target(store: Store, incident: IncidentView, spec: ActionSpec, label: str) -> Target:
    """The incident's target of that label for this action (case-insensitive), exactly one."""
    alerts = [Alert.model_validate(d) for d in store.alert_documents(incident.id)]
    found = [t for t in targets_for(spec.target, incident, alerts) if t.label.lower() == label.lower()]
    if len(found) != 1:
        raise ApprovalRefused(f"incident {incident.id} has no {spec.target} target {label!r} for {spec.key}")
    return found[0]


def approve(
    store: Store,
    tenant: Tenant,
    incident: IncidentView,
    action: str,
    target_label: str,
    by: str,
    *,
    requested_by: str | None = None,
) -> tuple[ApprovalStatus, ActionSpec, Target]:
    """Record ``by``'s approval; raises ApprovalRefused with the reason when it cannot count."""
    if tenant.id != incident.tenant:
        raise ApprovalRefused(f"incident {incident.id} belongs to another tenant")
    policy = tenant.policy
    approvers = {a.strip().lower() for a in policy.approvers}
    if by.strip().lower() not in approvers:
        raise ApprovalRefused(f"{by} is not an approver for tenant {tenant.id}")
    try:
        spec = registry.get(action)
    except KeyError as error:
        raise ApprovalRefused(str(error)) from None
    target = find_target(store, incident, spec, target_label)
    decision = Guard(policy).decide(spec.key, spec.target, target.inputs, target.tags)
    if decision.verdict is Ruling.REFUSED:
        raise ApprovalRefused(f"refused by policy, which approvals cannot lift: {decision.reason}")
    if decision.verdict is Ruling.ALLOWED:
        raise ApprovalRefused(f"{spec.key} on {target.label} needs no approval")
    digest = action_hash(tenant.id, incident.id, spec.key, target.inputs)
    given = store.ledger.approve(
        tenant=tenant.id,
        incident_id=incident.id,
        action=spec.key,
        action_hash=digest,
        target=target.label,
        approver=by,
        ttl=timedelta(minutes=policy.approval_ttl_minutes),
        requested_by=requested_by,
        round_=incident.round,
    )
    valid = {
        a.approver.strip().lower()
        for a in store.ledger.approvals(incident.id)
        if a.action_hash == digest
        and a.target == target.label
        and a.used_at is None
        and a.expires_at > given.created_at
        and a.approver.strip().lower() in approvers
        and a.approver.strip().lower() != (a.requested_by or "").strip().lower()
        and a.round in (None, incident.round)
    }
    return ApprovalStatus(given, len(valid), policy.approvals_required), spec, target


def approval_link(store: Store, incident: IncidentView, action: str, target_label: str) -> str:
    """A single-use link an approver POSTs (with their key) to approve this action on this target in this
    round; bound to the action's exact inputs, so a changed action is refused. "" if it cannot be bound."""
    try:
        spec = registry.get(action)
        target = find_target(store, incident, spec, target_label)
    except (KeyError, ApprovalRefused):
        return ""
    settings = get_settings()
    token = issue_token(
        decision_key(settings.secrets_dir),
        incident.tenant,
        incident.id,
        incident.round,
        kind="approval",
        action=spec.key,
        action_hash=action_hash(incident.tenant, incident.id, spec.key, target.inputs),
        target=target.label,
    )
    return settings.decisions_url + token


def current_action_hash(store: Store, incident: IncidentView, action: str, target_label: str) -> str:
    """The hash of the action as the incident names it now (what an approval link must still match)."""
    spec = registry.get(action)
    target = find_target(store, incident, spec, target_label)
    return action_hash(incident.tenant, incident.id, spec.key, target.inputs)
