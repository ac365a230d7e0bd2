"""`garrison bench` with no command (or `bench all`): every benchmark, each beside its baseline; one that
fails is reported and the others still run. The benchmarks themselves are replaced by recorded figures
here (each has its own test); what is tested is the suite: sizes, rows, JSON, exit codes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from flows.bench import (
    QUICK,
    IntakeBenchmark,
    RespondBenchmark,
    SigmaBenchmark,
    TriageBenchmark,
    run_suite,
)
from flows.bench import _suite as suite_module
from flows.cli import app

runner = CliRunner()

INTAKE = IntakeBenchmark(
    single_alerts=200, single_per_second=250.0, single_p50_ms=3.5, single_p99_ms=9.0,
    concurrent_clients=16, concurrent_alerts=2000, concurrent_per_second=1100.0, concurrent_p50_ms=12.0,
    concurrent_p99_ms=45.0, single_baseline_per_second=5000.0, concurrent_vs_single_baseline=0.22,
    batch_alerts=10000, batch_size=1000, batch_per_second=9000.0, baseline_per_second=150000.0,
    batch_vs_baseline=0.06, storm_alerts=5000, storm_incidents=1, storm_seconds=0.5, storm_per_second=10000.0,
    storm_baseline_per_second=160000.0, storm_vs_baseline=0.0625, acknowledged=17200, stored=17200,
)  # fmt: skip
TRIAGE = TriageBenchmark(10000, 40.0, 90.0, 2.0, 20.0, "suspicious")
SIGMA = SigmaBenchmark(10000, 2856, 0.5, 800.0, 2.5, 20.0, 40.0, ["PowerShell Download Pattern"], "malicious")
RESPOND = RespondBenchmark(
    incidents=20, handled=20, seconds=8.0, incidents_per_second=2.5, first_action_p50_s=1.5,
    first_action_p95_s=4.0, terminal_p50_s=4.0, terminal_p95_s=7.5, statuses={"contained": 20},
    runs={"COMPLETED": 20}, database_locked=0, baseline_seconds=2.0, baseline_per_second=10.0,
    baseline_per_incident_ms=100.0, overhead_ratio=4.0,
)  # fmt: skip


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    asked: dict[str, Any] = {}

    def intake(single: int, batch: int, batch_size: int, storm: int, **more: Any) -> IntakeBenchmark:
        asked["intake"] = (single, batch, batch_size, storm, more["concurrent"], more["clients"])
        return INTAKE

    def triage(events: int, repeat: int) -> TriageBenchmark:
        asked["triage"] = (events, repeat)
        return TRIAGE

    def sigma(events: int, repeat: int) -> SigmaBenchmark:
        asked["sigma"] = (events, repeat)
        return SIGMA

    def respond(incidents: int, timeout: float, **_: Any) -> RespondBenchmark:
        asked["respond"] = (incidents, timeout)
        if asked.get("respond_fails"):
            raise RuntimeError("garrison up did not start for the benchmark")
        return RESPOND

    monkeypatch.setattr(suite_module, "run_intake_benchmark", intake)
    monkeypatch.setattr(suite_module, "run_triage_benchmark", triage)
    monkeypatch.setattr(suite_module, "run_sigma_benchmark", sigma)
    monkeypatch.setattr(suite_module, "run_respond_benchmark", respond)
    return asked


def test_quick_runs_every_benchmark_at_its_small_sizes(recorded: dict[str, Any]) -> None:
    suite = run_suite(quick=True)

    assert recorded["intake"] == (QUICK.single, QUICK.batch, 1000, QUICK.storm, QUICK.concurrent, 16)
    assert recorded["respond"][0] == 20 and recorded["sigma"] == (10_000, QUICK.sigma_repeat)
    assert not suite.failures
    measures = [row[0] for row in suite.rows()]
    assert any("16 concurrent single-POST" in m for m in measures)
    assert any("storm collapse" in m for m in measures) and any("Sigma rules" in m for m in measures)
    assert any("respond burst" in m for m in measures)
    for measure, value, baseline, _ratio in suite.rows():  # every figure has its baseline beside it
        assert value and baseline, measure


def test_a_failing_benchmark_is_reported_and_the_others_still_run(recorded: dict[str, Any]) -> None:
    recorded["respond_fails"] = True

    result = runner.invoke(app, ["bench", "--quick", "--json"])

    assert result.exit_code == 1
    figures = json.loads(result.stdout)
    assert figures["failures"] == {"respond": "RuntimeError: garrison up did not start for the benchmark"}
    assert figures["intake"]["concurrent_per_second"] == 1100.0 and figures["respond"] is None
    assert {"measure", "value", "baseline", "ratio"} == set(figures["figures"][0])


def test_bench_without_a_command_and_bench_all_print_the_same_table(recorded: dict[str, Any]) -> None:
    bare = runner.invoke(app, ["bench", "--quick"], env={"COLUMNS": "240"})
    named = runner.invoke(app, ["bench", "all", "--quick"], env={"COLUMNS": "240"})

    assert bare.exit_code == 0 and named.exit_code == 0, bare.output
    for text in ("raw SQLite, same batches: 150,000", "0.060", "1,100 (12.0 / 45.0 ms)", "2.50 s"):
        assert text in bare.stdout and text in named.stdout
