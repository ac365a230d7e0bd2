"""``garrison dead-letters``: what the intake refused from authenticated senders, and why."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from flows.settings import get_settings
from flows.store import Store

from ._output import console, emit_json, shown


def dead_letters(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List rejected payloads (kept for operators, bounded, never processed)."""
    rows = Store.open(get_settings().database_url).dead_letters(limit)
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "at", "tenant", "endpoint", "status", "reason", "bytes", title="Dead letters")
    for row in rows:
        size = f"{row['size']}{'+' if row['truncated'] else ''}"
        table.add_row(
            str(row["id"]),
            shown(row["at"][:19]),
            shown(row["tenant"] or "-"),
            shown(row["endpoint"]),
            shown(row["status"]),
            shown(row["reason"]),
            size,
        )
    console.print(table if rows else "No rejected payloads.")
