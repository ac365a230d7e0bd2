"""The ``respond`` flow: one run per incident, running the playbook's steps in order."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict, Field

from actions import registry
from flows.settings import get_settings
from flows.tenants import tenants_from
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
from ._steps import act, classify_incident, close, enrich, escalate, notify, open_store, publish_report


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
    verdict: str | None = None
    for step in playbook.steps:
        if not step.when.holds(verdict):
            store.add_timeline(incident.id, step.id, f"step skipped (verdict {verdict})")
            continue
        if isinstance(step, EnrichStep):
            enrich.with_options(task_run_name=step.id)(incident.id, tenant)
        elif isinstance(step, ClassifyStep):
            verdict = classify_incident.with_options(task_run_name=step.id)(incident.id, tenant)
        elif isinstance(step, ActStep):
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
        elif isinstance(step, EscalateStep):
            escalate.with_options(task_run_name=step.id)(incident.id, step.reason)
            if not dry_run:  # a gray verdict waits for a person: tell the MDR's analysts where they look
                notify.with_options(task_run_name=f"{step.id}-notify")(
                    incident.id, tenant, "escalation", step.reason
                )
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


def _after_containment(incident_id: str, outcomes: list[dict[str, Any]], dry_run: bool) -> tuple[bool, str]:
    """Mark the incident contained when every action is in place, or awaiting a human when a guardrail,
    an approval or the vendor holds one; returns (contained, why a person must look)."""
    if dry_run:
        return False, ""
    return settle(open_store(), incident_id, outcomes)
