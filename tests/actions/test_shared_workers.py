"""Two worker processes on one store (SQLite file; PostgreSQL when its server binaries are installed),
each calling a respx-mocked vendor: together they keep to the vendor's limit, a circuit one opens is open
for the other, and an intel answer one looked up is served to the other from the store, with no request.
respx mocks per process: each child counts its own requests and the test adds them up."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from actions import CircuitOpen, TransientError
from actions.http import VendorHttp, VendorPolicy, shared_pool, using_store
from actions.intel import lookup
from flows.store import engine_for

BASE = "https://api.acme.test"
# 5 calls in any second for both workers together (a window like Defender's "100 calls per minute").
POLICY = VendorPolicy(rate_per_second=10.0, burst=2, windows=((5, 1.0),), breaker_threshold=3, jitter=0.0)
CALLS_EACH = 10


def _calls(url: str, ready: Any, go: Any, out: Connection) -> None:
    engine = engine_for(url)
    pool = shared_pool(engine)
    pool.limiter("t1", "acme", POLICY)  # tables and the row exist before the race starts
    sent: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(time.time())
        return httpx.Response(200, json={"ok": True})

    async def run() -> None:
        async with VendorHttp(tenant="t1", vendor="acme", base_url=BASE, policy=POLICY, pool=pool) as http:
            await asyncio.gather(*(http.request("GET", "/thing") for _ in range(CALLS_EACH)))

    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get("/thing").mock(side_effect=answer)
        ready.wait()
        go.wait()
        asyncio.run(run())
    out.send(sent)


def _breaker(url: str, role: str, out: Connection) -> None:
    pool = shared_pool(engine_for(url))
    outcomes: list[str] = []

    async def run() -> None:
        async with VendorHttp(tenant="t1", vendor="acme", base_url=BASE, policy=POLICY, pool=pool) as http:
            for _ in range(4):
                try:
                    await http.request("GET", "/thing")
                    outcomes.append("ok")
                except CircuitOpen:
                    outcomes.append("open")
                except TransientError:
                    outcomes.append("failed")

    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.get("/thing").mock(return_value=httpx.Response(503 if role == "down" else 200))
        asyncio.run(run())
        out.send((outcomes, route.call_count))


def _intel(url: str, out: Connection) -> None:
    engine = engine_for(url)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(url__startswith="https://api.greynoise.io/").mock(
            return_value=httpx.Response(
                200,
                json={
                    "ip": "8.8.4.4",
                    "noise": True,
                    "classification": "malicious",
                    "name": "Example scanner",
                },
            )
        )
        with using_store(engine):  # as the respond flow's enrich step binds its store
            result = asyncio.run(
                lookup(
                    [("ipv4", "8.8.4.4")],
                    tenant="t1",
                    providers=["greynoise"],
                    secrets={"greynoise_api_key": SecretStr("k" * 16)},
                )
            )
        verdicts = [r.verdict for r in result[("ipv4", "8.8.4.4")]]
        out.send((route.call_count, dict(result.cache_hits), verdicts, [str(f) for f in result.failures]))


def _spawn(target: Any, *args: Any) -> tuple[multiprocessing.process.BaseProcess, Connection]:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter, as a worker on another machine
    mine, theirs = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, theirs))
    process.start()
    return process, mine


def _result(process: multiprocessing.process.BaseProcess, pipe: Connection) -> Any:
    assert pipe.poll(120), "the worker process sent no result"
    value = pipe.recv()
    process.join(30)
    assert process.exitcode == 0
    return value


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'garrison.db'}"
        engine_for(url)  # the store exists before the workers start, as under `garrison up`
        yield url
        return
    from tests._postgres import missing_postgres, throwaway_postgres

    reason = missing_postgres()
    if reason:
        pytest.skip(reason)
    with throwaway_postgres() as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


def test_two_workers_together_keep_to_the_vendors_limit(store_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    ready, go = context.Barrier(3), context.Event()
    workers = [_spawn(_calls, store_url, ready, go) for _ in range(2)]
    ready.wait(120)
    go.set()
    sent = sorted(t for process, pipe in workers for t in _result(process, pipe))

    assert len(sent) == 2 * CALLS_EACH
    # The window allows 5 calls in any second: 20 calls need at least 3 s, whoever makes them (two
    # workers limited each on their own would send 10 in the first second). A call leaves up to a quarter
    # second after its slot on a busy machine, so windows are checked 0.75 s long.
    assert max(sum(1 for s in sent if t <= s < t + 0.75) for t in sent) <= 5
    assert sent[-1] - sent[0] >= 3.0 - 0.25


def test_a_circuit_one_worker_opens_is_open_for_the_other(store_url: str) -> None:
    outcomes, requests = _result(*_spawn(_breaker, store_url, "down"))
    assert outcomes == ["failed", "failed", "failed", "open"] and requests == 3

    outcomes, requests = _result(*_spawn(_breaker, store_url, "up"))
    assert outcomes == ["open"] * 4
    assert requests == 0  # the other worker did not hammer a vendor that is down


def test_an_intel_answer_one_worker_looked_up_serves_the_other(store_url: str) -> None:
    first = _result(*_spawn(_intel, store_url))
    second = _result(*_spawn(_intel, store_url))

    assert first[3] == [] and second[3] == [], (first, second)
    assert first[0] == 1 and first[1] == {}
    assert second[0] == 0 and second[1] == {"greynoise": 1}  # from the store: no second request
    assert second[2] == first[2] == ["malicious"]
