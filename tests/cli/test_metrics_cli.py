"""``garrison metrics`` as an operator runs it: a table per tenant at 80 columns, ``--json`` for scripts,
``--tenant`` and ``--since`` to choose, one line when there is nothing, one line for a bad date."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from flows.cli import app
from flows.cli._metrics import parse_since
from flows.settings import Settings
from flows.store import Store, duration
from flows.store._schema import IncidentRow
from tests.store.test_metrics import Clock, _history

runner = CliRunner()
NARROW = {"COLUMNS": "80"}


@pytest.fixture
def history(store: Store, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Four incidents of acme and one of beta, with the figures ``tests/store/test_metrics.py`` works out."""
    return _history(store, Clock(store, monkeypatch))


def _garrison(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"GARRISON_HOME": str(settings.home), "PATH": "/usr/bin:/bin", "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def _rows(block: str) -> dict[str, list[str]]:
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in block.splitlines() if "│" in line]
    return {row[0]: row[1:] for row in cells}


def test_the_table_shows_each_tenant_within_80_columns(history: dict[str, str]) -> None:
    done = runner.invoke(app, ["metrics"], env=NARROW)

    assert done.exit_code == 0, done.output
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    acme, beta = done.stdout.split("tenant beta: 1 incident")
    assert acme.lstrip().startswith("tenant acme: 4 incidents")
    assert _rows(acme) == {
        "MTTD: evidence → alert received": ["3", "30m 00s", "2h 00m"],
        "MTTA: received → first decision": ["4", "3m 00s", "33m 00s"],
        "MTTR: received → contained": ["2", "10m 00s", "33m 00s"],
        "waited for an analyst": ["2", "19m 30s", "1h 00m"],
        "in awaiting_approval": ["2", "20m 00s", "1h 01m"],
    }
    assert "verdicts: benign 2, malicious 2\nstatuses: closed 3, contained 1\nreopened: 1 of 4 (25%)" in acme
    assert _rows(beta)["MTTD: evidence → alert received"] == ["1", "5h 00m", "5h 00m"]
    assert _rows(beta)["MTTR: received → contained"] == ["0", "-", "-"]
    assert "verdicts: none 1\nstatuses: new 1\nreopened: 0 of 1 (0%)" in beta


def test_json_is_for_scripts_spans_in_seconds(history: dict[str, str]) -> None:
    done = runner.invoke(app, ["metrics", "--json"])

    data = json.loads(done.stdout)
    acme = next(t for t in data["tenants"] if t["tenant"] == "acme")
    assert acme["mttd"] == {"count": 3, "p50": 1800.0, "p90": 7200.0}
    assert acme["mttr"] == {"count": 2, "p50": 600.0, "p90": 1980.0}
    assert acme["waited_for_analyst"] == {"count": 2, "p50": 1170.0, "p90": 3600.0}
    assert acme["awaiting_approval"] == {"count": 2, "p50": 1200.0, "p90": 3660.0}
    assert (acme["reopened"], acme["reopen_rate"]) == (1, 0.25)
    assert acme["by_status"] == {"closed": 3, "contained": 1}
    assert data["tenant"] is None and data["since"] is None


def test_tenant_and_since_choose(history: dict[str, str]) -> None:
    beta = json.loads(runner.invoke(app, ["metrics", "--tenant", "beta", "--json"]).stdout)
    recent = json.loads(runner.invoke(app, ["metrics", "--since", "2024-05-03", "--json"]).stdout)

    assert [t["tenant"] for t in beta["tenants"]] == ["beta"] and beta["tenant"] == "beta"
    assert [(t["tenant"], t["incidents"]) for t in recent["tenants"]] == [("acme", 2), ("beta", 1)]
    assert recent["since"] == "2024-05-03T00:00:00+00:00"
    # Everything in the history is from 2024: nothing in the last week.
    assert runner.invoke(app, ["metrics", "--since", "7d"]).stdout.startswith("No incidents since ")


def test_an_empty_store_says_so_in_one_line(settings: Settings) -> None:
    done = _garrison(settings, "metrics")
    narrowed = _garrison(settings, "metrics", "--tenant", "acme")

    assert (done.returncode, done.stdout, done.stderr) == (0, "No incidents.\n", "")
    assert narrowed.stdout == "No incidents for tenant acme.\n"
    assert json.loads(_garrison(settings, "metrics", "--json").stdout)["tenants"] == []


def test_a_bad_date_is_one_line_with_status_1(settings: Settings) -> None:
    done = _garrison(settings, "metrics", "--since", "last tuesday")

    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: --since 'last tuesday': not a date; give 2024-05-01, 2024-05-01T08:00Z, 7d or 12h"
    )


def test_a_tenant_or_status_from_the_database_cannot_drive_the_terminal(
    store: Store, history: dict[str, str]
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(IncidentRow)
            .where(IncidentRow.id == history["E"])
            .values(tenant="beta\x1b]52;c;Y2F0\x07", status="new\x1b[2J")
        )

    done = runner.invoke(app, ["metrics"], env={"COLUMNS": "200"})

    assert "\x1b" not in done.stdout
    assert "beta\\x1b]52;c;Y2F0\\x07" in done.stdout and "new\\x1b[2J 1" in done.stdout


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (0.4, "0s"),
        (45, "45s"),
        (750, "12m 30s"),
        (7500, "2h 05m"),
        (3 * 86400 + 4 * 3600, "3d 04h"),
    ],
)
def test_durations_read_at_a_glance(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


def test_since_takes_dates_times_and_spans_back() -> None:
    now = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)

    assert parse_since("2024-05-01", now) == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_since("2024-05-01T08:00+02:00", now) == datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("12h", now) == now - timedelta(hours=12)
