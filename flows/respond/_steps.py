"""The respond flow's steps as Prefect tasks. Each reads the incident from the store, does one thing,
and writes its outcome on the incident timeline. Logic lives in plain functions (triage, notify, execute)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from actions.http import using_store
from flows.models import Alert, Indicator, IndicatorType, Provenance
from flows.notify import EventDetails, PlannedAction, notify_event, render_report
from flows.settings import get_settings
from flows.store import IncidentStatus, IncidentView, StandingDecisions, Store
from flows.tenants import Tenant, tenants_from
from flows.triage import StoreTelemetry, triage
from flows.triage import enrich as enrich_indicators

from ._act import Job, base_context, jobs_for, run_job
from ._approvals import approval_link


def open_store() -> Store:
    return Store.open(get_settings().database_url)


def incident_alerts(store: Store, incident_id: str) -> list[Alert]:
    return [Alert.model_validate(document) for document in store.alert_documents(incident_id)]


def incident_indicators(incident: IncidentView) -> list[Indicator]:
    return [
        Indicator(
            type=IndicatorType(i.type),
            value=i.value,
            field=i.field,
            provenance=[Provenance.model_validate(p) for p in i.provenance],
        )
        for i in incident.indicators
    ]


@task(name="enrich")
def enrich(incident_id: str, tenant: Tenant) -> int:
    """Ask the local feeds and the tenant's online providers about every indicator; snapshot the answers
    onto the incident (C2 infrastructure changes hands: what intel said then is the evidence)."""
    store = open_store()
    incident = _require(store, incident_id)
    # Intel answers, provider limits and breakers in the store: what one worker asked, no other asks again.
    with using_store(store.engine):
        result = enrich_indicators(
            incident_indicators(incident),
            tenant=tenant.id,
            feeds=get_settings().intel_feeds,
            intel=tenant.intel,
            incident_id=incident_id,
        )
    store.save_indicators(incident_id, result.indicators)
    listed = [i for i in result.indicators if i.provenance]
    store.add_timeline(
        incident_id,
        "enrich",
        f"{len(result.indicators)} indicators looked up, {len(listed)} known to intel",
        {"known": [i.value for i in listed], "intel": result.snapshot},
    )
    return len(listed)


@task(name="classify")
def classify_incident(incident_id: str, tenant: Tenant) -> str:
    store = open_store()
    incident = _require(store, incident_id)
    # The same triage as `garrison triage`, reading the telemetry the intake collected.
    alerts = incident_alerts(store, incident_id)
    standing = StandingDecisions(store.engine).in_force(tenant.id)
    result = triage(
        alerts, incident_indicators(incident), tenant.policy, StoreTelemetry(store.engine), standing=standing
    )
    verdict = result.verdict
    store.set_verdict(incident_id, verdict)
    store.add_timeline(incident_id, "classify", "triage features", {"features": result.features})
    first = (result.features.get("timeline") or {}).get("first_evidence")
    if first:
        store.note_first_evidence(incident_id, datetime.fromisoformat(first))
    get_run_logger().info("verdict %s, score %s", verdict.verdict, verdict.score)
    return verdict.verdict.value


def start_containment(incident_id: str, tenant_id: str, actions: list[str], dry_run: bool) -> list[Job]:
    """The jobs of an act step (each action on each target); the incident is ``responding`` from now on."""
    store = open_store()
    incident = _require(store, incident_id)
    jobs = jobs_for(store, incident, tenant_named(tenant_id), actions)
    if not dry_run:
        store.set_status(incident_id, IncidentStatus.RESPONDING, "containment started", "act")
    return jobs


# Never cached: an action's result is what the vendor and the ledger say now, and its idempotency is the
# ledger's job (a re-run of the same job finds its row), not Prefect's.
@task(name="act", cache_policy=NONE)
def act(incident_id: str, tenant_id: str, job: Job, dry_run: bool) -> dict[str, Any]:
    """One action on one target. The flow submits a task per job, so 50 isolations are 50 task runs,
    concurrent within each vendor's rate limits; one failure does not stop the others."""
    # Actions are async (vendor HTTP calls); the task runs in a worker thread, so it owns a loop.
    return asyncio.run(_act(incident_id, tenant_id, job, dry_run))


async def _act(incident_id: str, tenant_id: str, job: Job, dry_run: bool) -> dict[str, Any]:
    store = open_store()
    incident = _require(store, incident_id)
    tenant = tenant_named(tenant_id)
    # Per-target outcome (no secrets: those live only inside the action's context).
    ctx = base_context(store, tenant, incident_id, dry_run=dry_run)
    return (await run_job(job, store, incident, tenant, ctx)).__dict__


