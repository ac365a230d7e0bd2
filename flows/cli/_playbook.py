"""``garrison playbook list | show | validate | import-cacao | export-cacao``: the playbooks an incident may
run, one playbook's steps, a playbook file checked before it is deployed, and CACAO 2.0 in and out.

A playbook's text (its name, description, reasons) and a CACAO document's are data: shown through
``shown``, never as rich markup; a refused document is one line naming the step and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table
from rich.text import Text

from actions import registry
from flows.notify import CHANNELS, TEMPLATES_DIR
from playbooks import (
    DEFAULT,
    ActStep,
    EscalateStep,
    NotifyStep,
    Playbook,
    PlaybookError,
    Step,
    candidates,
    export_cacao,
    import_cacao,
    load_playbook,
    resolve,
)

from ._output import console, emit_json, fail, shown

app = typer.Typer(help="Playbooks: list, show, validate, and CACAO 2.0 import/export.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _resolved(name: str) -> Playbook:
    try:
        return resolve(name)
    except PlaybookError as error:
        fail(str(error))


def _matched(playbook: Playbook) -> str:
    match = playbook.match
    if playbook.id == DEFAULT:
        return "the fallback (no other matches)"
    if match is None:
        return "only by name"
    parts = [
        f"{field} {', '.join(value) if isinstance(value, list) else value}"
        for field, value in match.model_dump(exclude_defaults=True).items()
    ]
    return "; ".join(parts) or "always"


def _when(step: Step) -> str:
    verdicts = step.when.verdict
    return "always" if verdicts is None else f"if {'/'.join(verdicts) or 'never'}"


def _detail(step: Step) -> str:
    if isinstance(step, ActStep):
        return ", ".join(step.actions) + (" (after approval)" if step.requires_approval else "")
    if isinstance(step, EscalateStep):
        return step.reason
    if isinstance(step, NotifyStep):
        return step.event
    return ""


def _described(playbook: Playbook) -> dict[str, Any]:
    return {
        "id": playbook.id,
        "version": playbook.version,
        "name": playbook.name,
        "description": playbook.description,
        "playbook_types": list(playbook.playbook_types),
        "match": None if playbook.match is None else playbook.match.model_dump(mode="json"),
        "steps": len(playbook.steps),
    }


@app.command("list")
def list_playbooks(as_json: JsonOption = False) -> None:
    """Every built-in playbook: id, version, which incidents it is for, and what it does."""
    try:
        found = candidates()
    except PlaybookError as error:
        fail(str(error))
    if as_json:
        emit_json({"playbooks": [_described(playbook) for playbook in found]})
        return
    table = Table("id", "ver", "for incidents", "what it does", title=f"{len(found)} playbooks")
    for playbook in found:
        table.add_row(
            shown(playbook.id),
            shown(playbook.version),
            shown(_matched(playbook)),
            shown(playbook.description or playbook.name),
        )
    console.print(table)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A playbook id, or a path.")], as_json: JsonOption = False
) -> None:
    """One playbook: its header, then its steps in order, one line each."""
    playbook = _resolved(name)
    if as_json:
        emit_json(playbook.model_dump(mode="json", by_alias=True))
        return
    console.print(shown(f"{playbook.id} v{playbook.version}: {playbook.name}", "bold"))
    if playbook.description:
        console.print(shown(playbook.description))
    console.print(shown(f"for incidents: {_matched(playbook)}"))
    if playbook.dry_run:
        console.print("dry run: every action is planned, no vendor is called", style="yellow")
    width = max(len(step.id) for step in playbook.steps)
    for n, step in enumerate(playbook.steps, 1):
        line = Text(f"{n:>2}. ")
        line.append_text(shown(f"{step.id:<{width}}", "bold"))
        line.append(f"  {step.kind:<8} {_when(step):<22} ")
        line.append_text(shown(_detail(step)))
        if step.on_failure != "escalate":
            line.append(f"  [on failure: {step.on_failure}]", style="dim")
        console.print(line, soft_wrap=True)


def _problems(playbook: Playbook) -> list[str]:
    """What the schema cannot see: each notify event needs a template for every channel, and each
    explicit action must be installed."""
    found = []
    for n, step in enumerate(playbook.steps):
        if isinstance(step, NotifyStep):
            missing = [
                f"{step.event}.{channel}.{ext}.j2"
                for channel, ext in CHANNELS.items()
                if not (TEMPLATES_DIR / f"{step.event}.{channel}.{ext}.j2").is_file()
            ]
            if missing:
                found.append(f"steps.{n}.event: no template {', '.join(missing)} (step {step.id})")
        if isinstance(step, ActStep):
            known = registry.keys()
            unknown = [key for key in step.vendor_actions or () if key not in known]
            if unknown:
                found.append(f"steps.{n}.actions: no installed action {', '.join(unknown)} (step {step.id})")
    return found


@app.command("validate")
def validate(file: Annotated[Path, typer.Argument(help="A playbook YAML file.")]) -> None:
    """Check a playbook file (schema, notify templates, actions); exit 1 naming what is wrong."""
    if not file.is_file():
        fail(f"{file}: no such file")
    # A bare file name would be read as a built-in playbook's name.
    given = str(file) if file.parent != Path() else f"./{file}"
    try:
        playbook = load_playbook(given)
    except PlaybookError as error:
        fail(str(error))
    problems = _problems(playbook)
    if problems:
        fail(f"{file}: {problems[0]}")
    console.print(
        shown(f"{file}: valid (playbook {playbook.id} v{playbook.version}, {len(playbook.steps)} steps)")
    )


def _yaml(playbook: Playbook, source: str) -> str:
    data = playbook.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data.setdefault("version", playbook.version)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=False, width=110)
    # The source is the CACAO id (a checked identifier), never free text: a comment cannot be broken out of.
    return f"# Imported from CACAO playbook {source} by garrison playbook import-cacao.\n{text}"


def _write(text: str, out: Path | None, force: bool) -> None:
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    if out.exists() and not force:
        fail(f"{out}: exists (give --force to replace it)")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"{out}: cannot write: {error.strerror}")
    console.print(shown(f"wrote {out}"), highlight=False)


OutOption = Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")]


@app.command("import-cacao")
def import_cacao_command(
    file: Annotated[Path, typer.Argument(help="A CACAO 2.0 playbook (JSON).")],
    out: OutOption = None,
    force: ForceOption = False,
    by_hand: Annotated[
        bool,
        typer.Option(
            "--by-hand",
            help="Import a command Garrison will not run (a script, an arbitrary HTTP call) as an analyst's "
            "step that shows it, instead of refusing the playbook.",
        ),
    ] = False,
) -> None:
    """Turn a CACAO 2.0 playbook into a Garrison playbook (YAML); refuse what Garrison cannot run."""
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"{file}: no such file")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        fail(f"{file}: not a JSON document ({type(error).__name__})")
    try:
        playbook = import_cacao(document, by_hand=by_hand)
    except PlaybookError as error:
        fail(f"{file}: {error}")
    _write(_yaml(playbook, str(document["id"])), out, force)


@app.command("export-cacao")
def export_cacao_command(
    name: Annotated[str, typer.Argument(help="A playbook id, or a path.")],
    out: OutOption = None,
    force: ForceOption = False,
) -> None:
    """A playbook as a CACAO 2.0 document (JSON, schema-valid), on stdout or into a file."""
    try:
        document = export_cacao(_resolved(name))
    except PlaybookError as error:
        fail(str(error))
    _write(json.dumps(document, indent=2) + "\n", out, force)
