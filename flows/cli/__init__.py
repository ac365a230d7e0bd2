"""The ``garrison`` command line: typer + rich, ``--json`` on everything that shows data."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Iterable

import typer
from rich.text import Text

from ._output import CliError, err_console, shown

# Each top-level command, and the module that defines it: (name, attribute) for a command, (name, None)
# for a group (the module's ``app``). ``main`` imports only the invoked command's module, so a cold
# ``garrison triage`` does not load Prefect, the intake and the runtime for the commands it does not run.
_COMMANDS: dict[str, list[tuple[str, str | None]]] = {
    "_demo": [("up", "up"), ("demo", "demo"), ("worker", "worker")],
    "_ingest": [("ingest", "ingest")],
    "_dead_letters": [("dead-letters", "dead_letters")],
    "_triage": [("triage", "triage_command")],
    "_recheck": [("recheck", "recheck")],
    "_metrics": [("metrics", "metrics")],
    "_campaigns": [("campaigns", "campaigns_command")],
    "_incidents": [("incidents", None)],
    "_lab": [("lab", None)],
    "_bench": [("bench", None)],
    "_audit": [("audit", None)],
    "_standing": [("standing", None)],
    "_rules": [("rules", None)],
    "_actions": [("actions", None)],
    "_playbook": [("playbook", None)],
    "_response": [
        ("plan", "plan"),
        ("rollback", "rollback"),
        ("approve", "approve"),
        ("reconcile", "reconcile"),
    ],
    "_decisions": [("pending", "pending"), ("decide", "decide")],
}
_MODULE_OF = {name: module for module, commands in _COMMANDS.items() for name, _ in commands}


def build(modules: Iterable[str] | None = None) -> typer.Typer:
    """The ``garrison`` app with the commands of ``modules`` (all of them by default), in the order of
    ``_COMMANDS`` (the order ``--help`` lists them)."""
    chosen = set(_COMMANDS if modules is None else modules)
    cli = typer.Typer(
        name="garrison",
        help="Garrison: automated response orchestration for MDR teams, on Prefect.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @cli.callback()
    def _garrison() -> None:
        # A group, also when one command is loaded: typer would otherwise make that command the root.
        pass

    for module_name, commands in _COMMANDS.items():
        if module_name not in chosen:
            continue
        module = importlib.import_module(f"{__name__}.{module_name}")
        for name, attribute in commands:
            if attribute is None:
                cli.add_typer(module.app, name=name)
            else:
                cli.command(name)(getattr(module, attribute))
    return cli


@functools.cache
def _full() -> typer.Typer:
    return build()


def __getattr__(name: str) -> typer.Typer:
    # ``from flows.cli import app``: every command (tests, `python -m flows.cli --help`).
    if name == "app":
        return _full()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _for(argv: list[str]) -> typer.Typer:
    """The app for a command line: the invoked command's module only, or every command (help, a typo)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    module = _MODULE_OF.get(first or "")
    return build([module]) if module is not None and "--help" not in argv[:1] else _full()


def main() -> None:
    """Entry point: expected failures are one line on stderr; GARRISON_DEBUG=1 shows tracebacks."""
    try:
        code = _for(sys.argv[1:])(standalone_mode=False)
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


__all__ = ["app", "build", "main"]
