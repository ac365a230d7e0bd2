"""``garrison pending | decide``: what waits for an analyst, and the analyst's decision.

A gray incident waits for a decision (``flows.respond``'s gate). By default its run has ended (a paused run
would hold a runner slot): ``decide`` records the decision and starts the next response round, whose run
acts on it. Where the tenant's policy pauses the run instead, ``decide`` resumes that same run through the
Prefect API with the decision as its run input — the same call as the Prefect UI's form. Either way the
analyst proves their name with their key first, and nothing acts in this process: a flow run does.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import uuid
from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.responses import SetStateStatus
from rich.table import Table

from flows.intake import PrefectDispatcher
from flows.models import Alert
from flows.runtime import answers
from flows.settings import Settings, get_settings
from flows.store import (
    MAX_STANDING_DAYS,
    IncidentStatus,
    IncidentView,
    StandingDecision,
    StandingDecisions,
    Store,
)
from flows.tenants import ANALYST_NAME, analyst_key_path, tenants_from
from flows.triage import scopes_of

from ._output import console, emit_json, fail, resolve_incident, shown

ANALYST_KEY_ENV = "GARRISON_ANALYST_KEY"
VERDICTS = ("malicious", "benign", "escalate")
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@dataclass(frozen=True)
class Pending:
    incident_id: str
    tenant: str
    title: str
    since: str
    why: str
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
    runs = asyncio.run(_read_runs(settings, [v.flow_run_id for v in waiting if v.flow_run_id]))
    items = [_pending(settings, view, runs.get(view.flow_run_id or "")) for view in waiting]
    if as_json:
        emit_json([asdict(item) for item in items])
        return
    if not items:
        console.print("Nothing waits for a decision.")
        return
    table = Table("incident", "tenant", "title", "since", "why", "flow run", title="Waiting for a decision")
    for item in items:
        table.add_row(
            shown(item.incident_id[:8]),
            shown(item.tenant),
            shown(item.title),
            shown(item.since),
            shown(item.why),
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
    decision = {"verdict": verdict, "analyst": by, "comment": comment}
    if incident.status != IncidentStatus.AWAITING_APPROVAL:
        fail(f"incident {incident.id[:8]} is not waiting for a decision (status {incident.status})")
    # Recorded first: the run this decision resumes or starts may meet the next alert like these.
    kept = _stand(store, incident, verdict, by, comment, standing) if standing else []
    runs = asyncio.run(_read_runs(settings, [incident.flow_run_id] if incident.flow_run_id else []))
    run = runs.get(incident.flow_run_id or "")
    if run is not None and _is_paused(run):  # the tenant pauses runs: that run goes on from the decision
        run_id = str(run.id)
        asyncio.run(_resume(settings, run_id, decision))
        url = _run_url(settings, run_id)
        said = f"decision {verdict} by {by} sent: incident {incident.id[:8]} goes on in run {url}"
    else:  # no run waits: the decision starts the next response round (escalate: it keeps waiting)
        try:
            said = store.decide_waiting(incident.id, verdict, by, comment)
        except ValueError as error:
            fail(str(error))
        run_id = _start_round(settings, store, incident.id) if verdict != "escalate" else ""
        url = _run_url(settings, run_id) if run_id else ""
    if as_json:
        emit_json(
            {
                "incident_id": incident.id,
                "flow_run_id": run_id,
                "url": url,
                "said": said,
                **decision,
                "standing": [d.as_dict() for d in kept],
            }
        )
        return
    console.print(shown(said + (f" (run {url})" if url and not said.startswith("decision ") else "")))
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


def _start_round(settings: Settings, store: Store, incident_id: str) -> str:
    """Start the decided round's run now if Garrison is up (else `garrison up`'s sweeper starts it)."""
    if not answers(f"{settings.prefect_api_url}/health"):
        return ""
    dispatcher = PrefectDispatcher(
        store, api_url=settings.prefect_api_url, auth_string=settings.prefect_auth_string()
    )
    return asyncio.run(dispatcher.dispatch(incident_id)) or ""


def prove_analyst(settings: Settings, name: str) -> None:
    """``name`` is an analyst of the configuration and the key given is theirs: ``$GARRISON_ANALYST_KEY``,
    or, when it is not set, the analyst's own owner-only key file. Anything else: one line, exit 1."""
    analysts = tenants_from(settings.tenants_file).analysts
    if not ANALYST_NAME.fullmatch(name) or name not in analysts:
        fail(f"unknown analyst {name!r}: not in the analysts: list of {settings.tenants_file}")
    path = analyst_key_path(settings.secrets_dir, name)
    try:
        info = path.stat()
        expected = path.read_text(encoding="utf-8").strip()
    except OSError:
        fail(f"analyst {name} has no key at {path}: `garrison up` generates it")
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        fail(f"refused: {path} must be owner-only (chmod 600)")
    given = os.environ.get(ANALYST_KEY_ENV, "").strip() or expected
    if not expected or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        fail(f"refused: the key in {ANALYST_KEY_ENV} is not analyst {name}'s")


def _client(settings: Settings) -> PrefectClient:
    # Garrison's own console, by its settings, with the basic-auth string `garrison up` generated.
    return PrefectClient(settings.prefect_api_url, auth_string=settings.prefect_auth_string())


async def _read_runs(settings: Settings, ids: list[str]) -> dict[str, FlowRun]:
    # With Garrison down no run can be paused (its worker is gone too): the store alone says what waits.
    if not ids or not answers(f"{settings.prefect_api_url}/health"):
        return {}
    try:
        async with _client(settings) as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(i) for i in ids]))
            )
    except Exception as error:  # noqa: BLE001 - one line: the console is down or refuses us
        fail(f"cannot read flow runs from the Prefect API at {settings.prefect_api_url}: {error}")
    return {str(run.id): run for run in runs}


def _is_paused(run: FlowRun) -> bool:
    return run.state is not None and run.state.is_paused()


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
    paused = run is not None and _is_paused(run)
    return Pending(
        incident_id=view.id,
        tenant=view.tenant,
        title=view.title,
        since=since.isoformat(timespec="seconds"),
        why=why,
        flow_run_id=str(run.id) if paused and run is not None else "",
        url=_run_url(settings, str(run.id)) if paused and run is not None else "",
    )


async def _resume(settings: Settings, run_id: str, decision: dict[str, str]) -> None:
    try:
        async with _client(settings) as client:
            answer = await client.resume_flow_run(uuid.UUID(run_id), run_input=decision)
    except Exception as error:  # noqa: BLE001 - one line
        fail(f"cannot resume flow run {run_id} through {settings.prefect_api_url}: {error}")
    if answer.status is SetStateStatus.ACCEPT:
        return
    reason = getattr(answer.details, "reason", "") or answer.status.value
    if answer.status is SetStateStatus.ABORT:
        fail(f"flow run {run_id} is not paused any more: {reason}")
    fail(f"Prefect refused the decision for flow run {run_id}: {reason}")


def _run_url(settings: Settings, run_id: str) -> str:
    return f"{settings.prefect_ui_url}/runs/flow-run/{run_id}"


def register(app: typer.Typer) -> None:
    app.command("pending")(pending)
    app.command("decide")(decide)
