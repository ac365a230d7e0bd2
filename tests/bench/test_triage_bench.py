"""`garrison bench triage` measures real triage runs: the same verdict from memory and from the store,
figures beside a baseline measured in the same run (timings are printed, never asserted)."""

from __future__ import annotations

from flows.bench import run_triage_benchmark


def test_the_triage_benchmark_runs_the_real_triage_and_reports_its_figures() -> None:
    result = run_triage_benchmark(events=300, repeat=1)

    figures = result.as_dict()
    assert figures["events"] == 300
    assert result.memory_ms_median > 0 and result.store_ms_median > 0 and result.baseline_ms_median > 0
    # msiexec beaconing to an address many other hosts reach: gray, never cleared by prevalence alone
    assert result.verdict == "suspicious"
