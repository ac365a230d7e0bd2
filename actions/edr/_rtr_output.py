"""Reading what RTR commands print: ``ps``'s table, a fixed script's JSON.

The host prints it, so it is hostile too: nothing read here reaches a command line except registry data on
a restore, and that only as base64 (``_rtr_regdata``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .._errors import PermanentError

_ID_HEADER = re.compile(r"\bId\b")
_TRUNCATED = ("...", "\u2026")


@dataclass(frozen=True)
class Process:
    pid: int
    name: str  # as ``ps`` shows it; may end in "..." when the column was too narrow


@dataclass(frozen=True)
class ProcessTable:
    running: dict[int, Process]
    unreadable: int  # rows that named no pid where the Id column is: a pid could hide in one


def processes(stdout: str) -> ProcessTable:
    """``ps``'s table (Name, Id, Start Time, …, Path), read by the columns its header sets: the Id column
    is right-aligned, so each pid ends where the header's ``Id`` ends (or just past it, when a long pid
    overflows) and the name is what precedes it."""
    lines = stdout.splitlines()
    header = next(
        (i for i, line in enumerate(lines) if line.lstrip().startswith("Name") and "Id" in line), None
    )
    found = None if header is None else _ID_HEADER.search(lines[header])
    if header is None or found is None:
        raise PermanentError("crowdstrike_rtr: ps printed no process table (Name, Id header)")
    running: dict[int, Process] = {}
    unreadable = 0
    for line in lines[header + 1 :]:
        if not line.strip() or set(line.strip()) <= {"-", " "}:
            continue
        cut = found.end()
        while cut < len(line) and line[cut].isdigit():
            cut += 1
        name, _, pid = line[:cut].rstrip().rpartition(" ")
        if pid.isdigit() and name.strip():
            running[int(pid)] = Process(int(pid), name.strip())
        else:
            unreadable += 1
    return ProcessTable(running, unreadable)


def same_image(shown: str, expected: str) -> bool:
    """Whether ``ps``'s name is the expected image (``powershell`` is ``powershell.exe``; a truncated name
    matches the image it is the start of)."""

    def base(name: str) -> str:
        name = name.strip().lower()
        return name[:-4] if name.endswith(".exe") else name

    want = base(expected)
    for cut in _TRUNCATED:
        if shown.endswith(cut):
            prefix = base(shown[: -len(cut)])
            return len(prefix) >= 3 and want.startswith(prefix)
    return base(shown) == want


def script_json(script: str, stdout: str, stderr: str) -> dict[str, Any]:
    """The one JSON line a fixed script prints last; its errors (stderr) fail the action."""
    if stderr.strip():
        raise PermanentError(f"crowdstrike_rtr: script {script} failed: {_line(stderr)}")
    last = next((line for line in reversed(stdout.splitlines()) if line.strip()), "")
    try:
        answer = json.loads(last)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise PermanentError(f"crowdstrike_rtr: script {script} printed no JSON object (is it uploaded?)")
    return answer


def _line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 200 else flat[:199] + "\u2026"
