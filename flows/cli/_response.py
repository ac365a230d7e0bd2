"""``garrison plan | rollback | approve | reconcile``: the response engine from the command line.

Each runs the same code as the respond flow (guardrails, ledger, adapters) against the store, without a
Prefect server: a plan changes nothing, a rollback and an approved action go through the ledger.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from flows.settings import get_settings
from flows.store import ApprovalRefused, IncidentView, Store
from flows.tenants import Tenant, TenantDirectory, tenants_from
from playbooks import PlaybookError

from ._output import console, emit_json, exit_with, fail, resolve_incident, shown

# The engine (flows.respond) is imported inside each command: other commands start faster without it.

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
IncidentArg = Annotated[
    str, typer.Argument(help="Incident id, or its first 8 characters (as 'incidents list' shows it).")
]
_VERDICT_STYLE = {
    "allowed": "green",
    "needs_approval": "yellow",
    "refused": "bold red",
    "unbound": "bold red",
}
_STATUS_STYLE = {"succeeded": "green", "failed": "red", "pending": "yellow", "would_run": "cyan"}


def _open(incident_id: str) -> tuple[Store, TenantDirectory, IncidentView, Tenant]:
    settings = get_settings()
    store = Store.open(settings.database_url)
    tenants = tenants_from(settings.tenants_file)
    incident = store.incident(resolve_incident(store, incident_id))
    if incident is None:
        fail(f"no incident {incident_id}")
    tenant = tenants.get(incident.tenant)
    if tenant is None:
        fail(f"incident {incident_id} names unknown tenant {incident.tenant!r}")
    return store, tenants, incident, tenant


def plan(
    incident_id: IncidentArg,
    playbook: Annotated[
        str,
        typer.Option(
            help="Playbook id or YAML path; by default the one the match rules choose for the incident now."
        ),
    ] = "",
    as_json: JsonOption = False,
) -> None:
    """Show every action per target with its guardrail verdict and the vendor's view; changes nothing.
    A capability the tenant has no adapter for is listed as an error of its step."""
    from flows.respond import foresee, plan_incident, playbook_for

    store, _, incident, tenant = _open(incident_id)
    # Before triage, the plan shows what the run will do: the verdict and intel it will find (local
    # feeds), so the playbook its match rules will choose and the indicators it will block.
    foreseen = incident.verdict is None
    incident = foresee(store, tenant, incident)
    try:
        chosen = playbook_for(store, incident, tenant, playbook, verdict=incident.verdict)
    except PlaybookError as refused:
        fail(str(refused))
    items = asyncio.run(plan_incident(store, tenant, incident, chosen))
    # One error per step and capability, however many targets it would have had.
    errors = list(dict.fromkeys((i.step, i.action, i.reason) for i in items if i.verdict == "unbound"))
    if as_json:
        emit_json(
            {
                "incident_id": incident.id,
                "tenant": tenant.id,
                "playbook": {"id": chosen.id, "version": chosen.version},
                "verdict": incident.verdict,
                "verdict_foreseen": foreseen,
                "items": [i.as_dict() for i in items],
                "errors": [{"step": s, "action": a, "error": e} for s, a, e in errors],
            }
        )
        return
    table = Table(
        title=shown(
            f"Plan for incident {incident.id} ({tenant.name}), verdict {incident.verdict or '-'}"
            f"{' (foreseen: not triaged yet)' if foreseen else ''}, "
            f"playbook {chosen.id} v{chosen.version}"
        )
    )
    for column in ("step", "action", "target", "verdict", "why", "vendor says"):
        table.add_column(column, overflow="fold")
    # On a narrow terminal the vendor requests are listed under the table: in a column they make every
    # row tall. Alert data inside stays inert either way.
    wide = console.width >= 140
    for item in items:
        step = item.step + (f" (if {'/'.join(item.when)})" if item.when else "")
        table.add_row(
            shown(step),
            shown(item.action),
            shown(item.target),
            shown(item.verdict, style=_VERDICT_STYLE.get(item.verdict, "")),
            shown(item.reason or "-"),
            Text.assemble(
                shown(item.vendor + (f" [ledger: {item.ledger}]" if item.ledger else "")),
                *([Text("\n→ "), shown(item.call, style="dim")] if wide and item.call != "-" else []),
            ),
        )
    console.print(table if items else "The playbook has no actions.")
    requests = [item for item in items if item.call != "-"]
    if requests and not wide:
        console.print("The request each action would send:")
        for item in requests:
            console.print(shown(f"  {item.action} {item.target}"))
            console.print(shown(f"    → {item.call}", style="dim"))
    for step, _action, error in errors:
        console.print(shown(f"error in step {step}: {error}", style="bold red"))


def rollback(
    incident_id: IncidentArg,
    yes: Annotated[bool, typer.Option("--yes", help="Run without asking.")] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who asks for it (on the timeline).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Undo the incident's succeeded actions with their inverses, newest first (a false positive)."""
    from flows.respond import rollback_incident, rollback_steps

    store, _, incident, tenant = _open(incident_id)
    preview = [s.item for s in rollback_steps(store, incident)]
    runnable = [i for i in preview if i.status == "would_run"]
    if not yes:
        if as_json:  # scripts get the preview; they pass --yes to act
            emit_json({"incident_id": incident.id, "done": False, "items": [i.as_dict() for i in preview]})
            return
        _print_rollback(preview, "Rollback plan")
        if not runnable:
            console.print("Nothing to undo.")
            return
        typer.confirm(f"Run these {len(runnable)} inverse action(s)?", abort=True)
    items = asyncio.run(rollback_incident(store, tenant, incident, by=by))
    failed = [i for i in items if i.status in ("failed", "pending", "skipped")]
    if as_json:
        emit_json({"incident_id": incident.id, "done": True, "items": [i.as_dict() for i in items]})
    else:
        _print_rollback(items, "Rollback")
    if failed:
        exit_with(1)


