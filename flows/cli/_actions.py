"""``garrison actions list``: every registered action — its key, capability, inverse, whether it can read
its target's state, and its vendor doc — so an MDR sees what each product can do before binding it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from actions import ActionSpec, registry

from ._output import console, emit_json, fail, shown

app = typer.Typer(help="The response actions the installed adapters provide.", no_args_is_help=True)


def described(spec: ActionSpec) -> dict[str, Any]:
    return {
        "key": spec.key,
        "vendor": spec.vendor,
        "capability": None if spec.capability is None else spec.capability.value,
        "target": spec.target.value,
        # None: declared to have none (a killed process cannot come back), which the plan says.
        "inverse": spec.inverse,
        "reads_state": spec.can_read_state,
        "idempotent": spec.idempotent,
        "secrets": list(spec.secrets),
        "doc_url": spec.doc_url,
        "description": spec.description,
    }


@app.command("list")
def list_actions(
    vendor: Annotated[str | None, typer.Option("--vendor", help="Only this vendor's actions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Every registered action, by key (plugins included; one that failed to load is named)."""
    rows = [described(registry.get(key)) for key in registry.keys()]
    rows = [row for row in rows if vendor is None or row["vendor"] == vendor]
    if as_json:
        emit_json({"actions": rows, "plugin_errors": registry.plugin_errors})
        return
    # Doc links are long: on a narrow terminal they are left to --json, so the rest stays readable.
    with_docs = console.width >= 140
    table = Table()
    for column in ("key", "capability", "inverse", "reads state", *(("doc",) if with_docs else ())):
        table.add_column(column, overflow="fold")
    for row in rows:
        cells = [
            shown(row["key"]),
            shown(row["capability"] or "-"),
            shown(row["inverse"] or "none (cannot be undone)"),
            shown("yes" if row["reads_state"] else "no"),
        ]
        table.add_row(*cells, *((shown(row["doc_url"] or "-"),) if with_docs else ()))
    console.print(table)
    if not with_docs:
        console.print(
            "(doc links: garrison actions list --json, or a terminal 140 columns wide)", style="dim"
        )
    for name, error in sorted(registry.plugin_errors.items()):
        console.print(shown(f"plugin {name} failed to load: {error}", "red"))


@app.command("scripts")
def scripts(
    vendor: Annotated[str, typer.Argument(help="The adapter, e.g. crowdstrike_rtr, defender_response.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the scripts into this folder.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The fixed scripts an adapter runs on hosts, for the MDR to upload once per tenant to the product's
    script library (listed, or written with --output). Garrison never sends any other script."""
    registry.load_plugins()
    library = registry.scripts.get(vendor)
    if library is None:
        known = ", ".join(sorted(registry.scripts)) or "none"
        fail(f"{vendor!r} runs no scripts (adapters with scripts: {known})")
    written = registry.write_scripts(vendor, output) if output is not None else []
    if as_json:
        emit_json(
            {
                "vendor": vendor,
                "scripts": [{"name": name, "bytes": len(text.encode())} for name, text in library.items()],
                "written": [str(path) for path in written],
            }
        )
        return
    for name, source in library.items():
        console.print(shown(f"{name}  ({len(source.splitlines())} lines)"))
    if written:
        console.print(shown(f"wrote {len(written)} scripts into {output}: upload each to {vendor}'s library"))
