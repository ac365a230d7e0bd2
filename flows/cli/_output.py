"""How the CLI speaks: JSON for scripts, rich tables for people, one-line errors.

Every value that comes from alert data (titles, hostnames, command lines, indicators, findings, reasons)
reaches the terminal through ``shown`` (or ``terminal_safe``): an alert must not be able to write the
analyst's clipboard (OSC 52), plant a hyperlink (OSC 8), clear the screen or reorder what is read.
``rich.text.Text`` keeps alert data from being read as rich markup but passes ESC through; JSON output
escapes every control character itself (``json.dumps`` with ``ensure_ascii``).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from typing import Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.text import Text

from flows.store import Store

console = Console()
err_console = Console(stderr=True)


# Candidates only (anything but printable ASCII); _escaped decides by Unicode category.
_SUSPECT = re.compile(r"[^\x20-\x7e]")
# C0, DEL and C1 controls (ESC, CSI \x9b, OSC \x9d …), format characters (bidi overrides and isolates,
# LRM/RLM, zero-width), line and paragraph separators, lone surrogates (they cannot even be printed).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def terminal_safe(value: object, *, lines: bool = False) -> str:
    r"""``value`` as text no terminal acts on: every control, format (bidi, zero-width) and separator
    character is shown escaped, the way Python writes it; ``lines`` keeps line breaks and tabs.

    >>> terminal_safe("WS-07\x1b]52;c;Y2F0\x07\u202e")
    'WS-07\\x1b]52;c;Y2F0\\x07\\u202e'
    """
    return _SUSPECT.sub(lambda m: _escaped(m.group(0), lines), str(value))


def _escaped(char: str, lines: bool) -> str:
    if (lines and char in "\n\t") or unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def shown(value: object, style: str = "") -> Text:
    """A value from alert data as a table cell or a line: never rich markup, never a terminal control."""
    return Text(terminal_safe(value), style=style)


class CliError(Exception):
    """An expected failure: printed as one line, exit status 1 (its message made terminal-safe: it may
    quote what the user typed or what an alert said)."""

    def __init__(self, message: str) -> None:
        super().__init__(terminal_safe(message))


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
    # ensure_ascii (the default): every control and non-ASCII character is written as a \uXXXX escape.
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in data]
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def exit_with(code: int) -> NoReturn:
    raise typer.Exit(code)
