"""The ``respond`` flow: one run per incident, running the chosen playbook's steps in order.

Each step kind has one runner (``RUNNERS``); a playbook naming a kind without one is refused before the run
does anything. A step that fails (an error, its ``timeout``) does what its ``on_failure`` says: go on, hand
the incident to an analyst, or stop. The playbook is chosen by the match rules (``playbooks.choose``) when
the run starts and again once triage has a verdict; the one that ran is on the incident's timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.futures import wait
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict, Field

from actions import registry
from flows.models import VerdictLabel
from flows.settings import get_settings
from flows.store import IncidentStatus, Store, may_become
from flows.tenants import Tenant, tenants_from
from playbooks import (
    ActStep,
    CloseStep,
    EscalateStep,
    NotifyStep,
    Playbook,
    PlaybookError,
    Step,
    candidates,
    choose,
)

from ._act import settle
from ._campaigns import find_campaigns
from ._choice import incident_facts, playbook_for
from ._gate import wait_for_decision
from ._links import link_earlier
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
    start_containment,
)


class RespondRequest(BaseModel):
    """What to respond to (the Prefect UI renders this as the run form)."""

    model_config = ConfigDict(extra="forbid")

    incident_id: str = Field(min_length=1, max_length=36, description="The incident to handle.")
    playbook: str = Field(
        default="",
        description="A playbook id or a path to a YAML file; empty: chosen by the playbooks' match rules.",
    )
    dry_run: bool = Field(default=False, description="Plan every action, change nothing, notify nobody.")


@dataclass
class _Run:
    """One respond run's state as it walks a playbook."""

    store: Store
    incident_id: str
    run_id: str
    tenant: Tenant
    playbook: Playbook
    chosen: bool  # by match rules (so it may be chosen again once the verdict is known), not by name
    dry_run: bool
    verdict: str | None  # triage's, or an analyst's
    decided: bool  # an analyst's verdict stands: no classify step overrides it
    position: int = 0
    resume_at: int = 0  # where a decision re-enters the playbook: the step after the last classify step run
    ran: set[str] = field(default_factory=set)  # each step runs at most once per run
    triaged: bool = False  # enrich/classify ran: a playbook chosen after them does not repeat them
    ended: str = ""  # why the run ends before the playbook's last step
    # Every act step's outcomes so far: the incident is contained only when all of them are in place.
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    told_contained: bool = False
    told_analysts: bool = False  # an act step already sent the escalation for what it could not do

    @property
    def steps(self) -> list[Step]:
        return list(self.playbook.steps)


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
    # A round an analyst started with a decision (`garrison decide` while no run waited) acts on it.
    verdict = store.decided_verdict(incident.id)
    # A playbook that cannot run is refused before the incident is claimed: it stays with the sweeper.
    playbook = playbook_for(store, incident, tenant, request.playbook, verdict=verdict)
    _runnable(playbook)
    run_id = str(flow_run.id or "local")
    if not store.claim(incident.id, run_id):
        logger.warning(
            "incident %s is already handled by flow run %s; nothing to do", incident.id, incident.flow_run_id
        )
        return {"incident_id": incident.id, "status": incident.status, "skipped": True}
    run = _Run(
        store,
        incident.id,
        run_id,
        tenant,
        playbook,
        chosen=not request.playbook,
        dry_run=request.dry_run,
        verdict=verdict,
        decided=verdict is not None,
    )
    if request.playbook:
        why = "asked for by name"
    elif playbook.match is None:
        why = "no playbook's match holds before triage (chosen again once the verdict is known)"
    else:
        why = "its match rules hold"
    _begin(run, why)
    while run.position < len(run.steps) and not run.ended:
        step = run.steps[run.position]
        run.position += 1
        if step.id in run.ran:
            continue
        if not step.when.holds(run.verdict):
            store.add_timeline(incident.id, step.id, f"step skipped (verdict {run.verdict})")
            continue
        run.ran.add(step.id)
        try:
            RUNNERS[step.kind](run, step)
        except Exception as error:  # noqa: BLE001 - what a failed step does is the playbook's choice
            _failed(run, step, error)

    if run.ended == _SUPERSEDED:  # the new round's run reports and ends the round
        return {"incident_id": incident.id, "status": "superseded", "superseded": True}
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
    logger.info(
        "incident %s: %s, verdict %s (playbook %s)", final.id, final.status, final.verdict, final.playbook
    )
    return {
        "incident_id": final.id,
        "status": final.status,
        "verdict": final.verdict,
        "playbook": run.playbook.id,
    }


def _runnable(playbook: Playbook) -> None:
    """Every step kind has a runner and every action the playbook names exists, or PlaybookError."""
    missing = sorted({step.kind for step in playbook.steps} - RUNNERS.keys())
    if missing:
        raise PlaybookError(f"playbook {playbook.id}: no runner for step kind {', '.join(missing)}")
    for key in playbook.action_keys():
        registry.get(key)  # fail before acting at all if the playbook names an unknown action


