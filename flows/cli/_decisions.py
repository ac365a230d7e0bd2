"""``garrison pending | decide``: what waits for an analyst, and the analyst's decision.

A gray incident waits for a decision (``flows.respond``'s gate). By default its run has ended (a paused run
would hold a runner slot): ``decide`` records the decision and starts the next response round, whose run
acts on it. Where the tenant's policy pauses the run instead, ``decide`` resumes that same run through the
Prefect API with the decision as its run input — the same call as the Prefect UI's form. Either way the
analyst proves their name with their key first, and nothing acts in this process: a flow run does.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from prefect.client.schemas.objects import FlowRun
from rich.table import Table

from flows.intake import (
    VERDICTS,
    DecisionError,
    analyst_key,
    apply_decision,
    check_analyst,
    is_paused,
    read_runs,
    run_url,
)
from flows.models import Alert
from flows.settings import Settings, get_settings
from flows.store import (
    MAX_STANDING_DAYS,
    IncidentStatus,
    IncidentView,
    StandingDecision,
    StandingDecisions,
    Store,
)
from flows.triage import scopes_of

from ._output import console, emit_json, fail, resolve_incident, shown

ANALYST_KEY_ENV = "GARRISON_ANALYST_KEY"
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@dataclass(frozen=True)
class Pending:
    incident_id: str
    tenant: str
    title: str
    since: str
    why: str
    waiting_for: str  # who is called now: the escalation tier's group and analysts, or the MDR's channels
    flow_run_id: str
    url: str


def pending(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's incidents.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Incidents waiting for an analyst: gray verdicts, held or failed containment, paused runs."""
    settings = get_settings()
    store = Store.open(settings.database_url)
    waiting = [
        view
        for summary in store.incidents(tenant=tenant, status=IncidentStatus.AWAITING_APPROVAL, limit=500)
        if (view := store.incident(summary.id)) is not None
    ]
    try:
        runs = asyncio.run(read_runs(settings, [v.flow_run_id for v in waiting if v.flow_run_id]))
    except DecisionError as error:
        fail(str(error))
    items = [_pending(settings, view, runs.get(view.flow_run_id or "")) for view in waiting]
    if as_json:
        emit_json([asdict(item) for item in items])
        return
    if not items:
        console.print("Nothing waits for a decision.")
        return
    table = Table(
        "incident", "tenant", "title", "since", "why", "for", "flow run", title="Waiting for a decision"
    )
    for item in items:
        table.add_row(
            shown(item.incident_id[:8]),
            shown(item.tenant),
            shown(item.title),
            shown(item.since),
            shown(item.why),
            shown(item.waiting_for),
            shown(item.url),
        )
    console.print(table)


