"""``garrison recheck`` as a user runs it: in-process against the store, one line per incident that
changed and a summary; ``--json`` for scripts; one clear line for what cannot be checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.settings import Settings, get_settings
from flows.store import Store
from tests.recheck._build import closed_incident, dns_alert, feed

runner = CliRunner()
BAD = "cdn-update.example-telemetry.net"
GOOD = "assets.example-vendor.net"


@pytest.fixture
def two_closed(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Two benign closed incidents; since then the local feed lists one's domain as a loader's C2."""
    then = feed(
        tmp_path / "then.csv",
        ("domain", BAD, "benign", "Vendor CDN", "allow-feed"),
        ("domain", GOOD, "benign", "Vendor CDN", "allow-feed"),
    )
    ids = {
        "bad": closed_incident(store, dns_alert(1, BAD), feeds=[then]),
        "good": closed_incident(store, dns_alert(2, GOOD), feeds=[then]),
    }
    now = feed(
        tmp_path / "now.csv",
        ("domain", BAD, "malicious", "Loader C2", "c2-feed"),
        ("domain", GOOD, "benign", "Vendor CDN", "allow-feed"),
    )
    monkeypatch.setenv("GARRISON_INTEL_FEEDS", json.dumps([str(now)]))
    get_settings.cache_clear()
    return ids


def test_recheck_reopens_what_changed_and_says_so(two_closed: dict[str, str], store: Store) -> None:
    result = runner.invoke(app, ["recheck", "--now"])

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"{two_closed['bad'][:8]}  demo  reopened: ")
    assert "cdn-update[.]example-telemetry[.]net is now listed malicious by c2-feed" in lines[0]
    assert lines[-1] == ("re-checked 2 closed incident(s) of the last 365 days: 1 reopened, 1 still fine")
    assert store.incident(two_closed["bad"]).status == "reopened"  # type: ignore[union-attr]
    assert store.incident(two_closed["good"]).status == "closed"  # type: ignore[union-attr]


def test_recheck_json_dry_run_parses_and_changes_nothing(two_closed: dict[str, str], store: Store) -> None:
    result = runner.invoke(app, ["recheck", "--dry-run", "--json", "--tenant", "demo", "--horizon", "30"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["summary"] == {
        "checked": 2,
        "still_fine": 1,
        "reopened": 0,
        "would_reopen": 1,
        "skipped": 0,
        "effects_lost": 0,
        "effects_unverifiable": 0,
        "indicator_lookups": 2,
        "dry_run": True,
    }
    [changed] = [f for f in report["findings"] if f["outcome"] == "would_reopen"]
    assert changed["incident_id"] == two_closed["bad"] and changed["verdict_then"] == "benign"
    assert all(s.status == "closed" for s in store.incidents())


def test_one_incident_by_prefix_and_clear_errors(two_closed: dict[str, str]) -> None:
    only = runner.invoke(app, ["recheck", "--incident", two_closed["good"][:8], "--json"])
    assert only.exit_code == 0, only.output
    assert [f["incident_id"] for f in json.loads(only.output)["findings"]] == [two_closed["good"]]

    for args, message in (
        (["--tenant", "nobody"], "unknown tenant 'nobody'"),
        (["--incident", "ffffffff"], "no incident ffffffff"),
        (["--horizon", "0"], "Invalid value for '--horizon'"),
    ):
        result = runner.invoke(app, ["recheck", *args])
        assert result.exit_code != 0
        assert message in (result.output + str(result.exception)), args


def test_the_installed_command_prints_json_and_one_line_errors(
    two_closed: dict[str, str], settings: Settings
) -> None:
    garrison = Path(sys.executable).parent / "garrison"
    env = {**os.environ, "GARRISON_HOME": str(settings.home)}

    ran = subprocess.run(
        [garrison, "recheck", "--now", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    refused = subprocess.run(
        [garrison, "recheck", "--incident", two_closed["bad"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["summary"]["reopened"] == 1
    assert refused.returncode == 1
    assert (
        refused.stderr.strip() == f"error: incident {two_closed['bad'][:8]} is not closed (status reopened)"
    )
