"""The ``respond`` flow: one run per incident, running the playbook's steps in order."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict, Field

from actions import registry
from flows.models import VerdictLabel
from flows.settings import get_settings
from flows.tenants import Tenant, tenants_from
from playbooks import (
    ActStep,
    ClassifyStep,
    CloseStep,
    EnrichStep,
    EscalateStep,
    NotifyStep,
    load_playbook,
)

from ._act import settle
from ._gate import wait_for_decision
from ._steps import (
    act,
    classify_incident,
    close,
    enrich,
    escalate,
    notify,
    open_store,
    publish_report,
    request_approvals,
)


class RespondRequest(BaseModel):
    """What to respond to (the Prefect UI renders this as the run form)."""

    model_config = ConfigDict(extra="forbid")

    incident_id: str = Field(min_length=1, max_length=36, description="The incident to handle.")
    playbook: str = Field(default="default", description="Built-in playbook name or path to a YAML file.")
    dry_run: bool = Field(default=False, description="Plan every action, change nothing, notify nobody.")


@flow(name="respond", description="Enrich, classify, contain, notify and close one incident.")
def respond(request: RespondRequest) -> dict[str, Any]:
    logger = get_run_logger()
    store = open_store()
    incident = store.incident(request.incident_id)
    if incident is None:
        raise LookupError(f"incident {request.incident_id} does not exist")
    tenant = tenants_from(get_settings().tenants_file).get(incident.tenant)
    if tenant is None:
        raise LookupError(f"incident {incident.id} names unknown tenant {incident.tenant!r}")
    run_id = str(flow_run.id or "local")
    if not store.claim(incident.id, run_id):
        logger.warning(
            "incident %s is already handled by flow run %s; nothing to do", incident.id, incident.flow_run_id
        )
        return {"incident_id": incident.id, "status": incident.status, "skipped": True}

    playbook = load_playbook(request.playbook)
    for key in playbook.action_keys():
        registry.get(key)  # fail before acting at all if the playbook names an unknown action
    dry_run = request.dry_run or playbook.dry_run
    steps = playbook.steps
    # A round an analyst started with a decision (`garrison decide` while no run waited) acts on it.
    verdict: str | None = store.decided_verdict(incident.id)
    ran: set[str] = set()  # each step runs at most once per run
    decided = verdict is not None  # an analyst's verdict stands: no classify step overrides it
    resume_at = 0  # where a decision re-enters the playbook: the step after the last classify step run
    position = 0
    while position < len(steps):
        step = steps[position]
        position += 1
        if step.id in ran:
            continue
        if not step.when.holds(verdict):
            store.add_timeline(incident.id, step.id, f"step skipped (verdict {verdict})")
            continue
        ran.add(step.id)
        if isinstance(step, EnrichStep):
            enrich.with_options(task_run_name=step.id)(incident.id, tenant)
        elif isinstance(step, ClassifyStep):
            if decided:
                store.add_timeline(incident.id, step.id, "step skipped: an analyst decided the verdict")
                continue
            verdict = classify_incident.with_options(task_run_name=step.id)(incident.id, tenant)
            resume_at = position
        elif isinstance(step, ActStep):
            if not (tenant.policy.auto_contain or decided or dry_run):
                # This tenant contains only on an analyst's word: the step is a gate.
                why = f"{step.id}: containment waits for an analyst (the tenant's auto_contain is off)"
                decision = _ask(incident.id, run_id, tenant, step.id, why)
                if decision is _SUPERSEDED:
                    return {"incident_id": incident.id, "status": "superseded", "superseded": True}
                if decision != "malicious":
                    if decision == "benign":  # walk on from after classify; containment's `when` fails
                        verdict, decided, position = decision, True, resume_at
                    continue
                verdict, decided = decision, True
            outcomes = act.with_options(task_run_name=step.id)(incident.id, tenant.id, step.actions, dry_run)
            contained, held = _after_containment(incident.id, outcomes, dry_run)
            if contained:
                # The customer hears at once that the threat is contained; the full report comes at closure.
                notify.with_options(task_run_name=f"{step.id}-notify")(
                    incident.id, tenant, "containment_done"
                )
            elif held:  # a guardrail, an approval or the vendor holds an action: the analysts decide
                notify.with_options(task_run_name=f"{step.id}-escalate")(
                    incident.id, tenant, "escalation", held
                )
                pending = [[o["action"], o["target"]] for o in outcomes if o.get("hold") == "approval"]
                if pending:  # the approvers get the list of what waits for their two signatures
                    request_approvals.with_options(task_run_name=f"{step.id}-approvals")(
                        incident.id, tenant, pending
                    )
        elif isinstance(step, EscalateStep):
            if dry_run:  # the incident is marked as waiting; nobody is told, nothing pauses
                escalate.with_options(task_run_name=step.id)(incident.id, step.reason)
                store.add_timeline(incident.id, step.id, "dry-run: would pause for an analyst's decision")
                continue
            # A gray verdict waits for a person.
            decision = _ask(incident.id, run_id, tenant, step.id, step.reason)
            if decision is _SUPERSEDED:
                return {"incident_id": incident.id, "status": "superseded", "superseded": True}
            if decision in ("malicious", "benign"):
                # The decision re-classifies the incident: walk the playbook again from the step after
                # classify under the new verdict; steps that already ran are not repeated.
                verdict, decided, position = decision, True, resume_at
        elif isinstance(step, NotifyStep):
            if dry_run:
                store.add_timeline(incident.id, step.id, f"dry-run: would send {step.event}")
            else:
                notify.with_options(task_run_name=step.id)(incident.id, tenant, step.event)
        elif isinstance(step, CloseStep):
            if dry_run:
                store.add_timeline(incident.id, step.id, "dry-run: would close")
                continue
            closing = close.with_options(task_run_name=step.id)(incident.id)
            if closing["review"]:  # contained (or decided) but not closable without a person: ask one
                notify.with_options(task_run_name=f"{step.id}-escalate")(
                    incident.id, tenant, "escalation", closing["review"]
                )

    create_markdown_artifact(
        key=f"incident-{incident.id}",
        markdown=publish_report(incident.id, tenant),
        description=f"Incident report {incident.id[:8]} ({tenant.name})",
    )
    # Alerts that brought something new while this run was at work (a new host, a new technique …) were
    # recorded by the intake: start the next response round now; the runtime's sweeper dispatches it.
    news = store.end_run(incident.id)
    if news:
        logger.info("incident %s: new response round requested: %s", incident.id, news)
    final = store.incident(incident.id)
    assert final is not None
    logger.info("incident %s: %s, verdict %s", final.id, final.status, final.verdict)
    return {"incident_id": final.id, "status": final.status, "verdict": final.verdict}


_SUPERSEDED = "superseded"


def _ask(incident_id: str, run_id: str, tenant: Tenant, gate: str, reason: str) -> str | None:
    """Hand the incident to a person: it waits (``awaiting_approval``), the MDR's analysts are told where
    to look (their tiers are then called by the escalation chain), and the run waits for the decision."""
    escalate.with_options(task_run_name=gate)(incident_id, reason)
    notify.with_options(task_run_name=f"{gate}-notify")(incident_id, tenant, "escalation", reason)
    return _gate(incident_id, run_id, tenant, gate, reason)


def _gate(incident_id: str, run_id: str, tenant: Tenant, gate: str, reason: str) -> str | None:
    """Pause the run for an analyst's decision and record it; returns ``malicious`` or ``benign`` when the
    playbook goes on under that verdict, None when the incident keeps waiting (escalated, timed out), or
    ``_SUPERSEDED`` when a new response round took the incident while this run waited."""
    store = open_store()
    timeout = tenant.policy.decision_timeout_minutes * 60
    if timeout <= 0:  # the default: no run holds a runner slot while a person thinks
        store.add_timeline(
            incident_id,
            "decision",
            f"waiting for an analyst's decision (`garrison decide` starts the next round): {reason}",
            {"flow_run_id": run_id, "reason": reason, "waiting": True},
        )
        return None
    store.add_timeline(
        incident_id,
        "decision",
        f"waiting for an analyst's decision (at most {timeout / 60:g} min): {reason}",
        {"flow_run_id": run_id, "timeout_seconds": timeout, "reason": reason, "waiting": True},
    )
    result = wait_for_decision(f"decision-{gate}", timeout, get_settings().decision_poll_seconds)
    incident = store.incident(incident_id)
    if incident is None or incident.flow_run_id != run_id:
        # An alert brought news while the run waited: the new round triages again and asks again.
        store.add_timeline(
            incident_id, "decision", "decision for an earlier response round ignored", {"flow_run_id": run_id}
        )
        return _SUPERSEDED
    decision = result.decision
    if decision is None:
        why = f"no analyst decided within {timeout / 60:g} min; the incident still waits for one"
        store.add_timeline(
            incident_id,
            "decision",
            why,
            {"timed_out": True, "waited_seconds": round(result.waited_seconds, 3)},
        )
        notify.with_options(task_run_name=f"{gate}-timeout")(incident_id, tenant, "escalation", why)
        return None
    if decision.verdict == "escalate":
        why = f"analyst {decision.analyst} escalated it" + (
            f": {decision.comment}" if decision.comment else ""
        )
        store.add_timeline(
            incident_id,
            "decision",
            f"{why} (after {result.waited_seconds:.0f} s)",
            {
                "analyst": decision.analyst,
                "verdict": "escalate",
                "comment": decision.comment,
                "waited_seconds": round(result.waited_seconds, 3),
            },
        )
        notify.with_options(task_run_name=f"{gate}-escalated")(incident_id, tenant, "escalation", why)
        return None
    store.record_decision(
        incident_id, VerdictLabel(decision.verdict), decision.analyst, decision.comment, result.waited_seconds
    )
    return decision.verdict


def _after_containment(incident_id: str, outcomes: list[dict[str, Any]], dry_run: bool) -> tuple[bool, str]:
    """Mark the incident contained when every action is in place, or awaiting a human when a guardrail,
    an approval or the vendor holds one; returns (contained, why a person must look)."""
    if dry_run:
        return False, ""
    return settle(open_store(), incident_id, outcomes)
