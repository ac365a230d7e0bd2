"""VendorHttp: 429 storms queue behind Retry-After, repeated 5xx open the circuit, errors map onto the tree
and never carry a secret."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import respx

from actions import (
    CircuitOpen,
    PermanentError,
    RateLimited,
    RetryPolicy,
    TransientError,
    VendorRejected,
    retry_async,
)
from actions._vendor import BearerSession
from actions.http import BreakerState, HttpPool, VendorHttp, VendorPolicy
from tests.actions._support import FakeClock, assert_no_secret

BASE = "https://vendor.test"
SECRET = "CANARY-cs-client-secret-9e2f"
POLICY = VendorPolicy(rate_per_second=10.0, burst=10, breaker_threshold=5, breaker_cooldown=60.0, jitter=1.0)


def _http(pool: HttpPool, tenant: str = "t1") -> VendorHttp:
    return VendorHttp(
        tenant=tenant,
        vendor="acme",
        base_url=BASE,
        policy=POLICY,
        pool=pool,
        secrets=[SECRET],
        headers={"Authorization": f"Bearer {SECRET}"},
    )


async def _get(pool: HttpPool, path: str = "/thing", tenant: str = "t1") -> httpx.Response:
    async with _http(pool, tenant) as http:
        return await http.request("GET", path)


def _clocked(clock: FakeClock, seen: list[float], answers: list[httpx.Response]):  # type: ignore[no-untyped-def]
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(clock.monotonic())
        return answers.pop(0) if answers else httpx.Response(200, json={"ok": True})

    return answer


@respx.mock(base_url=BASE)
def test_a_429_holds_the_next_call_for_retry_after_plus_jitter(
    respx_mock: respx.MockRouter, pool: HttpPool, clock: FakeClock
) -> None:
    seen: list[float] = []
    route = respx_mock.get("/thing", name="thing").mock(
        side_effect=_clocked(clock, seen, [httpx.Response(429, headers={"Retry-After": "2"})])
    )

    with pytest.raises(RateLimited) as caught:
        asyncio.run(_get(pool))
    assert caught.value.retry_after == pytest.approx(2.5)  # 2 s + jitter (0.5 of 1 s)

    asyncio.run(_get(pool))

    assert route.call_count == 2
    assert seen[1] - seen[0] >= 2.0
    assert sum(clock.sleeps) >= 2.0


@respx.mock(base_url=BASE)
def test_a_429_storm_queues_every_caller_behind_retry_after_and_the_retry_succeeds(
    respx_mock: respx.MockRouter, pool: HttpPool, clock: FakeClock
) -> None:
    """200 concurrent calls; the vendor answers the first ten with 429 Retry-After: 2. With the one retry
    layer (``retry_async``, TransientError retried) every call ends up done, none before Retry-After."""
    seen: list[float] = []
    storm = [httpx.Response(429, headers={"Retry-After": "2"}) for _ in range(10)]
    route = respx_mock.get("/isolate").mock(side_effect=_clocked(clock, seen, storm))

    async def with_engine_retry(http: VendorHttp) -> int:
        return (await retry_async(RetryPolicy(attempts=3), http.request, "GET", "/isolate")).status_code

    async def storm_run() -> list[int]:
        async with _http(pool) as http:  # one client: building 200 TLS contexts is slow, not the point
            return await asyncio.gather(*(with_engine_retry(http) for _ in range(200)))

    statuses = asyncio.run(storm_run())

    assert statuses == [200] * 200
    first_429 = seen[0]
    successes = seen[10:]
    assert len(successes) == 200 and min(successes) >= first_429 + 2.0
    assert route.call_count == 210
    # They resumed at the steady rate (10/s), not as a thundering herd.
    assert max(successes) - min(successes) >= (200 - 1) / 10.0 - 1e-6


@respx.mock(base_url=BASE)
def test_repeated_5xx_open_the_circuit_and_later_calls_fail_fast(
    respx_mock: respx.MockRouter, pool: HttpPool, clock: FakeClock
) -> None:
    route = respx_mock.get("/thing").respond(502, json={"message": "bad gateway"})

    for _ in range(5):
        with pytest.raises(TransientError, match="answered 502"):
            asyncio.run(_get(pool))
    with pytest.raises(CircuitOpen) as caught:
        asyncio.run(_get(pool))

    assert route.call_count == 5  # the sixth never reached the vendor
    assert isinstance(caught.value, TransientError)
    assert caught.value.retry_after == pytest.approx(60.0)
    assert pool.breaker("t1", "acme", POLICY).state is BreakerState.OPEN
    # Another tenant's circuit is its own.
    route.respond(200, json={})
    assert asyncio.run(_get(pool, tenant="t2")).status_code == 200


@respx.mock(base_url=BASE)
def test_after_the_cooldown_a_trial_call_closes_the_circuit(
    respx_mock: respx.MockRouter, pool: HttpPool, clock: FakeClock
) -> None:
    route = respx_mock.get("/thing").respond(503)
    for _ in range(5):
        with pytest.raises(TransientError):
            asyncio.run(_get(pool))
    route.respond(200, json={})
    clock.advance(60.0)

    assert asyncio.run(_get(pool)).status_code == 200
    assert pool.breaker("t1", "acme", POLICY).state is BreakerState.CLOSED


@respx.mock(base_url=BASE)
def test_timeouts_are_transient_and_count_towards_the_circuit(
    respx_mock: respx.MockRouter, pool: HttpPool
) -> None:
    respx_mock.get("/thing").mock(side_effect=httpx.ReadTimeout("slow"))

    for _ in range(5):
        with pytest.raises(TransientError, match="timed out"):
            asyncio.run(_get(pool))

    with pytest.raises(CircuitOpen):
        asyncio.run(_get(pool))


@respx.mock(base_url=BASE)
def test_a_4xx_is_permanent_with_the_vendors_text_and_no_secret(
    respx_mock: respx.MockRouter, pool: HttpPool, debug_logs: pytest.LogCaptureFixture
) -> None:
    respx_mock.get("/thing").respond(
        400, json={"errors": [{"code": 400, "message": f"bad filter; your token {SECRET} is fine"}]}
    )

    with pytest.raises(VendorRejected) as caught:
        asyncio.run(_get(pool))

    assert caught.value.status_code == 400
    assert "bad filter; your token *** is fine" in str(caught.value)
    assert_no_secret(str(caught.value), repr(caught.value), debug_logs.text)
    assert pool.breaker("t1", "acme", POLICY).state is BreakerState.CLOSED


@respx.mock(base_url=BASE, assert_all_called=False)
def test_a_redirect_is_not_followed(respx_mock: respx.MockRouter, pool: HttpPool) -> None:
    respx_mock.get("/thing").respond(302, headers={"Location": "https://elsewhere.test/steal"})
    elsewhere = respx_mock.get("https://elsewhere.test/steal")

    with pytest.raises(PermanentError, match="redirect"):
        asyncio.run(_get(pool))

    assert not elsewhere.called


@respx.mock(base_url=BASE)
def test_a_refused_token_is_dropped_and_fetched_again(respx_mock: respx.MockRouter, pool: HttpPool) -> None:
    tokens = iter(["CANARY-issued-token-falcon", "fresh-token"])
    fetches: list[str] = []

    async def fetch(http: VendorHttp) -> tuple[str, float]:
        fetches.append("x")
        return next(tokens), 1800.0

    api = respx_mock.get("/thing")
    api.side_effect = [
        httpx.Response(401, json={"errors": [{"message": "token expired"}]}),
        httpx.Response(200),
    ]

    async def call() -> httpx.Response:
        async with _http(pool) as http:
            return await BearerSession(http, ["k"], fetch).request("GET", "/thing")

    with pytest.raises(TransientError, match="token was refused") as caught:
        asyncio.run(call())
    assert asyncio.run(call()).status_code == 200

    assert len(fetches) == 2
    assert api.calls[1].request.headers["authorization"] == "Bearer fresh-token"
    assert_no_secret(str(caught.value))


def test_tokens_are_cached_until_shortly_before_expiry(clock: FakeClock) -> None:
    pool = HttpPool(clock)
    fetched: list[int] = []

    async def fetch() -> tuple[str, float]:
        fetched.append(1)
        return f"token-{len(fetched)}", 1799.0

    async def get() -> str:
        return await pool.tokens.get("k", fetch)

    assert asyncio.run(get()) == "token-1"
    clock.advance(1700)
    assert asyncio.run(get()) == "token-1"
    clock.advance(60)  # within the refresh margin
    assert asyncio.run(get()) == "token-2"


def test_concurrent_callers_share_one_token_fetch(pool: HttpPool) -> None:
    fetched: list[int] = []

    async def fetch() -> tuple[str, float]:
        fetched.append(1)
        await asyncio.sleep(0)
        return "token", 1799.0

    async def many() -> list[str]:
        return await asyncio.gather(*(pool.tokens.get("k", fetch) for _ in range(20)))

    assert asyncio.run(many()) == ["token"] * 20
    assert fetched == [1]


@respx.mock(base_url=BASE)
def test_debug_logs_never_hold_credentials(
    respx_mock: respx.MockRouter, pool: HttpPool, debug_logs: pytest.LogCaptureFixture
) -> None:
    respx_mock.get("/thing").respond(200, json={})

    asyncio.run(_get(pool))

    assert any(r.levelno == logging.DEBUG for r in debug_logs.records)
    assert_no_secret(debug_logs.text)


async def _get_accepting(pool: HttpPool, accept: frozenset[int]) -> httpx.Response:
    async with _http(pool) as http:
        return await http.request("GET", "/thing", accept=accept)


@respx.mock(base_url=BASE)
def test_accepted_statuses_are_handed_back_and_still_count_for_the_breaker(
    respx_mock: respx.MockRouter, pool: HttpPool
) -> None:
    route = respx_mock.get("/thing").respond(404, json={"status": 404, "status_text": "no such target"})
    accept = frozenset({404, 500})

    answer = asyncio.run(_get_accepting(pool, accept))

    assert answer.status_code == 404 and answer.json()["status_text"] == "no such target"
    # The same status is still refused for a caller that did not ask to read it.
    with pytest.raises(VendorRejected):
        asyncio.run(_get(pool))
    # An accepted 5xx is handed back, yet five of them open the circuit as any 5xx would.
    route.respond(500, json={"status": 500})
    for _ in range(5):
        assert asyncio.run(_get_accepting(pool, accept)).status_code == 500
    assert pool.breaker("t1", "acme", POLICY).state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        asyncio.run(_get_accepting(pool, accept))


@respx.mock(base_url=BASE)
def test_a_429_and_a_redirect_are_never_handed_back(respx_mock: respx.MockRouter, pool: HttpPool) -> None:
    route = respx_mock.get("/thing").respond(429, headers={"Retry-After": "1"})

    with pytest.raises(RateLimited):
        asyncio.run(_get_accepting(pool, frozenset({429, 302})))
    route.respond(302, headers={"Location": "https://elsewhere.test/"})
    with pytest.raises(PermanentError, match="redirect"):
        asyncio.run(_get_accepting(pool, frozenset({429, 302})))
