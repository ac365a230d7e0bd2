"""Rate limits and circuit breakers kept in the store: two pools on one store (as two workers have) share
one bucket and one circuit per (tenant, vendor), on a fake clock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from actions import CircuitOpen
from actions.edr import defender
from actions.http import (
    BreakerState,
    HttpPool,
    SharedCircuitBreaker,
    SharedRateLimiter,
    VendorPolicy,
    bound_store,
    default_pool,
    shared_pool,
    using_store,
)
from flows.store import engine_for
from tests.actions._support import FakeClock

T0 = 1_763_776_800.0  # the fake clock's wall time at the start: slots are given as seconds after it
POLICY = VendorPolicy(rate_per_second=2.0, burst=3, breaker_threshold=3, breaker_cooldown=30.0, jitter=1.0)


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    return engine_for(f"sqlite:///{tmp_path / 'garrison.db'}")


def _workers(store: Engine, clock: FakeClock) -> tuple[HttpPool, HttpPool]:
    return HttpPool(clock, engine=store), HttpPool(clock, engine=store)


async def _slots(
    pool: HttpPool, count: int, policy: VendorPolicy = POLICY, vendor: str = "acme"
) -> list[float]:
    limiter = pool.limiter("t1", vendor, policy)
    starts: list[float] = []

    async def one() -> None:
        asked = pool.clock.wall()
        starts.append(asked + await limiter.acquire() - T0)

    await asyncio.gather(*(one() for _ in range(count)))
    return starts


def test_a_pool_on_the_store_makes_shared_limiters_and_breakers(store: Engine, clock: FakeClock) -> None:
    pool = HttpPool(clock, engine=store)

    assert isinstance(pool.limiter("t1", "acme", POLICY), SharedRateLimiter)
    assert isinstance(pool.breaker("t1", "acme", POLICY), SharedCircuitBreaker)
    assert shared_pool(store) is shared_pool(store)


def test_two_workers_take_their_slots_from_one_bucket(store: Engine, clock: FakeClock) -> None:
    one, two = _workers(store, clock)

    async def both() -> list[float]:
        a, b = await asyncio.gather(_slots(one, 5), _slots(two, 5))
        return sorted(a + b)

    starts = asyncio.run(both())

    # One burst of 3 for both workers together, then one call every 0.5 s: not a burst and a rate each.
    assert starts[:3] == pytest.approx([0.0] * 3)
    assert [b - a for a, b in zip(starts[2:], starts[3:], strict=False)] == pytest.approx([0.5] * 7)


def test_two_workers_together_keep_to_defenders_1500_calls_an_hour(store: Engine, clock: FakeClock) -> None:
    # Microsoft Learn, "Isolate machine API": "100 calls per minute and 1500 calls per hour" (per tenant).
    one, two = _workers(store, clock)

    async def both() -> list[float]:
        a = await _slots(one, 760, defender.POLICY, "defender")
        b = await _slots(two, 741, defender.POLICY, "defender")
        return sorted(a + b)

    starts = asyncio.run(both())

    assert len(starts) == 1501
    assert starts[1500] >= starts[0] + 3600  # the 1501st call, whoever makes it, waits for the hour
    assert max(sum(1 for s in starts if t <= s < t + 60) for t in starts[::25]) <= 100


def test_a_retry_after_one_worker_hears_holds_the_other(store: Engine, clock: FakeClock) -> None:
    one, two = _workers(store, clock)
    clock.jitter = 0.25

    waited = one.limiter("t1", "acme", POLICY).back_off(10.0)
    starts = asyncio.run(_slots(two, 2))

    assert waited == pytest.approx(10.25)
    # No burst after the pause: one interval apart from the end of the other worker's hold.
    assert sorted(starts) == pytest.approx([10.25, 10.75])


def test_a_sleeper_whose_slot_went_stale_queues_again_behind_another_workers_hold(
    store: Engine, clock: FakeClock
) -> None:
    one, two = _workers(store, clock)
    policy = VendorPolicy(rate_per_second=1.0, burst=1, jitter=0.0)

    async def scenario() -> float:
        await one.limiter("t1", "acme", policy).acquire()  # now; the next slot is a second later
        late = asyncio.ensure_future(one.limiter("t1", "acme", policy).acquire())
        await asyncio.sleep(0)  # it reserved start+1 and sleeps
        two.limiter("t1", "acme", policy).back_off(5.0)  # the other worker hears a 429
        await late
        return clock.wall() - T0

    assert asyncio.run(scenario()) >= 5.0


def test_waiting_for_a_slot_holds_no_transaction(store: Engine, clock: FakeClock, tmp_path: Path) -> None:
    pool = HttpPool(clock, engine=store)
    policy = VendorPolicy(rate_per_second=0.1, burst=1)

    async def scenario() -> None:
        limiter = pool.limiter("t1", "acme", policy)
        await limiter.acquire()
        waiting = asyncio.ensure_future(limiter.acquire())  # its slot is 10 s away: it sleeps
        await asyncio.sleep(0)
        assert not waiting.done()
        # Another process writes meanwhile, with no patience: it would fail if the sleeper held the lock.
        other = sqlite3.connect(tmp_path / "garrison.db", timeout=0.2, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE vendor_rate_limits SET epoch = epoch WHERE tenant = 't1'")
        other.execute("COMMIT")
        other.close()
        await waiting

    asyncio.run(scenario())


def test_tenants_and_vendors_have_buckets_of_their_own(store: Engine, clock: FakeClock) -> None:
    pool = HttpPool(clock, engine=store)
    asyncio.run(_slots(pool, 10))

    other_tenant = asyncio.run(_slots(HttpPool(clock, engine=store), 1, vendor="globex"))

    assert other_tenant == [pytest.approx(clock.wall() - T0)]


# -- circuit breakers -------------------------------------------------------------------------------------


def test_a_circuit_one_worker_opens_is_open_for_the_other(store: Engine, clock: FakeClock) -> None:
    one, two = _workers(store, clock)
    first, second = one.breaker("t1", "acme", POLICY), two.breaker("t1", "acme", POLICY)
    first.before_call()
    first.record_failure()
    second.before_call()
    second.record_failure()  # failures in a row are counted over both workers
    first.before_call()
    first.record_failure()

    assert second.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen, match="3 failures in a row") as caught:
        second.check()
    assert caught.value.retry_after == pytest.approx(30.0)
    with pytest.raises(CircuitOpen):
        second.before_call()


def test_one_trial_call_among_all_workers_then_closed_for_both(store: Engine, clock: FakeClock) -> None:
    one, two = _workers(store, clock)
    first, second = one.breaker("t1", "acme", POLICY), two.breaker("t1", "acme", POLICY)
    for _ in range(3):
        first.record_failure()
    clock.advance(30.0)

    assert second.state is BreakerState.HALF_OPEN
    first.before_call()  # the trial
    with pytest.raises(CircuitOpen, match="trial call is in flight"):
        second.before_call()
    second.record_neutral()  # not its trial: the claim stays
    with pytest.raises(CircuitOpen, match="trial call is in flight"):
        second.before_call()
    first.record_success()
    assert second.state is BreakerState.CLOSED
    second.before_call()


def test_a_failed_trial_reopens_the_circuit_for_everyone(store: Engine, clock: FakeClock) -> None:
    one, two = _workers(store, clock)
    first, second = one.breaker("t1", "acme", POLICY), two.breaker("t1", "acme", POLICY)
    for _ in range(3):
        first.record_failure()
    clock.advance(30.0)
    second.before_call()
    second.record_failure()

    assert first.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        first.check()


def test_a_trial_whose_worker_died_lapses(store: Engine, clock: FakeClock) -> None:
    one, two = _workers(store, clock)
    first, second = one.breaker("t1", "acme", POLICY), two.breaker("t1", "acme", POLICY)
    for _ in range(3):
        first.record_failure()
    clock.advance(30.0)
    first.before_call()  # ... and its worker is killed: no outcome is ever recorded

    clock.advance(POLICY.timeout + POLICY.connect_timeout + 5.0)
    second.before_call()  # the lease ran out: this worker makes the trial
    second.record_success()

    assert first.state is BreakerState.CLOSED


def test_a_neutral_trial_gives_the_trial_back(store: Engine, clock: FakeClock) -> None:
    one, two = _workers(store, clock)
    first, second = one.breaker("t1", "acme", POLICY), two.breaker("t1", "acme", POLICY)
    for _ in range(3):
        first.record_failure()
    clock.advance(30.0)
    first.before_call()
    first.record_neutral()  # a 429: nothing learnt about the vendor's health

    second.before_call()
    assert second.state is BreakerState.HALF_OPEN


# -- binding the store ------------------------------------------------------------------------------------


def test_using_store_binds_the_default_pool_only_inside_the_block(store: Engine) -> None:
    assert bound_store() is None
    outside = default_pool()

    async def inside_a_task() -> HttpPool:
        return default_pool()

    with using_store(store):
        assert default_pool() is shared_pool(store)
        assert asyncio.run(inside_a_task()) is shared_pool(store)  # asyncio.run carries the binding

    assert default_pool() is outside
    assert outside.engine is None
