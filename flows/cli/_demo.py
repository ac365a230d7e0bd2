"""``garrison demo``, ``garrison up`` and ``garrison worker``: run Garrison, prove it works on the MyKings
case, and add runners on more machines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from flows.demo import DemoReport, run_demo
from flows.models import defang
from flows.runtime import DatabaseError, Runtime, StartupError, answers, postgres_env, run_until_signalled
from flows.settings import Settings, get_settings

from ._output import console, emit_json, err_console, exit_with, fail

_POSTGRES_HELP = (
    "One PostgreSQL URL (postgresql://user:password@host:5432/db) for Garrison's store and Prefect's "
    "server; Prefect's tables go in the schema 'prefect'. Sets GARRISON_DATABASE_URL and "
    "PREFECT_SERVER_DATABASE_CONNECTION_URL (each with its driver) for everything started."
)
PostgresOption = Annotated[
    str | None, typer.Option("--postgres", metavar="URL", envvar="GARRISON_POSTGRES_URL", help=_POSTGRES_HELP)
]


def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Also run the MyKings demo once everything is up.")
    ] = False,
    postgres: PostgresOption = None,
) -> None:
    """Start Garrison: Prefect server + UI, the respond deployment, and the intake API. Ctrl-C stops all.

    A child that dies is restarted (and said so); only one that keeps dying stops everything."""
    settings = _use_postgres(postgres)
    runtime = _start(settings, quiet=False)
    console.print(
        f"[bold green]Garrison is up.[/] UI {settings.prefect_ui_url}   intake {settings.api_url}/v1/alerts"
    )
    console.print(f"Home {settings.home}   outbox {settings.outbox_dir}   logs {settings.home / 'logs'}")
    console.print(f"The UI asks for a password once: the content of {settings.prefect_auth_path}")
    if demo:
        report = _demo_with_progress(settings)
        print_report(report, settings)
    console.print("Press Ctrl-C to stop.")
    exit_with(run_until_signalled(runtime, say=lambda line: console.print(line)))


def worker(
    prefect_api: Annotated[
        str | None,
        typer.Option(
            "--prefect-api",
            metavar="URL",
            envvar="PREFECT_API_URL",
            help="The Prefect API of the machine running `garrison up` (http://host:4200/api).",
        ),
    ] = None,
    postgres: PostgresOption = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            envvar="GARRISON_WORKER_NAME",
            help="This worker's name, unique among the runners (default: <hostname>-worker).",
        ),
    ] = None,
) -> None:
    """Serve Garrison's respond and recheck deployments from this machine, beside `garrison up`'s runner.

    Needs the Prefect API's auth string (PREFECT_API_AUTH_STRING, or the secrets folder copied from the
    `garrison up` machine, which also holds the decision key and the tenants' secrets) and the shared
    store (--postgres or GARRISON_DATABASE_URL). Ctrl-C stops it; its running flow runs end Crashed and
    the intake's sweeper retries them."""
    settings = _use_postgres(postgres)
    if name:
        os.environ["GARRISON_WORKER_NAME"] = name
    if settings.database_url_override is None:
        err_console.print(
            Text(
                f"note: the store is SQLite in {settings.home}; only runners on this machine share it "
                "(--postgres for workers on other machines)",
                style="yellow",
            )
        )
    say = lambda line: err_console.print(Text(line, style="dim"))  # noqa: E731
    try:
        runtime = Runtime.start_worker(settings, prefect_api or settings.prefect_api_url, say=say)
    except StartupError as error:
        fail(str(error))
    console.print(f"[bold green]Garrison worker is up.[/] logs {settings.home / 'logs' / 'worker.log'}")
    console.print("Press Ctrl-C to stop.")
    exit_with(run_until_signalled(runtime, say=lambda line: console.print(line)))


def _use_postgres(url: str | None) -> Settings:
    """The settings, with ``--postgres URL`` applied to this process and everything it starts."""
    if url:
        try:
            os.environ.update(postgres_env(url))
        except DatabaseError as error:
            fail(str(error))
        get_settings.cache_clear()
    return get_settings()


def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    timeout: Annotated[float, typer.Option(min=5, help="Seconds to wait for the playbook.")] = 90.0,
) -> None:
    """Seed the MyKings host, send its alert, wait for the playbook, and show what happened.

    Uses a running Garrison if there is one; otherwise starts it and stops it afterwards.
    """
    settings = get_settings()
    running = answers(f"{settings.api_url}/v1/health") and answers(f"{settings.prefect_api_url}/health")
    runtime = None if running else _start(settings, quiet=as_json)
    try:
        report = run_demo(settings, timeout) if as_json else _demo_with_progress(settings, timeout)
    finally:
        if runtime is not None:
            runtime.stop()
    if as_json:
        emit_json(report.as_dict())
    else:
        print_report(report, settings)
    exit_with(0 if report.ok else 1)


def _start(settings: Settings, quiet: bool) -> Runtime:
    say = (lambda _line: None) if quiet else (lambda line: err_console.print(Text(line, style="dim")))
    try:
        with err_console.status("starting Garrison …", spinner="dots"):
            return Runtime.start(settings, say=say)
    except StartupError as error:
        fail(str(error))


def _demo_with_progress(settings: Settings, timeout: float = 90.0) -> DemoReport:
    with console.status("running the MyKings demo …", spinner="dots") as status:
        return run_demo(settings, timeout, on_status=lambda line: status.update(Text(f"demo: {line}")))


def print_report(report: DemoReport, settings: Settings) -> None:
    view = report.incident
    table = Table(title="MyKings demo", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    if view is not None:
        table.add_row("Incident", view.id)
        table.add_row("Status", view.status)
        table.add_row("Verdict", f"{view.verdict} (score {view.score})")
        for reason in view.reasons:
            table.add_row("  why", Text(f"{reason['question']} {reason['finding']}"))
        for action in view.actions:
            mark = "✔" if action.status == "succeeded" else "✘"
            target = defang(action.target) if ".block_" in action.key else action.target
            table.add_row(
                f"  {mark} action", Text(f"{action.key} → {target}: {action.detail or action.status}")
            )
        for note in view.notifications:
            table.add_row("Notification", Text(f"{note.event} → {note.target}: {note.status}"))
        outbox = sorted(Path(settings.outbox_dir).glob(f"{view.tenant}/*.txt"))
        if outbox:
            table.add_row("  message file", str(outbox[-1]))
    if report.host is not None:
        host = report.host
        kept = ", ".join(v["name"] for v in host["registry_values"]) or "none"
        table.add_row(
            "Lab host",
            f"{host['hostname']}: {'isolated' if host['isolated'] else 'NOT isolated'}; "
            f"registry values left: {kept}",
        )
    if report.ui_url:
        table.add_row("Prefect UI", report.ui_url)
    console.print(table)
    if report.ok:
        console.print(
            "[bold green]Demo passed:[/] the alert was triaged, contained and reported; "
            "an analyst was asked to close it."
        )
    else:
        for problem in report.problems:
            err_console.print(Text(f"demo problem: {problem}", style="red"))
