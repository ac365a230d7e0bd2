"""How the CLI speaks: JSON for scripts, rich tables for people, one-line errors."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console

from flows.store import Store

console = Console()
err_console = Console(stderr=True)


class CliError(Exception):
    """An expected failure: printed as one line, exit status 1."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def resolve_incident(store: Store, given: str) -> str:
    """The full id of the incident the user named (whole, or a unique prefix as ``incidents list`` shows);
    a clear one-line error when none or several match."""
    found = store.incident_id(given)
    if found is None:
        fail(f"no incident {given}")
    return found


def emit_json(data: Any) -> None:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in data]
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def exit_with(code: int) -> NoReturn:
    raise typer.Exit(code)