def _print_rollback(items: list[Any], title: str) -> None:
    table = Table("action", "target", "inverse", "status", "detail", title=title)
    for item in items:
        table.add_row(
            shown(item.action),
            shown(item.target),
            shown(item.inverse or "-"),
            shown(item.status, style=_STATUS_STYLE.get(item.status, "")),
            shown(item.detail),
        )
    console.print(table if items else "No succeeded actions on this incident.")


def approve(
    incident_id: IncidentArg,
    action: Annotated[str, typer.Option("--action", help="Action key, e.g. lab.isolate_host.")],
    target: Annotated[str, typer.Option("--target", help="Target as the plan shows it, e.g. DC-01.")],
    by: Annotated[
        str,
        typer.Option("--by", help="Your analyst name (a tenant approver; proved by $GARRISON_ANALYST_KEY)."),
    ],
    requested_by: Annotated[
        str | None, typer.Option("--requested-by", help="Who asked for the action (cannot approve it).")
    ] = None,
    run: Annotated[
        bool,
        typer.Option("--run/--no-run", help="Once all approvals are in, start the round whose run does it."),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Approve one action on one protected target (the two-person rule). The last approval starts the
    incident's next response round, whose flow run does the action: nothing acts in this process."""
    from flows.intake import start_approved
    from flows.respond import approve as record_approval

    from ._decisions import prove_analyst

    settings = get_settings()
    prove_analyst(settings, by)  # the name is proven by the analyst's key, not taken as typed
    store, _, incident, tenant = _open(incident_id)
    try:
        status, spec, found = record_approval(
            store, tenant, incident, action, target, by, requested_by=requested_by
        )
    except ApprovalRefused as error:
        fail(str(error))
    result: dict[str, Any] = {
        "incident_id": incident.id,
        "action": spec.key,
        "target": found.label,
        "approver": status.approval.approver,
        "approvals": status.have,
        "required": status.required,
        "round": incident.round,
        "expires_at": status.approval.expires_at.isoformat(),
        "said": "",
        "flow_run_id": "",
    }
    if status.ready and run:
        result["said"], result["flow_run_id"] = start_approved(
            settings, store, incident.id, status.approval.action_hash, found.label, by
        )
    if as_json:
        emit_json(result)
        return
    console.print(
        shown(f"approval {status.have} of {status.required} for {spec.key} on {found.label} by {by}")
    )
    if result["said"]:
        console.print(shown(result["said"]))
    elif status.ready:
        console.print("All approvals given; `garrison approve … --run` starts the round that does it.")


def reconcile(
    incident_id: Annotated[str | None, typer.Argument(help="Only this incident (default: all).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Settle PENDING actions nobody works on (a crashed worker, a slow vendor) by reading vendor state."""
    from flows.respond import reconcile as reconcile_ledger

    settings = get_settings()
    store = Store.open(settings.database_url)
    outcomes = asyncio.run(reconcile_ledger(store, tenants_from(settings.tenants_file), incident_id))
    if as_json:
        emit_json([o.__dict__ for o in outcomes])
        return
    table = Table("action", "target", "status", "detail", title="Reconciled")
    for o in outcomes:
        table.add_row(
            shown(o.action),
            shown(o.target),
            shown(o.status, style=_STATUS_STYLE.get(o.status, "")),
            shown(o.detail),
        )
    console.print(table if outcomes else "No pending action needs reconciling.")


def register(app: typer.Typer) -> None:
    for name, command in (
        ("plan", plan),
        ("rollback", rollback),
        ("approve", approve),
        ("reconcile", reconcile),
    ):
        app.command(name)(command)