def decide(
    incident_id: Annotated[str, typer.Argument(help="Incident id, or its first 8 characters.")],
    verdict: Annotated[str, typer.Option("--verdict", help="malicious, benign or escalate.")],
    by: Annotated[str, typer.Option("--by", help=f"Your analyst name (proved by ${ANALYST_KEY_ENV}).")],
    comment: Annotated[str, typer.Option("--comment", help="Why: on the timeline and in the report.")] = "",
    standing: Annotated[
        int | None,
        typer.Option(
            "--standing",
            metavar="DAYS",
            help="Also decide alerts like these (same rule, hosts, command lines, destinations) "
            "for DAYS days: triage then clears or condemns them by this decision.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Decide on a gray incident: its paused respond run goes on from the decision."""
    if verdict not in VERDICTS:
        fail(f"invalid verdict {verdict!r}: choose malicious, benign or escalate")
    if len(comment) > 2000:
        fail("the comment is longer than 2000 characters")
    if standing is not None:
        if verdict == "escalate":
            fail("--standing needs --verdict malicious or benign: an escalation is no decision")
        if not 1 <= standing <= MAX_STANDING_DAYS:
            fail(f"--standing is 1 to {MAX_STANDING_DAYS} days, not {standing}")
        if not comment.strip():
            fail("--standing needs --comment: why alerts like these are " + verdict)
    settings = get_settings()
    prove_analyst(settings, by)
    store = Store.open(settings.database_url)
    incident = store.incident(resolve_incident(store, incident_id))
    assert incident is not None
    if incident.status != IncidentStatus.AWAITING_APPROVAL:
        fail(f"incident {incident.id[:8]} is not waiting for a decision (status {incident.status})")
    # Recorded first: the run this decision resumes or starts may meet the next alert like these.
    kept = _stand(store, incident, verdict, by, comment, standing) if standing else []
    try:
        applied = apply_decision(settings, store, incident, verdict, by, comment)
    except DecisionError as error:
        fail(str(error))
    if as_json:
        emit_json(
            {
                "incident_id": incident.id,
                "flow_run_id": applied.flow_run_id,
                "url": applied.url,
                "said": applied.said,
                "verdict": verdict,
                "analyst": by,
                "comment": comment,
                "standing": [d.as_dict() for d in kept],
            }
        )
        return
    resumed = applied.said.startswith("decision ")
    console.print(shown(applied.said + (f" (run {applied.url})" if applied.url and not resumed else "")))
    for kept_decision in kept:
        scope = kept_decision.scope
        console.print(
            shown(
                f"standing decision {kept_decision.id[:8]}: rule {scope.rule!r} on "
                f"{', '.join(h or '(no host)' for h in scope.hosts)} is {verdict} until "
                f"{kept_decision.expires_at.date().isoformat()}"
            )
        )


def _stand(
    store: Store, incident: IncidentView, verdict: str, analyst: str, comment: str, days: int
) -> list[StandingDecision]:
    alerts = [Alert.model_validate(document) for document in store.alert_documents(incident.id)]
    book = StandingDecisions(store.engine)
    return [
        book.add(incident.tenant, verdict, scope, analyst, comment, days, incident.id)
        for scope in scopes_of(alerts)
    ]


def prove_analyst(settings: Settings, name: str) -> None:
    """``name`` is an analyst of the configuration and the key given is theirs: ``$GARRISON_ANALYST_KEY``,
    or, when it is not set, the analyst's own owner-only key file. Anything else: one line, exit 1."""
    try:
        given = os.environ.get(ANALYST_KEY_ENV, "").strip() or analyst_key(settings, name)
        check_analyst(settings, name, given)
    except DecisionError as error:
        fail(str(error).replace("the key given", f"the key in {ANALYST_KEY_ENV}"))


def _pending(settings: Settings, view: IncidentView, run: FlowRun | None) -> Pending:
    waiting = next(
        (t for t in reversed(view.timeline) if t.step == "decision" and t.data.get("waiting")), None
    )
    since = waiting.at if waiting else view.updated_at
    why = str(waiting.data.get("reason", "")) if waiting else ""
    if not why:  # held or failed containment: the status change says why
        why = next(
            (t.message for t in reversed(view.timeline) if t.data.get("status") == "awaiting_approval"), ""
        )
    from flows.respond import chain_state  # the engine, only when something waits: the CLI starts faster

    paused = run is not None and is_paused(run)
    called = chain_state(view).called
    waiting_for = (
        f"{called[-1].data.get('group')}: {', '.join(called[-1].data.get('analysts') or [])}"
        if called
        else "the MDR's analyst channels"
    )
    return Pending(
        incident_id=view.id,
        tenant=view.tenant,
        title=view.title,
        since=since.isoformat(timespec="seconds"),
        why=why,
        waiting_for=waiting_for,
        flow_run_id=str(run.id) if paused and run is not None else "",
        url=run_url(settings, str(run.id)) if paused and run is not None else "",
    )


def register(app: typer.Typer) -> None:
    app.command("pending")(pending)
    app.command("decide")(decide)
