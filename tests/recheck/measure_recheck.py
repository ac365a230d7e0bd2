"""Measure a re-check over N closed incidents built through the store (not collected by pytest).

    .venv/bin/python tests/recheck/measure_recheck.py [N] [local]

Builds N closed incidents (N/40 shared domains; one host isolation each, read back from the lab), then
times ``recheck`` once, with VirusTotal (faked by respx, paced by its public-API limit of 4 lookups a
minute) or, with ``local``, the local feeds only; prints the figures as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import respx
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["GARRISON_HOME"] = tempfile.mkdtemp(prefix="garrison-recheck-bench-")
os.environ["RECHECK_VT_KEY"] = "vt-key-for-bench"

from actions.lab import HostSeed, LabFleet  # noqa: E402
from flows.recheck import Outcome, recheck  # noqa: E402
from flows.settings import get_settings  # noqa: E402
from flows.store import Store  # noqa: E402
from flows.tenants import load_tenants  # noqa: E402
from tests.recheck._build import closed_incident, dns_alert  # noqa: E402


def main(count: int, online: bool) -> None:
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.database_url)
    config = yaml.safe_load(settings.tenants_file.read_text(encoding="utf-8"))
    [demo] = [t for t in config["tenants"] if t["id"] == "demo"]
    if online:
        demo["intel"] = {
            "providers": ["virustotal"],
            "secrets": {"virustotal_api_key": {"env": "RECHECK_VT_KEY"}},
        }
    path = settings.home / "tenants.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    tenants = load_tenants(path)
    domains = [f"cdn{n}.example-telemetry.net" for n in range(max(1, count // 40))]
    fleet = LabFleet(store.engine)
    started = time.perf_counter()
    for n in range(count):
        host = f"WS-SALES-{n:04d}"
        fleet.seed(HostSeed(tenant="demo", hostname=host))
        fleet.set_isolated("demo", host, True)
        incident_id = closed_incident(store, dns_alert(n, domains[n % len(domains)], host=host))
        entry = store.ledger.claim(
            tenant="demo",
            incident_id=incident_id,
            action="lab.isolate_host",
            target=host,
            inputs={"hostname": host},
            inverse="lab.release_host",
            owner="bench",
            lease_seconds=60,
        )
        store.ledger.finish(entry.id, "bench", status="succeeded", detail="host isolated")
    built = time.perf_counter() - started

    with respx.mock(assert_all_called=online) as vt:
        route = vt.get(url__regex=r"https://www\.virustotal\.com/api/v3/domains/.*").mock(
            return_value=httpx.Response(
                404, json={"error": {"code": "NotFoundError", "message": "not found"}}
            )
        )
        started = time.perf_counter()
        findings = recheck(store, tenants, now=datetime.now(UTC))
        took = time.perf_counter() - started
    print(
        json.dumps(
            {
                "incidents": count,
                "unique_indicators": len(domains),
                "build_seconds": round(built, 1),
                "recheck_seconds": round(took, 1),
                "per_incident_ms": round(1000 * took / max(1, len(findings)), 1),
                "provider_calls": route.call_count,
                "still_fine": sum(f.outcome is Outcome.STILL_FINE for f in findings),
                "effects_checked": sum(len(f.effects) for f in findings),
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, "local" not in sys.argv[2:])
