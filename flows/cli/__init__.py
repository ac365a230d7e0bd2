"""The ``garrison`` command line: typer + rich, ``--json`` on everything that shows data."""

from __future__ import annotations

import os
import sys

import typer
from rich.text import Text

from . import (
    _actions,
    _audit,
    _bench,
    _campaigns,
    _dead_letters,
    _decisions,
    _demo,
    _incidents,
    _ingest,
    _lab,
    _metrics,
    _playbook,
    _recheck,
    _response,
    _rules,
    _standing,
    _triage,
)
from ._output import CliError, err_console, shown

app = typer.Typer(
    name="garrison",
    help="Garrison: automated response orchestration for MDR teams, on Prefect.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("up")(_demo.up)
app.command("demo")(_demo.demo)
app.command("worker")(_demo.worker)
app.command("ingest")(_ingest.ingest)
app.command("dead-letters")(_dead_letters.dead_letters)
app.command("triage")(_triage.triage_command)
app.command("recheck")(_recheck.recheck)
app.command("metrics")(_metrics.metrics)
app.command("campaigns")(_campaigns.campaigns_command)
app.add_typer(_incidents.app, name="incidents")
app.add_typer(_lab.app, name="lab")
app.add_typer(_bench.app, name="bench")
app.add_typer(_audit.app, name="audit")
app.add_typer(_standing.app, name="standing")
app.add_typer(_rules.app, name="rules")
app.add_typer(_actions.app, name="actions")
app.add_typer(_playbook.app, name="playbook")
_response.register(app)  # plan, rollback, approve, reconcile
_decisions.register(app)  # pending, decide


def main() -> None:
    """Entry point: expected failures are one line on stderr; GARRISON_DEBUG=1 shows tracebacks."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        err_console.print("aborted")
        code = 130
    except typer.Exit as done:
        code = done.exit_code
    except typer.TyperException as error:  # usage errors: typer prints them in its own format
        show = getattr(error, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(shown(f"error: {error}", "red"), soft_wrap=True)
        code = getattr(error, "exit_code", 2)
    except CliError as error:
        # One line whatever the terminal's width: a wrapped error reads as several.
        err_console.print(Text(f"error: {error}", style="red"), soft_wrap=True)
        code = 1
    except Exception as error:  # noqa: BLE001 - the CLI's contract: one clear line, not a traceback
        if os.environ.get("GARRISON_DEBUG"):
            raise
        # An unexpected error's text may carry alert data: shown without terminal controls, like the rest.
        err_console.print(shown(f"error: {type(error).__name__}: {error}", "red"), soft_wrap=True)
        err_console.print("(set GARRISON_DEBUG=1 for the traceback)", style="dim")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
