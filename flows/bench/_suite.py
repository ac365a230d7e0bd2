"""``garrison bench`` (``bench all``): every benchmark in one run, each figure beside its baseline.

Intake (batched, concurrent single POSTs, one after the other, a storm), triage (network telemetry, and
the SigmaHQ corpus over Windows telemetry, warm and as a cold ``garrison triage``) and respond (a burst of
distinct incidents through a real ``garrison up``). ``quick`` runs smaller sizes: under three minutes on
two cores. A benchmark that fails is reported as such, and the others still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._intake import IntakeBenchmark, run_intake_benchmark
from ._respond import RespondBenchmark, run_respond_benchmark
from ._sigma import SigmaBenchmark, run_sigma_benchmark
from ._triage import TriageBenchmark, run_triage_benchmark


@dataclass(frozen=True)
class Sizes:
    single: int
    concurrent: int
    batch: int
    storm: int
    triage_events: int
    triage_repeat: int
    sigma_repeat: int
    incidents: int
    respond_timeout: float


QUICK = Sizes(200, 2_000, 10_000, 5_000, 10_000, 3, 2, 20, 150.0)
FULL = Sizes(500, 4_000, 20_000, 10_000, 10_000, 5, 3, 100, 900.0)
CLIENTS = 16


@dataclass
class Suite:
    quick: bool
    seconds: float = 0.0
    intake: IntakeBenchmark | None = None
    triage: TriageBenchmark | None = None
    sigma: SigmaBenchmark | None = None
    respond: RespondBenchmark | None = None
    failures: dict[str, str] = field(default_factory=dict)  # benchmark → why it did not finish

    def as_dict(self) -> dict[str, Any]:
        parts = {"intake": self.intake, "triage": self.triage, "sigma": self.sigma, "respond": self.respond}
        return {
            "quick": self.quick,
            "seconds": self.seconds,
            **{name: part.as_dict() if part else None for name, part in parts.items()},
            "failures": self.failures,
            "figures": [
                dict(zip(("measure", "value", "baseline", "ratio"), row, strict=True)) for row in self.rows()
            ],
        }

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(measure, value, baseline measured in the same run, value ÷ baseline)."""
        rows: list[tuple[str, str, str, str]] = []
        if (i := self.intake) is not None:
            rows += [
                (
                    f"intake batched ({i.batch_size}/request), alerts/s",
                    f"{i.batch_per_second:,.0f}",
                    f"raw SQLite, same batches: {i.baseline_per_second:,.0f}",
                    f"{i.batch_vs_baseline:.3f}",
                ),
                (
                    f"intake, {i.concurrent_clients} concurrent single-POST clients, alerts/s (p50 / p99)",
                    f"{i.concurrent_per_second:,.0f} "
                    f"({i.concurrent_p50_ms:.1f} / {i.concurrent_p99_ms:.1f} ms)",
                    f"raw SQLite, one per commit: {i.single_baseline_per_second:,.0f}",
                    f"{i.concurrent_vs_single_baseline:.3f}",
                ),
                (
                    "intake, single POSTs one after the other, alerts/s (p50 / p99)",
                    f"{i.single_per_second:,.0f} ({i.single_p50_ms:.1f} / {i.single_p99_ms:.1f} ms)",
                    f"raw SQLite, one per commit: {i.single_baseline_per_second:,.0f}",
                    f"{i.single_per_second / i.single_baseline_per_second:.3f}",
                ),
                (
                    f"storm collapse: {i.storm_alerts:,} alerts → {i.storm_incidents} incident(s), alerts/s",
                    f"{i.storm_per_second:,.0f}",
                    f"raw SQLite, same batches: {i.storm_baseline_per_second:,.0f}",
                    f"{i.storm_vs_baseline:.3f}",
                ),
                (
                    "acknowledged alerts found in the store",
                    f"{i.stored:,}",
                    f"{i.acknowledged:,} answered 2xx",
                    "",
                ),
            ]
        if (t := self.triage) is not None:
            rows.append(
                (
                    f"triage per alert, {t.events:,} network events (memory / store)",
                    f"{t.memory_ms_median:.1f} / {t.store_ms_median:.1f} ms",
                    f"one pass: {t.baseline_ms_median:.2f} ms",
                    f"{t.memory_vs_baseline:.1f}",
                )
            )
        if (s := self.sigma) is not None:
            rows += [
                (
                    f"triage per alert, {s.events:,} Windows events, {s.rules:,} Sigma rules (warm)",
                    f"{s.warm_ms_median:.0f} ms",
                    f"one pass: {s.baseline_ms_median:.1f} ms",
                    f"{s.warm_vs_baseline:.1f}",
                ),
                (
                    "cold `garrison triage` (new process, same alert and events)",
                    f"{s.cold_s:.2f} s",
                    f"rule set load: {s.rules_load_s:.2f} s",
                    "",
                ),
            ]
        if (r := self.respond) is not None:
            rows += [
                (
                    f"respond burst, {r.handled}/{r.incidents} incidents handled, incidents/s",
                    f"{r.incidents_per_second:.2f}",
                    f"plain functions: {r.baseline_per_second:.2f}",
                    f"{r.overhead_ratio:.1f} (time per incident)",
                ),
                (
                    "alert → first action p50 / p95; → terminal p50 / p95",
                    f"{r.first_action_p50_s:.1f} / {r.first_action_p95_s:.1f} s; "
                    f"{r.terminal_p50_s:.1f} / {r.terminal_p95_s:.1f} s",
                    f"plain: {r.baseline_per_incident_ms:.0f} ms per incident",
                    "",
                ),
                ("`database is locked` in the Prefect server log", str(r.database_locked), "0", ""),
            ]
        return rows


def run_suite(quick: bool = False, say: Callable[[str], None] = lambda _: None) -> Suite:
    """Run every benchmark (smaller sizes when ``quick``); ``say`` hears the progress."""
    sizes = QUICK if quick else FULL
    suite = Suite(quick=quick)
    started = time.perf_counter()

    def part(name: str, run: Callable[[], Any]) -> Any:
        try:
            return run()
        except Exception as error:  # noqa: BLE001 - named in the report; the next benchmark still runs
            suite.failures[name] = f"{type(error).__name__}: {error}"[:500]
            return None

    suite.intake = part(
        "intake",
        lambda: run_intake_benchmark(
            sizes.single,
            sizes.batch,
            1_000,
            sizes.storm,
            say=lambda line: say(f"intake: {line}"),
            concurrent=sizes.concurrent,
            clients=CLIENTS,
        ),
    )
    say("triage: network telemetry")
    suite.triage = part("triage", lambda: run_triage_benchmark(sizes.triage_events, sizes.triage_repeat))
    say("triage: SigmaHQ rules over Windows telemetry (warm, then a cold garrison triage)")
    suite.sigma = part("sigma", lambda: run_sigma_benchmark(sizes.triage_events, sizes.sigma_repeat))
    suite.respond = part(
        "respond",
        lambda: run_respond_benchmark(
            sizes.incidents, sizes.respond_timeout, say=lambda line: say(f"respond: {line}")
        ),
    )
    suite.seconds = round(time.perf_counter() - started, 1)
    return suite
