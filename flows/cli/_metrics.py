"""``garrison metrics``: how fast each tenant's incidents were detected, decided and contained.

What each figure measures, and how p50 and p90 are taken, is ``flows.store``'s ``incident_metrics``.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from flows.settings import get_settings
from flows.store import FIGURES, Metrics, Spread, Store, TenantMetrics, duration, incident_metrics

from ._output import console, emit_json, fail, shown

_RELATIVE = re.compile(r"(\d{1,5})([dh])")


def metrics(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's incidents.")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Only incidents received from then on: 2024-05-01, 2024-05-01T08:00Z, or 7d / 12h ago.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON for scripts (spans in seconds).")
    ] = False,
) -> None:
    """MTTD, MTTA and MTTR (count, p50, p90), waits for people, verdicts, statuses and reopen rate."""
    start = parse_since(since) if since is not None else None
    found = incident_metrics(Store.open(get_settings().database_url).engine, tenant, start)
    if as_json:
        emit_json(metrics_json(found))
        return
    if not found.tenants:
        console.print(_nothing(found))
        return
    for figures in found.tenants:
        console.print(_table(figures))
        console.print(_counts(figures))


def parse_since(given: str, now: datetime | None = None) -> datetime:
    """``--since``: an ISO date or time (naive: UTC), or a span back from ``now`` (``7d``, ``12h``)."""
    text = given.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        span = timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
        return (now or datetime.now(UTC)) - span
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--since {given!r}: not a date; give 2024-05-01, 2024-05-01T08:00Z, 7d or 12h")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def metrics_json(found: Metrics) -> dict[str, Any]:
    return {
        "tenant": found.tenant,
        "since": found.since.isoformat() if found.since else None,
        "tenants": [{**asdict(t), "reopen_rate": round(t.reopen_rate, 4)} for t in found.tenants],
    }


def _nothing(found: Metrics) -> str:
    where = f" for tenant {found.tenant}" if found.tenant is not None else ""
    when = f" since {found.since.isoformat(timespec='minutes')}" if found.since else ""
    return f"No incidents{where}{when}."


def _table(figures: TenantMetrics) -> Table:
    title = Text("tenant ")
    title.append_text(shown(figures.tenant, "bold"))
    title.append(f": {figures.incidents} incident{'s' if figures.incidents != 1 else ''}")
    table = Table("figure", title=title, title_justify="left")
    for heading in ("incidents", "p50", "p90"):
        table.add_column(heading, justify="right")
    for name, label in FIGURES:
        spread: Spread = getattr(figures, name)
        table.add_row(label, str(spread.count), duration(spread.p50), duration(spread.p90))
    return table


def _counts(figures: TenantMetrics) -> Text:
    line = Text("verdicts: ")
    line.append_text(_listed(figures.by_verdict))
    line.append("\nstatuses: ")
    line.append_text(_listed(figures.by_status))
    line.append(f"\nreopened: {figures.reopened} of {figures.incidents} ({figures.reopen_rate:.0%})\n")
    return line


def _listed(counts: dict[str, int]) -> Text:
    # Statuses and verdicts are ours, but a row written by hand (or an old store) may say anything.
    return shown(", ".join(f"{name} {count}" for name, count in counts.items()))
