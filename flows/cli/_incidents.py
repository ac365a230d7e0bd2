"""``garrison incidents``: list and show incidents from the store."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from flows.settings import get_settings
from flows.store import IncidentView, Store

from ._output import console, emit_json, err_console, fail, resolve_incident, shown, terminal_safe

app = typer.Typer(help="Incidents: list them, show one.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
_STATUS_STYLE = {"closed": "green", "contained": "green", "awaiting_approval": "yellow", "new": "cyan"}
_VERDICT_STYLE = {"malicious": "bold red", "suspicious": "yellow", "benign": "green"}


def _store() -> Store:
    return Store.open(get_settings().database_url)


@app.command("list")
def list_incidents(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status (new, triaging, closed …).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List incidents, newest first."""
    rows = _store().incidents(tenant=tenant, status=status, limit=limit)
    if as_json:
        emit_json(rows)
        return
    # Readable at 80 columns: the short id (every command takes it, like git's short hashes), no
    # vertical rules, the tenant only when there are several, counts and times only when there is room.
    wide = console.width >= 110
    several_tenants = len({row.tenant for row in rows}) > 1
    table = Table(title="Incidents", box=box.SIMPLE_HEAD, pad_edge=False)
    columns = ["id", *(["tenant"] if several_tenants else []), "status", "verdict"]
    columns += ["alerts", "created"] if wide else []
    for name in columns:
        table.add_column(name, no_wrap=True)
    table.add_column("title", ratio=1, overflow="fold")
    for row in rows:
        verdict = row.verdict or "-"
        if row.score is not None:
            verdict = f"{verdict} {row.score}"
        cells: list[str | Text] = [shown(row.id[:8])]
        if several_tenants:
            cells.append(shown(row.tenant))
        cells += [
            shown(row.status, style=_STATUS_STYLE.get(row.status, "")),
            shown(verdict, style=_VERDICT_STYLE.get(row.verdict or "", "")),
        ]
        if wide:
            cells += [str(row.alert_count), row.created_at.strftime("%m-%d %H:%M")]
        table.add_row(*cells, shown(row.title))  # shown(): never rich markup, never a terminal control
    console.print(table if rows else "No incidents yet.")


@app.command("show")
def show_incident(
    incident_id: Annotated[str, typer.Argument(help="Incident id, or its first 8 characters ('list').")],
    as_json: JsonOption = False,
) -> None:
    """Show one incident: verdict and reasons, indicators, actions, notifications, timeline."""
    store = _store()
    view = store.incident(resolve_incident(store, incident_id))
    if view is None:  # deleted between the two reads
        fail(f"no incident {incident_id}")
    if as_json:
        emit_json(view)
        return
    print_incident(view)


def print_incident(view: IncidentView) -> None:
    head = Table.grid(padding=(0, 2))
    head.add_row("Incident", shown(view.id, style="bold"))
    head.add_row("Tenant", shown(view.tenant))
    head.add_row("Title", shown(view.title))
    head.add_row("Status", shown(view.status, style=_STATUS_STYLE.get(view.status, "")))
    verdict = f"{view.verdict or '-'} (score {view.score if view.score is not None else '-'})"
    head.add_row("Verdict", shown(verdict, style=_VERDICT_STYLE.get(view.verdict or "", "")))
    head.add_row("Hosts", shown(", ".join(view.hosts) or "-"))
    head.add_row("Playbook", shown(view.playbook or "-"))
    console.print(head)
    if view.reasons:
        reasons = Table("question", "finding", "effect", title="Why")
        for reason in view.reasons:
            reasons.add_row(
                shown(reason["question"]), shown(reason["finding"]), shown(f"{reason['effect']:+d}")
            )
        console.print(reasons)
    if view.indicators:
        indicators = Table("type", "indicator (defanged)", "intel", title="Indicators")
        for indicator in view.indicators:
            intel = "; ".join(f"{p['source']}: {p['verdict']}" for p in indicator.provenance) or "-"
            indicators.add_row(shown(indicator.type), shown(indicator.defanged), shown(intel))
        console.print(indicators)
    actions = Table("action", "target", "status", "detail", title="Actions")
    for action in view.actions:
        style = "green" if action.status == "succeeded" else "red" if action.status == "failed" else ""
        actions.add_row(
            shown(action.key), shown(action.target), shown(action.status, style=style), shown(action.detail)
        )
    console.print(actions if view.actions else "No actions.")
    for note in view.notifications:
        console.print(shown(f"Notification {note.event} → {note.target}: {note.status} ({note.subject})"))
    timeline = Table("at", "step", "what", title="Timeline")
    for entry in view.timeline:
        timeline.add_row(entry.at.strftime("%H:%M:%S"), shown(entry.step), shown(entry.message))
    console.print(timeline)


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    txt = "txt"


_REPORT_CHANNELS = {ReportFormat.md: "markdown", ReportFormat.html: "html", ReportFormat.txt: "text"}


@app.command("report")
def report_incident(
    incident_id: Annotated[str, typer.Argument(help="Incident id, or its first 8 characters ('list').")],
    lang: Annotated[
        str | None, typer.Option("--lang", help="en, zh-TW or ja (default: the tenant's language).")
    ] = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="md (Markdown), html (e-mail) or txt (plain text).")
    ] = ReportFormat.md,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", dir_okay=False, help="Write the report to this file.")
    ] = None,
) -> None:
    """The incident report from the store (no server needed): summary, verdict and reasons, timeline with
    dwell time, infection chain, indicators (defanged), actions, recommended mitigations."""
    from flows.notify import LANGUAGES, render_report  # here: apprise and jinja load for this command only

    if lang is not None and lang not in LANGUAGES:
        err_console.print(
            shown(f"warning: no report language {lang!r} (have {', '.join(LANGUAGES)}); using en", "yellow")
        )
        lang = "en"
    store = _store()
    try:
        report = render_report(
            resolve_incident(store, incident_id), channel=_REPORT_CHANNELS[fmt], language=lang, store=store
        )
    except LookupError as error:
        fail(str(error))
    text = report.body if fmt is ReportFormat.html else f"{report.subject}\n\n{report.body}"
    if output is None:
        # Never through rich ("[.]" and brackets in a report are text, not markup), never a terminal control.
        sys.stdout.write(terminal_safe(text, lines=True))
        return
    output.write_text(text, encoding="utf-8")
    err_console.print(shown(f"wrote {output}"))