def _begin(run: _Run, why: str) -> None:
    """Check the playbook can run and record on the incident which playbook runs, and why."""
    _runnable(run.playbook)
    run.dry_run = run.dry_run or run.playbook.dry_run
    run.store.add_timeline(
        run.incident_id,
        "playbook",
        f"{run.playbook.id} v{run.playbook.version}: {why}",
        {"playbook": run.playbook.id, "version": run.playbook.version},
    )


# -- step runners --------------------------------------------------------------------------------------


def _enrich(run: _Run, step: Any) -> None:
    enrich.with_options(task_run_name=step.id, **_limit(step))(run.incident_id, run.tenant)
    run.triaged = True


def _classify(run: _Run, step: Any) -> None:
    if run.decided:
        run.store.add_timeline(run.incident_id, step.id, "step skipped: an analyst decided the verdict")
        return
    task = classify_incident.with_options(task_run_name=step.id, **_limit(step))
    run.verdict = task(run.incident_id, run.tenant)
    run.resume_at, run.triaged = run.position, True
    link_earlier(run.store, run.incident_id, run.tenant, run.verdict)
    find_campaigns(
        run.store, run.incident_id, run.tenant, tenants_from(get_settings().tenants_file), run.verdict
    )
    _choose_again(run)


def _choose_again(run: _Run) -> None:
    """With a verdict known, the match rules may name another playbook: its steps after classification
    run from here (triage is not repeated)."""
    if not run.chosen:
        return
    incident = run.store.incident(run.incident_id)
    assert incident is not None
    found = candidates(run.tenant.playbooks)
    better = choose(found, incident_facts(run.store, incident, run.verdict), run.playbook)
    if better.id == run.playbook.id:
        return
    run.playbook = better
    _begin(run, f"chosen for the verdict {run.verdict}")
    kinds = [step.kind for step in better.steps]
    after_triage = max((i + 1 for i, kind in enumerate(kinds) if kind in ("enrich", "classify")), default=0)
    run.position = run.resume_at = after_triage
    run.ran = {step.id for step in better.steps[:after_triage]}


def _act(run: _Run, step: ActStep) -> None:
    tenant = run.tenant
    if (step.requires_approval or not tenant.policy.auto_contain) and not (run.decided or run.dry_run):
        # A gate: containment waits for an analyst's word (the step asks for it, or the tenant's
        # auto_contain is off).
        because = (
            "the step requires approval" if step.requires_approval else "the tenant's auto_contain is off"
        )
        decision = _ask(run, step.id, f"{step.id}: containment waits for an analyst ({because})")
        if decision == "benign":  # walk on from after classify; containment's `when` fails
            run.verdict, run.decided, run.position = decision, True, run.resume_at
        if decision != "malicious":
            return
        run.verdict, run.decided = decision, True
    jobs = start_containment(run.incident_id, tenant.id, step.actions, run.dry_run)
    # One task run per action and target (`isolate_host WS-FINANCE-07`), all at once: each vendor's rate
    # limiter paces its own calls, and one failure does not stop the others.
    futures = [
        act.with_options(task_run_name=job.name, **_limit(step)).submit(
            run.incident_id, tenant.id, job, run.dry_run
        )
        for job in jobs
    ]
    wait(futures)
    outcomes: list[dict[str, Any]] = []
    errors: list[Exception] = []
    for job, future in zip(jobs, futures, strict=True):
        try:
            outcomes.append(future.result())
        except Exception as error:  # noqa: BLE001 - settled as a failed action below, then raised
            # A job that raised or outlived its timeout is a failed action: the others still settle.
            errors.append(error)
            detail = f"{type(error).__name__}: {error}"[:500]
            outcomes.append(
                {"action": job.wanted, "target": job.target.label, "status": "failed", "detail": detail}
            )
    if run.dry_run:
        if errors:
            raise errors[0]
        return
    run.outcomes += outcomes
    contained, held = settle(run.store, run.incident_id, run.outcomes)
    if contained and not run.told_contained:
        # The customer hears at once that the threat is contained; the full report comes at closure.
        notify.with_options(task_run_name=f"{step.id}-notify")(run.incident_id, tenant, "containment_done")
        run.told_contained = True
    elif held and (_stuck(outcomes) or not (run.outcomes or _acts_later(run))):
        # A guardrail, an approval or the vendor holds an action of this step (or no step acted on
        # anything): the analysts decide.
        notify.with_options(task_run_name=f"{step.id}-escalate")(run.incident_id, tenant, "escalation", held)
        pending = [[o["action"], o["target"]] for o in outcomes if o.get("hold") == "approval"]
        if pending:  # the approvers get the list of what waits for their two signatures
            request_approvals.with_options(task_run_name=f"{step.id}-approvals")(
                run.incident_id, tenant, pending
            )
        run.told_analysts = True
    if errors:  # the step failed: its on_failure applies (the analysts already know, if it escalates)
        raise errors[0]


