"""``garrison triage``: an explained verdict for one alert, offline; ``--evaluate DIR`` runs a corpus."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from flows.normalize import Format
from flows.settings import get_settings
from flows.tenants import Policy, tenants_from
from flows.triage import LABELS, Evaluation, TriageInputError, evaluate, triage_files

from ._output import console, emit_json, err_console, exit_with, fail, shown

_STYLE = {"malicious": "bold red", "suspicious": "yellow", "benign": "green"}
PROGRESS_FROM = 8 * 1024 * 1024  # smaller collections read too fast for a bar to help


def triage_command(
    alert: Annotated[Path | None, typer.Argument(help="The alert (any intake format).")] = None,
    events: Annotated[
        list[Path],
        typer.Option(
            "--events",
            help="Telemetry: OCSF activity events (NDJSON), or Windows events (.evtx, evtx_dump JSON, "
            "Winlogbeat or Wazuh documents).",
        ),
    ] = [],  # noqa: B006
    intel: Annotated[
        list[Path], typer.Option("--intel", help="STIX 2.1 bundle, MISP event, CSV or list.")
    ] = [],  # noqa: B006
    tenant: Annotated[str | None, typer.Option(help="Tenant (its policy and field mappings).")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Alert format.")] = Format.AUTO,
    source: Annotated[str | None, typer.Option(help="Generic source name (the tenant's mapping).")] = None,
    now: Annotated[str | None, typer.Option(help="Judge intel age as of this ISO 8601 time.")] = None,
    evaluate_dir: Annotated[
        Path | None, typer.Option("--evaluate", help="Run a labelled case corpus.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Answer the analyst's questions about an alert and give a verdict with its reasons. Offline: no
    server, no network."""
    policy, mapping = Policy(), None
    if tenant:
        found = tenants_from(get_settings().tenants_file).get(tenant)
        if found is None:
            fail(f"unknown tenant {tenant!r}")
        policy = found.policy
        mapping = found.sources.get(source) if source else None
        if source and mapping is None:
            fail(f"tenant {tenant} has no source {source!r}")
    try:
        if evaluate_dir is not None:
            result = evaluate(evaluate_dir, policy)
            emit_json(result.as_dict()) if as_json else _print_evaluation(result)
            exit_with(0 if result.passed else 1)
        if alert is None:
            fail("give an ALERT file, or --evaluate DIR")
        moment = datetime.fromisoformat(now) if now else None
        with _reading(events, quiet=as_json) as progress:
            triaged = triage_files(
                alert,
                events=events,
                intel=intel,
                tenant=tenant,
                policy=policy,
                fmt=fmt,
                mapping=mapping,
                now=moment,
                progress=progress,
            )
    except (TriageInputError, ValueError) as error:
        fail(str(error))
    if as_json:
        emit_json(triaged.as_dict())
        return
    verdict = triaged.verdict
    console.print(
        Text.assemble(
            "Verdict ",
            shown(verdict.verdict.value.upper(), style=_STYLE[verdict.verdict.value]),
            f"  score {verdict.score}/100",
        )
    )
    table = Table("effect", "question", "finding", title="Why")
    for reason in verdict.reasons:
        table.add_row(f"{reason.effect:+d}", shown(reason.question), shown(reason.finding))
    console.print(table)
    skipped = (triaged.features.get("telemetry") or {}).get("skipped", 0)
    if skipped:  # said, not hidden: the verdict did not see these events
        events_word = "event" if skipped == 1 else "events"
        console.print(Text(f"skipped: {skipped} {events_word} (unknown class or malformed)", style="yellow"))


@contextmanager
def _reading(files: list[Path], *, quiet: bool) -> Iterator[Callable[[Path, int], None]]:
    """A progress bar (on stderr) over the events files' bytes, for collections that take a while."""
    sizes = {path: path.stat().st_size if path.is_file() else 0 for path in files}
    bar = Progress(
        TextColumn("[bold]events"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet or sum(sizes.values()) < PROGRESS_FROM,
        transient=True,
    )
    done: dict[Path, int] = {}
    with bar:
        task = bar.add_task("events", total=sum(sizes.values()))

        def advance(path: Path, consumed: int) -> None:
            done[path] = consumed
            bar.update(task, completed=sum(done.values()))

        yield advance


def _print_evaluation(result: Evaluation) -> None:
    matrix = Table("expected ↓ / got →", *LABELS, title="Confusion matrix")
    for expected, row in result.matrix().items():
        matrix.add_row(shown(expected), *(str(row[label]) for label in LABELS))
    console.print(matrix)
    for case in result.cases:
        mark = Text("✔", style="green") if case.passed else Text("✘", style="red")
        want = case.expected or f"not {case.never}"
        console.print(
            Text.assemble(
                mark,
                shown(f" {case.name}: expected {want}, got "),
                shown(case.got, style=_STYLE[case.got]),
                f" ({case.score})",
            )
        )
        for reason in case.reasons[:6]:
            console.print(shown(f"    {reason['effect']:+d}  {reason['question']} {reason['finding']}"))
        if case.missing_answers:
            console.print(shown(f"    missing answers: {', '.join(case.missing_answers)}", style="red"))
