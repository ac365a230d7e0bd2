"""``garrison bench triage``: how long triage takes for one alert with N context events.

Measured twice (events in memory, and read from a SQLite store as the respond flow does), beside a
baseline that only reads each event once (the floor for anything that looks at all of them).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from flows.models import Alert
from flows.store import EventRow, Store, event_row
from flows.tenants import Policy
from flows.triage import MemoryTelemetry, StoreTelemetry, triage

_T = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
_C2 = "203.0.113.45"


@dataclass
class TriageBenchmark:
    events: int
    memory_ms_median: float
    store_ms_median: float
    baseline_ms_median: float
    memory_vs_baseline: float
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _events(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    documents = []
    for n in range(count):
        beacon = n % 2 == 0
        host = f"WS-{n % 20:02d}" if beacon else f"PC-{rng.randint(1, 900):03d}"
        when = _T - timedelta(seconds=(n // 20) * 900 if beacon else rng.randint(0, 7 * 86400))
        documents.append(
            {
                "class_uid": 4001,
                "time": int(when.timestamp() * 1000),
                "metadata": {"tenant_uid": "acme" if beacon else f"tenant-{n % 4}"},
                "device": {"hostname": host},
                "dst_endpoint": {"ip": _C2, "port": 443},
                "traffic": {"bytes_out": 180 if beacon else rng.randint(500, 9000), "bytes_in": 0},
                "actor": {"process": {"file": {"path": "C:\\Windows\\System32\\msiexec.exe"}}},
            }
        )
    return documents


def _alert() -> Alert:
    return Alert.model_validate(
        {
            "class_uid": 2004,
            "time": int(_T.timestamp() * 1000),
            "metadata": {"tenant_uid": "acme", "product": {"name": "bench"}},
            "finding_info": {"uid": "bench-1", "title": "Periodic HTTPS from msiexec.exe"},
            "device": {"hostname": "WS-00"},
            "observables": [{"name": "dst_endpoint.ip", "type_id": 2, "value": _C2}],
        }
    )


def _median_ms(run: Any, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


def run_triage_benchmark(events: int = 10_000, repeat: int = 5) -> TriageBenchmark:
    alert = _alert()
    rows = [event_row(d, d["metadata"]["tenant_uid"]) for d in _events(events)]
    memory = MemoryTelemetry(rows)
    indicators = alert.indicators()
    with tempfile.TemporaryDirectory(prefix="garrison-bench-") as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'bench.db'}")
        with store.engine.begin() as conn:
            conn.execute(insert(EventRow), rows)
        stored = StoreTelemetry(store.engine)
        result = triage([alert], indicators, Policy(), memory, _T)
        memory_ms = _median_ms(lambda: triage([alert], indicators, Policy(), memory, _T), repeat)
        store_ms = _median_ms(lambda: triage([alert], indicators, Policy(), stored, _T), repeat)
        store.engine.dispose()
    baseline_ms = _median_ms(lambda: sum(1 for r in rows if r["dst"] == _C2 and r["time"] <= _T), repeat)
    return TriageBenchmark(
        events=events,
        memory_ms_median=memory_ms,
        store_ms_median=store_ms,
        baseline_ms_median=baseline_ms,
        memory_vs_baseline=round(memory_ms / baseline_ms, 1) if baseline_ms else 0.0,
        verdict=result.verdict.verdict.value,
    )
