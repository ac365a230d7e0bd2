"""`garrison bench respond` as an operator runs it: a real `garrison up`, a batch of incidents handled
through Prefect, and the same steps as plain functions beside them (figures printed, never asserted as
speeds: only that they are measured and consistent)."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from flows.bench._respond import bench_alert
from flows.cli import app
from flows.settings import Settings
from tests._postgres import query

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="garrison up's runtime is Linux-first"),
]


def test_bench_respond_handles_every_incident_and_reports_figures_beside_the_baseline(
    settings: Settings,
) -> None:
    result = CliRunner().invoke(app, ["bench", "respond", "--incidents", "3", "--json"])

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["incidents"] == figures["handled"] == 3
    assert sum(figures["statuses"].values()) == 3
    assert set(figures["statuses"]) <= {"contained", "closed", "awaiting_approval"}
    assert figures["runs"] == {"COMPLETED": 3}
    assert 0 < figures["first_action_p50_s"] <= figures["first_action_p95_s"]
    assert 0 < figures["terminal_p50_s"] <= figures["terminal_p95_s"] <= figures["seconds"]
    assert figures["first_action_p50_s"] < figures["terminal_p95_s"]
    assert figures["incidents_per_second"] == pytest.approx(3 / figures["seconds"], rel=0.01)
    assert figures["database_locked"] >= 0
    assert figures["baseline_seconds"] > 0 and figures["baseline_per_incident_ms"] > 0
    assert figures["overhead_ratio"] > 0
    # The benchmark's home was thrown away, the operator's was not touched.
    assert not (settings.home / "outbox").exists() or not any((settings.home / "outbox").rglob("*"))


def test_bench_respond_on_postgres_keeps_the_garrison_under_test_there(postgres_url: str) -> None:
    result = CliRunner().invoke(
        app, ["bench", "respond", "--incidents", "3", "--postgres", postgres_url, "--json"]
    )

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["incidents"] == figures["handled"] == 3 and figures["runs"] == {"COMPLETED": 3}
    assert figures["database"].startswith("postgresql 127.0.0.1:") and "@" not in figures["database"]
    assert figures["baseline_seconds"] > 0  # the baseline ran too, on a SQLite store of its own
    # The incidents and Prefect's runs are in that database (Prefect's tables in their own schema).
    [(incidents, runs)] = query(
        postgres_url.replace("+psycopg", ""),
        "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM prefect.flow_run)",
    )
    assert incidents == 3 and runs >= 3


def test_every_bench_alert_is_its_own_incident_material() -> None:
    first, second = bench_alert(1, "r"), bench_alert(2, "r")

    assert first[0] != second[0]
    assert first[1]["device"]["hostname"] == first[0]
    text = json.dumps(first[1])
    assert "mykings.top" in text and "c0001.mykings.top" in text and "js.mykings.top" not in text
    assert "c0002" not in text and first[1]["finding_info"]["uid"] != second[1]["finding_info"]["uid"]
