"""``garrison audit verify``: walk the audit trail's hash chain and name the first broken link.

Every intake batch, status change, action and approval appends an entry whose hash covers the one before
(DESIGN §6, like CloudTrail's digest chain): editing or deleting an entry breaks every link after it.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from flows.settings import get_settings
from flows.store import Store

from ._output import console, emit_json, err_console, exit_with, shown

app = typer.Typer(help="The audit trail: append-only, hash-chained.", no_args_is_help=True)


@app.command("verify")
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Check the whole chain; exit 1 naming the first entry that does not follow from the one before."""
    check = Store.open(get_settings().database_url).check_audit()
    if as_json:
        emit_json({**dataclasses.asdict(check), "intact": check.intact})
    elif check.intact:
        console.print(
            shown(f"audit trail intact: {check.entries} entries, last hash {check.last_hash[:16]}…")
        )
    else:
        err_console.print(
            shown(f"audit trail broken at entry {check.broken_at} ({check.event}): {check.why}", "red")
        )
    if not check.intact:
        exit_with(1)
