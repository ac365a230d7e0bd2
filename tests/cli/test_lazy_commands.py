"""A command loads its own module only: a cold ``garrison triage`` must not pay for Prefect, the intake and
the runtime, which the commands it does not run need (issue 15: a cold triage start under 3 s)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flows.cli import app, build

_LOADED = (
    "import sys; from flows.cli import _for; _for({argv!r}); "
    "print(sorted(m for m in ('prefect', 'flows.intake', 'flows.runtime', 'fastapi') if m in sys.modules))"
)


def _loaded_by(argv: list[str]) -> str:
    found = subprocess.run(
        [sys.executable, "-c", _LOADED.format(argv=argv)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return found.stdout.strip()


def test_triage_loads_neither_prefect_nor_the_intake() -> None:
    assert _loaded_by(["triage", "alert.json"]) == "[]"


@pytest.mark.parametrize("argv", [["--help"], [], ["no-such-command"]])
def test_help_and_unknown_commands_get_every_command(argv: list[str]) -> None:
    assert "prefect" in _loaded_by(argv)


def test_every_command_is_in_the_full_app_once() -> None:
    names = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    assert len(names) == len(set(names)) == 23
    assert [c.name for c in build(["_triage"]).registered_commands] == ["triage"]
