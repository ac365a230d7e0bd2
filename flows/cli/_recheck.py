"""``garrison recheck``: re-check the closed incidents now, in this process, against the store.

The same plain function the scheduled ``recheck`` flow runs (no Prefect server needed): fresh intel, triage
again, each remediation read back from its vendor; what is no longer fine is reopened for a new response
round (the dispatcher's sweeper starts it) and the customer and the analysts are told.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from flows.settings import get_settings
from flows.store import Store
from flows.tenants import tenants_from

from ._output import console, emit_json, fail, shown

_STYLE = {"reopened": "bold red", "would_reopen": "yellow", "skipped": "dim"}


def recheck(
    now: Annotated[
        bool,
        typer.Option(
            "--now", help="Run now, not on the schedule (the only mode here; the flow is the schedule's)."
        ),
    ] = False,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's incidents.")] = None,
    incident: Annotated[
        str | None,
        typer.Option("--incident", help="Only this closed incident (id or its first 8 characters)."),
    ] = None,
    horizon: Annotated[
        int, typer.Option("--horizon", min=1, max=3650, help="Incidents closed within this many days.")
    ] = 365,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would reopen; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Re-check closed incidents: reopen those whose verdict got worse, whose remediation no longer holds
    (persistence back, a block lost) or whose indicators intel now calls malicious."""
    from flows.recheck import FreshIntel, RecheckError, summarise
    from flows.recheck import recheck as run_recheck

    settings = get_settings()
    store = Store.open(settings.database_url)
    tenants = tenants_from(settings.tenants_file)
    bar = Progress(
        TextColumn("[bold]recheck"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("incidents"),
        TimeElapsedColumn(),
        console=console,
        disable=as_json,
        transient=True,
    )
    task = bar.add_task("recheck", total=None)
    asked = FreshIntel()

    def started(count: int, intel: FreshIntel) -> None:
        asked.asked = intel.asked
        bar.update(task, total=count)

    with bar:
        try:
            findings = run_recheck(
                store,
                tenants,
                now=datetime.now(UTC),
                horizon_days=horizon,
                tenant=tenant,
                incident_id=incident,
                dry_run=dry_run,
                on_start=started,
                on_checked=lambda _: bar.advance(task),
            )
        except RecheckError as error:
            fail(str(error))
    summary = summarise(findings, lookups=asked.lookups, dry_run=dry_run)
    if as_json:
        emit_json({"summary": summary, "findings": [f.model_dump(mode="json") for f in findings]})
        return
    for finding in findings:
        if finding.changed or finding.skipped:
            what = finding.reason or finding.skipped
            outcome = finding.outcome.value.replace("_", " ")
            line = f"{finding.incident_id[:8]}  {finding.tenant}  {outcome}: {what}"
            console.print(shown(line, _STYLE.get(finding.outcome.value, "")), soft_wrap=True)
    verb = "would reopen" if dry_run else "reopened"
    line = (
        f"re-checked {summary['checked']} closed incident(s) of the last {horizon} days: "
        f"{summary['reopened'] + summary['would_reopen']} {verb}, {summary['still_fine']} still fine"
    )
    if summary["skipped"]:
        line += f", {summary['skipped']} skipped"
    if summary["effects_unverifiable"]:
        line += f"; {summary['effects_unverifiable']} effect(s) could not be verified"
    console.print(shown(line), soft_wrap=True)
