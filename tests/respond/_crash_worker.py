"""Crash-test workers, forked from a warm "zygote" so each starts in milliseconds and can be SIGKILLed.

Run as a script: it imports the engine once, then reads one JSON job per stdin line, forks a worker for
it and prints the worker's pid. A worker executes ``fakevendor.isolate_host`` on the job's hosts through
the real ledger (claim, lease, heartbeat, reconcile) and exits; the test kills some of them mid-way.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from actions import ActionContext, registry  # noqa: E402
from flows.respond._execute import Timing, execute  # noqa: E402
from flows.respond._targets import Target  # noqa: E402
from flows.respond._vendors import vendor_settings  # noqa: E402
from flows.store import Store  # noqa: E402
from flows.tenants import Tenant  # noqa: E402
from tests.respond import _fake_vendor  # noqa: E402


def tenant(vendor_url: str) -> Tenant:
    return Tenant.model_validate(
        {
            "id": "crash",
            "name": "Crash test",
            "adapters": {
                "fakevendor": {
                    "settings": {"base_url": vendor_url, "lookup": 0.03},
                    "secrets": {"fakevendor_token": {"env": "CRASH_FAKEVENDOR_TOKEN"}},
                }
            },
            "policy": {"blast_radius": {"max_hosts_per_incident": None, "max_hosts_per_hour": None}},
        }
    )


async def work(job: dict[str, Any]) -> None:
    store = Store.open(job["db"])
    who = tenant(job["vendor"])
    spec = registry.get("fakevendor.isolate_host")
    ctx = ActionContext(
        tenant=who.id,
        incident_id=job["incident"],
        db=store.engine,
        vendors=vendor_settings(who),
    )
    timing = Timing(lease=job["lease"], heartbeat=job["heartbeat"], attempts=2, backoff=0.05)
    await asyncio.gather(
        *(
            execute(spec, Target(h, {"hostname": h}), ctx, store, tenant=who, timing=timing)
            for h in job["hosts"]
        )
    )


def main() -> None:
    _fake_vendor.register()
    registry.keys()  # load every plugin before forking, once
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the workers
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                asyncio.run(work(job))
            except BaseException:  # noqa: BLE001 - report and leave; the test judges by the ledger
                code = 1
            os._exit(code)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
