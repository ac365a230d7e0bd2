"""The escalation chain: while an incident waits for a decision, its tenant's tiers are called in turn.

Tier 1 is called as soon as the incident waits; each tier has its minutes to decide before the next is
called — at once when one of its analysts answers ``escalate``. Past the last tier the tenant's default
applies, and it is never destructive: a gray incident is closed only where the tenant's policy calls
unknown benign and triage found nothing risky; anything else keeps waiting, recorded. Every call and the
default are timeline lines and audit entries; the runtime's sweeper walks the chain every few seconds
(``walk_escalations``), so it works whether the waiting run ended (the default) or is paused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from flows.models import VerdictLabel
from flows.notify import EventDetails, notify_event
from flows.store import IncidentStatus, IncidentView, Store, TimelineEntry
from flows.tenants import Tenant, TenantDirectory

STEP = "escalation"
_log = logging.getLogger("garrison.escalation")


@dataclass(frozen=True)
class ChainState:
    """Where an incident stands in its tenant's chain during the present wait."""

    since: datetime  # when the incident began to wait (the wait the chain belongs to)
    called: list[TimelineEntry]  # the tiers called during this wait, in order
    escalated_after_last_call: bool  # an analyst answered `escalate` after the last call
    ended: bool  # the default was applied already


def chain_state(incident: IncidentView) -> ChainState:
    since = waiting_since(incident)
    during = [t for t in incident.timeline if t.at >= since]
    called = [t for t in during if t.step == STEP and "tier" in t.data]
    last_call = called[-1].at if called else since
    escalated = any(
        t.step == "decision" and t.data.get("verdict") == "escalate" and t.at >= last_call for t in during
    )
    ended = any(t.step == STEP and t.data.get("default") for t in during)
    return ChainState(since, called, escalated and bool(called), ended)


def waiting_since(incident: IncidentView) -> datetime:
    """When the incident last began to wait for a person (its status set to ``awaiting_approval``)."""
    for entry in reversed(incident.timeline):
        if entry.data.get("status") == IncidentStatus.AWAITING_APPROVAL:
            return entry.at
    return incident.updated_at


def walk_escalations(store: Store, tenants: TenantDirectory, now: datetime | None = None) -> list[str]:
    """Call the tiers that are due for every waiting incident and apply the default past the last tier;
    returns what was done, a line each. One incident's failure does not stop the others."""
    now = now or datetime.now(UTC)
    done: list[str] = []
    for summary in store.incidents(status=IncidentStatus.AWAITING_APPROVAL, limit=1000):
        tenant = tenants.get(summary.tenant)
        if tenant is None or not tenant.policy.escalation:
            continue
        try:
            said = _walk(store, tenants, tenant, summary.id, now)
        except Exception:  # noqa: BLE001 - one incident's trouble must not stop the others' escalation
            _log.exception("escalation of incident %s failed; retried at the next sweep", summary.id)
            continue
        if said:
            done.append(f"{summary.id[:8]}: {said}")
    return done


def _walk(store: Store, tenants: TenantDirectory, tenant: Tenant, incident_id: str, now: datetime) -> str:
    incident = store.incident(incident_id)
    if incident is None or incident.status != IncidentStatus.AWAITING_APPROVAL:
        return ""
    chain = tenant.policy.escalation
    state = chain_state(incident)
    if state.ended:
        return ""
    if state.called:
        tier = chain[len(state.called) - 1]
        lapsed = (now - state.called[-1].at).total_seconds() >= tier.minutes * 60
        if not (lapsed or state.escalated_after_last_call):
            return ""
        why = (
            "an analyst escalated it"
            if state.escalated_after_last_call
            else f"no decision in {tier.minutes:g} min"
        )
    else:
        why = "it waits for a decision"
    step = len(state.called)
    if step >= len(chain):
        return _default(store, tenant, incident, state.since)
    group_name = chain[step].group
    group = tenants.groups[group_name]
    reason = f"escalation tier {step + 1} of {len(chain)} ({group_name}): {why}"
    data = {
        "since": state.since.isoformat(),
        "tier": step + 1,
        "group": group_name,
        "analysts": group.analysts,
        "minutes": chain[step].minutes,
    }
    store.add_timeline(
        incident.id, STEP, f"{reason}: calling {', '.join(group.analysts)}", data, audit="escalation.tier"
    )
    notify_event(
        "escalation",
        incident.id,
        tenant=tenant,
        details=EventDetails(reason=reason),
        store=store,
        analysts=group.notify,
    )
    return reason


def _default(store: Store, tenant: Tenant, incident: IncidentView, since: datetime) -> str:
    """Past the last tier: the tenant's default, never a destructive action."""
    data = {"since": since.isoformat(), "default": True}
    closable = (
        incident.verdict == VerdictLabel.SUSPICIOUS
        and tenant.policy.unknown_verdict == "benign"
        and not _risky(incident.reasons)
        and not any(a.status == "failed" for a in incident.actions)
    )
    if closable:
        said = (
            "no analyst decided within the escalation chain; the tenant's policy calls unknown benign: closed"
        )
        store.add_timeline(incident.id, STEP, said, {**data, "closed": True}, audit="escalation.default")
        store.set_status(incident.id, IncidentStatus.CLOSED, said, STEP)
        return said
    said = "no analyst decided within the escalation chain: it keeps waiting (the tenant's default)"
    store.add_timeline(incident.id, STEP, said, data, audit="escalation.default")
    return said


def _risky(reasons: Sequence[dict[str, object]]) -> bool:
    return any(r.get("code") == "analyst_required" for r in reasons)
