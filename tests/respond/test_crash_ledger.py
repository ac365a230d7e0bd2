"""SIGKILL before, during and after the vendor call, with two workers racing on the same keys: the fake
vendor sees at most one call per idempotency key, and after reconciliation every key is terminal.

Workers are forked from a warm zygote (``_crash_worker.py``) and act on a shared SQLite store through the
real ledger, against a loopback vendor whose contain call takes 150 ms. Kills are timed by what the vendor
has seen: before any call, while a call is held, or after answers went out.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from actions import ActionContext, registry
from flows.models import Alert
from flows.respond._execute import Timing, execute
from flows.respond._reconcile import reconcile
from flows.respond._targets import Target
from flows.respond._vendors import vendor_settings
from flows.settings import Settings
from flows.store import Store
from flows.tenants import Tenant, TenantDirectory
from tests.respond import _fake_vendor
from tests.respond._crash_worker import tenant

WORKER = Path(__file__).with_name("_crash_worker.py")
TOKEN = "CANARY-crash-token-4e1b"
LEASE, HEARTBEAT = 1.0, 0.2
HOSTS_PER_BATCH = 3
BATCHES = 24  # 8 per kill moment; one or both racing workers killed in each


@pytest.fixture
def vendor() -> Iterator[_fake_vendor.FakeVendor]:
    _fake_vendor.register()
    with _fake_vendor.running(_fake_vendor.FakeVendor(token=TOKEN, hold=0.15)) as running:
        yield running
    for key in ("fakevendor.isolate_host", "fakevendor.release_host"):
        registry.actions.pop(key, None)


@pytest.fixture
def zygote(monkeypatch: pytest.MonkeyPatch) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "CRASH_FAKEVENDOR_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    monkeypatch.setenv("CRASH_FAKEVENDOR_TOKEN", TOKEN)  # the reconciling test process resolves it too
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=30)


def _incident(store: Store, batch: int) -> tuple[str, list[str]]:
    hosts = [f"b{batch:02d}-h{i}" for i in range(HOSTS_PER_BATCH)]
    document = {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "crash", "product": {"name": "crash"}, "uid": f"crash-{batch}"},
        "finding_info": {"uid": f"crash-{batch}", "title": "crash test"},
        "device": {"hostname": hosts[0]},
    }
    return store.record_alert(Alert.model_validate(document), document).incident_id, hosts


class Zygote:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lock = threading.Lock()

    def spawn(self, job: dict[str, Any]) -> int:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self._lock:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            return int(json.loads(self.process.stdout.readline())["pid"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def _batch(
    zygote: Zygote, vendor: _fake_vendor.FakeVendor, job: dict[str, Any], moment: str, seed: int
) -> tuple[str, int]:
    """Two workers on the same keys; kill one (or both) at ``moment``; returns what the vendor had seen."""
    rng = random.Random(seed)
    prefix = job["hosts"][0].split("-")[0]
    pids = [zygote.spawn(job), zygote.spawn(job)]
    if moment == "before":
        time.sleep(rng.uniform(0, 0.01))
    elif moment == "during":
        _wait_until(lambda: vendor.in_flight_for(prefix) > 0, 5)
        time.sleep(rng.uniform(0, 0.1))  # the vendor holds each call 150 ms
    else:
        # "After": an answer came and no call is in flight (another host's call still running is "during";
        # waiting for the first answer alone left this moment to chance, about one run in five).
        _wait_until(lambda: vendor.answered_for(prefix) > 0 and vendor.in_flight_for(prefix) == 0, 5)
        time.sleep(rng.uniform(0, 0.03))
    if vendor.calls_for(prefix) == 0:
        seen = "before"
    elif vendor.in_flight_for(prefix) > 0:
        seen = "during"
    else:
        seen = "after"
    victims = pids if rng.random() < 0.25 else [rng.choice(pids)]
    for pid in victims:
        with _suppress_gone():
            os.kill(pid, signal.SIGKILL)
    # Survivors end on their own: a dead rival's lease runs out and they reconcile its keys.
    assert _wait_until(lambda: not any(_alive(p) for p in pids), 15), "a worker hung"
    return seen, len(victims)


async def _retry(store: Store, who: Tenant, batches: list[tuple[str, list[str]]], timing: Timing) -> None:
    spec = registry.get("fakevendor.isolate_host")
    jobs = []
    for incident, hosts in batches:
        ctx = ActionContext(
            tenant=who.id, incident_id=incident, db=store.engine, vendors=vendor_settings(who)
        )
        jobs += [
            execute(spec, Target(h, {"hostname": h}), ctx, store, tenant=who, timing=timing) for h in hosts
        ]
    await asyncio.gather(*jobs)


class _suppress_gone:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *_: Any) -> bool:
        return kind is ProcessLookupError


def test_sigkill_and_racing_workers_never_send_twice(
    settings: Settings, store: Store, vendor: _fake_vendor.FakeVendor, zygote: subprocess.Popen[str]
) -> None:
    spawner = Zygote(zygote)
    batches = [_incident(store, b) for b in range(BATCHES)]
    moments = ["before", "during", "after"] * (BATCHES // 3)
    jobs = [
        {
            "db": settings.database_url,
            "vendor": vendor.url,
            "incident": incident,
            "hosts": hosts,
            "lease": LEASE,
            "heartbeat": HEARTBEAT,
        }
        for incident, hosts in batches
    ]
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(lambda i: _batch(spawner, vendor, jobs[i], moments[i], seed=i), range(BATCHES))
        )

    seen = Counter(moment for moment, _ in results)
    kills = sum(n for _, n in results)
    assert kills >= BATCHES and set(seen) == {"before", "during", "after"}, seen

    # The dead's runs are retried (as Prefect or the dispatcher would) once their leases ran out: keys they
    # left PENDING are reconciled by reading the vendor, never by re-sending blindly.
    time.sleep(LEASE)
    timing = Timing(lease=LEASE, heartbeat=HEARTBEAT, attempts=2, backoff=0.05)
    asyncio.run(_retry(store, tenant(vendor.url), batches, timing))
    tenants = TenantDirectory([tenant(vendor.url)])
    for _ in range(10):  # a key the vendor was still applying (IN_PROGRESS) is re-checked
        if not store.ledger.stale():
            break
        time.sleep(0.2)
        asyncio.run(reconcile(store, tenants, timing=timing))

    every_host = [h for _, hosts in batches for h in hosts]
    assert max(vendor.calls[h] for h in every_host) <= 1, {
        h: vendor.calls[h] for h in every_host if vendor.calls[h] > 1
    }
    rows = [row for incident, _ in batches for row in store.ledger.rows(incident)]
    assert len(rows) == len(every_host)  # one ledger row per key, whoever raced
    assert {row.status for row in rows} == {"succeeded"}, Counter(row.status for row in rows)
    assert all(vendor.status[h] == "contained" for h in every_host)
    assert all(vendor.calls[h] == 1 for h in every_host)  # and each host was contained exactly once
