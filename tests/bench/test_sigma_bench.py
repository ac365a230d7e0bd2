"""`garrison bench triage` with the SigmaHQ corpus: Windows telemetry the rules really read, the full rule
set, a warm triage and a cold `garrison triage` process (timings are printed, never asserted)."""

from __future__ import annotations

from datetime import UTC, datetime

from flows.bench import run_sigma_benchmark
from flows.bench._windows import windows_events
from flows.store import event_row


def test_the_windows_events_are_sysmon_and_security_shaped_and_stored_as_activity() -> None:
    documents = windows_events(600, "WS-1.corp.example", datetime(2026, 11, 15, tzinfo=UTC))

    providers = {d["Event"]["System"]["Provider"]["#attributes"]["Name"] for d in documents}
    rows = [event_row(d, "acme") for d in documents]

    assert providers == {"Microsoft-Windows-Sysmon", "Microsoft-Windows-Security-Auditing"}
    assert {row["class_uid"] for row in rows} >= {1007, 4001, 1001, 201002, 3002}
    assert {row["hostname"] for row in rows} == {"WS-1.corp.example"}


def test_the_sigma_benchmark_runs_the_corpus_warm_and_as_a_cold_garrison_triage() -> None:
    result = run_sigma_benchmark(events=300, repeat=1)

    assert result.events == 300 and result.rules > 1000  # the full Windows rule set, not a sample
    assert result.warm_ms_median > 0 and result.baseline_ms_median > 0 and result.cold_s > 0
    # the alert's own download cradle, and the recon and persistence among the events
    assert any("Download" in title for title in result.matched)
    assert result.verdict == "malicious"