def _stuck(outcomes: list[dict[str, Any]]) -> bool:
    return any(o.get("hold") or o["status"] == "failed" for o in outcomes)


def _acts_later(run: _Run) -> bool:
    return any(step.kind == "act" for step in run.steps[run.position :])


def _escalate(run: _Run, step: EscalateStep) -> None:
    if run.dry_run:  # the incident is marked as waiting; nobody is told, nothing pauses
        escalate.with_options(task_run_name=step.id)(run.incident_id, step.reason)
        run.store.add_timeline(run.incident_id, step.id, "dry-run: would pause for an analyst's decision")
        return
    # A gray verdict waits for a person.
    decision = _ask(run, step.id, step.reason)
    if decision in ("malicious", "benign"):
        # The decision re-classifies the incident: walk the playbook again from the step after classify
        # under the new verdict; steps that already ran are not repeated.
        run.verdict, run.decided, run.position = decision, True, run.resume_at


def _notify(run: _Run, step: NotifyStep) -> None:
    if run.dry_run:
        run.store.add_timeline(run.incident_id, step.id, f"dry-run: would send {step.event}")
        return
    notify.with_options(task_run_name=step.id, **_limit(step))(run.incident_id, run.tenant, step.event)


def _close(run: _Run, step: CloseStep) -> None:
    if run.dry_run:
        run.store.add_timeline(run.incident_id, step.id, "dry-run: would close")
        return
    closing = close.with_options(task_run_name=step.id, **_limit(step))(run.incident_id)
    if closing["review"]:  # contained (or decided) but not closable without a person: ask one
        notify.with_options(task_run_name=f"{step.id}-escalate")(
            run.incident_id, run.tenant, "escalation", closing["review"]
        )


# Every step kind the schema knows, and the one function that runs it.
RUNNERS: dict[str, Callable[[_Run, Any], None]] = {
    "enrich": _enrich,
    "classify": _classify,
    "act": _act,
    "escalate": _escalate,
    "notify": _notify,
    "close": _close,
}


def _limit(step: Step) -> dict[str, Any]:
    return {"timeout_seconds": step.timeout} if step.timeout else {}


def _failed(run: _Run, step: Step, error: Exception) -> None:
    """A step failed: note it, then do what its ``on_failure`` says."""
    if isinstance(error, TimeoutError):  # Prefect's TaskRunTimeoutError is one
        why = f"step {step.id} failed: it took longer than its timeout ({step.timeout} s)"
    else:
        why = f"step {step.id} failed: {type(error).__name__}: {error}"[:1000]
    get_run_logger().error("incident %s: %s", run.incident_id, why)
    if step.on_failure == "continue":
        run.store.add_timeline(run.incident_id, step.id, f"{why}; the playbook goes on")
        return
    if step.on_failure == "stop":
        run.store.add_timeline(run.incident_id, step.id, f"{why}; the run stops")
        raise error
    run.ended = "escalated"
    incident = run.store.incident(run.incident_id)
    if incident is None or not may_become(incident.status, IncidentStatus.AWAITING_APPROVAL):
        # E.g. the report after the incident closed: it stays closed, and the failure is on its timeline.
        run.store.add_timeline(run.incident_id, step.id, f"{why}; the run ends")
        return
    escalate.with_options(task_run_name=f"{step.id}-failed")(run.incident_id, why)
    if not (run.dry_run or run.told_analysts):
        notify.with_options(task_run_name=f"{step.id}-failed-notify")(
            run.incident_id, run.tenant, "escalation", why
        )


_SUPERSEDED = "superseded"


def _ask(run: _Run, gate: str, reason: str) -> str | None:
    """Hand the incident to a person: it waits (``awaiting_approval``), the MDR's analysts are told where
    to look (their tiers are then called by the escalation chain), and the run waits for the decision.
    A new response round that took the incident meanwhile ends this run."""
    escalate.with_options(task_run_name=gate)(run.incident_id, reason)
    notify.with_options(task_run_name=f"{gate}-notify")(run.incident_id, run.tenant, "escalation", reason)
    decision = _gate(run.incident_id, run.run_id, run.tenant, gate, reason)
    if decision == _SUPERSEDED:
        run.ended = _SUPERSEDED
        return None
    return decision


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
    if incident.status != IncidentStatus.AWAITING_APPROVAL:
        # Settled elsewhere while the run waited (the escalation chain closed it): this run's question
        # has no one left to ask.
        store.add_timeline(
            incident_id,
            "decision",
            f"no longer waiting (status {incident.status}): this run ends",
            {"flow_run_id": run_id},
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