def tenant_named(tenant_id: str) -> Tenant:
    """The tenant as the tenants file says now: guardrails and vendors are read when an action runs."""
    tenant = tenants_from(get_settings().tenants_file).get(tenant_id)
    if tenant is None:
        raise LookupError(f"unknown tenant {tenant_id!r}")
    return tenant


@task(name="escalate")
def escalate(incident_id: str, reason: str) -> None:
    open_store().set_status(
        incident_id, IncidentStatus.AWAITING_APPROVAL, f"escalated to an analyst: {reason}", "escalate"
    )


@task(name="notify")
def notify(incident_id: str, tenant: Tenant, event: str, reason: str = "") -> list[dict[str, Any]]:
    """Tell the right people: customer events go to the tenant's targets in the tenant's language,
    analyst events (escalation, approval) to the MDR's channels; a receipt per target on the incident."""
    receipts = notify_event(
        event, incident_id, tenant=tenant, details=EventDetails(reason=reason), store=open_store()
    )
    # The result is kept by Prefect: receipts without the message bodies.
    return [
        {"target": r.target, "channel": r.channel, "delivered": r.delivered, "error": r.error}
        for r in receipts
    ]


@task(name="request-approvals")
def request_approvals(incident_id: str, tenant: Tenant, pending: list[list[str]]) -> list[dict[str, Any]]:
    """``approval_requested`` to the MDR's analysts: each action and target that waits for two approvers
    (``garrison approve``), and until when an approval given now lasts."""
    store = open_store()
    incident = _require(store, incident_id)
    details = EventDetails(
        pending=[
            PlannedAction(action, target, approve_url=approval_link(store, incident, action, target))
            for action, target in pending
        ],
        expires_at=datetime.now(UTC) + timedelta(minutes=tenant.policy.approval_ttl_minutes),
    )
    receipts = notify_event("approval_requested", incident_id, tenant=tenant, details=details, store=store)
    return [{"target": r.target, "delivered": r.delivered, "error": r.error} for r in receipts]


@task(name="close")
def close(incident_id: str) -> dict[str, str]:
    """Close what is finished: contained, or benign with nothing to do. Anything else waits for a human,
    and so does an incident whose verdict says an analyst must see it (attacker behaviour, high severity,
    ransomware, an attack tool): then ``review`` says why, and the flow escalates it."""
    store = open_store()
    incident = _require(store, incident_id)
    failed = [a for a in incident.actions if a.status == "failed"]
    if failed:
        store.add_timeline(
            incident_id, "close", f"not closed: {len(failed)} action(s) failed, an analyst must look"
        )
        return {"status": incident.status, "review": ""}
    if incident.status not in (IncidentStatus.CONTAINED, IncidentStatus.TRIAGING):
        store.add_timeline(incident_id, "close", f"not closed: status is {incident.status}")
        return {"status": incident.status, "review": ""}
    gate = next((r for r in incident.reasons if r.get("code") == "analyst_required"), None)
    # An analyst who decided on the incident (``garrison decide``, the Prefect UI form) is the person the
    # rule asks for: their verdict stands, and the playbook closes what it finished.
    decided = any(r.get("code") == "analyst_decision" for r in incident.reasons)
    if gate is not None and not decided:
        because = ", ".join(str(b) for b in (gate.get("params") or {}).get("because", []))
        review = f"closing needs an analyst: {gate.get('finding', '')} ({because})"
        if incident.status == IncidentStatus.CONTAINED:
            store.add_timeline(incident_id, "close", f"not closed: contained; {review}")
        else:
            store.set_status(incident_id, IncidentStatus.AWAITING_APPROVAL, review, "close")
        return {"status": str(_require(store, incident_id).status), "review": review}
    store.set_status(incident_id, IncidentStatus.CLOSED, "closed by playbook", "close")
    return {"status": IncidentStatus.CLOSED.value, "review": ""}


def publish_report(incident_id: str, tenant: Tenant) -> str:
    """The incident report as markdown in the tenant's language (published as a Prefect artifact)."""
    report = render_report(incident_id, channel="markdown", store=open_store(), tenant=tenant)
    return f"{report.subject}\n\n{report.body}"


def _require(store: Store, incident_id: str) -> IncidentView:
    incident = store.incident(incident_id)
    if incident is None:
        raise LookupError(f"incident {incident_id} does not exist")
    return incident
