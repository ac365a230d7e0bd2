"""The rate limiter queues callers at the vendor's rate and honours Retry-After, on a fake clock."""

from __future__ import annotations

import asyncio
import email.utils

import pytest

from actions.http import RateLimiter, parse_retry_after
from tests.actions._support import FakeClock


async def _starts(limiter: RateLimiter, clock: FakeClock, count: int) -> list[float]:
    starts: list[float] = []

    async def one() -> None:
        # The slot this caller was given: when it asked plus how long it was held back.
        asked = clock.monotonic()
        starts.append(asked + await limiter.acquire())

    await asyncio.gather(*(one() for _ in range(count)))
    return sorted(starts)


def test_a_burst_passes_then_callers_queue_at_the_rate(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)

    starts = asyncio.run(_starts(limiter, clock, 7))

    t0 = 1000.0
    assert starts[:3] == [t0, t0, t0]
    assert starts[3:] == pytest.approx([t0 + 0.5, t0 + 1.0, t0 + 1.5, t0 + 2.0])


def test_back_off_holds_every_later_call_past_retry_after_plus_jitter(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=10.0, burst=10, clock=clock, jitter=1.0)
    clock.jitter = 0.25

    waited = limiter.back_off(2.0)
    starts = asyncio.run(_starts(limiter, clock, 3))

    assert waited == pytest.approx(2.25)
    # No burst after the pause: one interval apart from the end of the wait.
    assert starts == pytest.approx([1002.25, 1002.35, 1002.45])


def test_a_sleeper_whose_slot_went_stale_queues_again() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, jitter=0.0)

    async def scenario() -> list[float]:
        await limiter.acquire()  # t=1000, the next slot is 1001
        late = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)  # it reserved 1001 and sleeps
        limiter.back_off(5.0)  # a 429 arrives meanwhile, at t=1000: hold until 1005
        await late
        return [clock.monotonic()]

    assert asyncio.run(scenario())[0] >= 1005.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), ("0", 0.0), (" 7 ", 7.0), ("9999", 600.0), (None, 5.0), ("soon", 5.0), ("-3", 5.0)],
)
def test_retry_after_in_seconds(header: str | None, expected: float, clock: FakeClock) -> None:
    assert parse_retry_after(header, clock, default=5.0, maximum=600.0) == expected


def test_retry_after_as_an_http_date(clock: FakeClock) -> None:
    in_30s = email.utils.formatdate(clock.wall() + 30, usegmt=True)
    in_the_past = email.utils.formatdate(clock.wall() - 30, usegmt=True)

    assert parse_retry_after(in_30s, clock, default=5.0, maximum=600.0) == pytest.approx(30, abs=1)
    assert parse_retry_after(in_the_past, clock, default=5.0, maximum=600.0) == 0.0


def test_a_limiter_needs_a_positive_rate(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1, clock=clock)


# -- Call budgets per window (issue #16: Defender's "100 calls per minute and 1500 calls per hour") -------


def test_a_window_budget_holds_callers_until_the_oldest_call_leaves_the_window(clock: FakeClock) -> None:
    # The bucket alone would let all seven through at once.
    limiter = RateLimiter(rate=100.0, burst=100, clock=clock, windows=[(3, 10.0)])

    starts = asyncio.run(_starts(limiter, clock, 7))

    assert starts == pytest.approx([1000.0] * 3 + [1010.0] * 3 + [1020.0])


def test_several_windows_apply_together(clock: FakeClock) -> None:
    limiter = RateLimiter(rate=100.0, burst=100, clock=clock, windows=[(4, 100.0), (2, 1.0)])

    starts = asyncio.run(_starts(limiter, clock, 5))

    assert starts == pytest.approx([1000.0, 1000.0, 1001.0, 1001.0, 1100.0])


def test_a_slot_given_up_after_a_429_does_not_use_up_the_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, jitter=0.0, windows=[(2, 10.0)])

    async def scenario() -> float:
        await limiter.acquire()  # t=1000
        late = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)  # it reserved 1001 and sleeps
        limiter.back_off(5.0)  # the vendor says wait: the 1001 slot is given up, 1005 taken instead
        await late
        third = clock.monotonic() + await limiter.acquire()
        return third

    # Two calls went out (1000, 1005): the third waits for 1000 + 10, not for a phantom 1001 + 10.
    assert asyncio.run(scenario()) == pytest.approx(1010.0)


@pytest.mark.parametrize("window", [(0, 60.0), (10, 0.0), (5, -1.0)])
def test_a_window_needs_calls_and_a_length(clock: FakeClock, window: tuple[int, float]) -> None:
    with pytest.raises(ValueError, match="window"):
        RateLimiter(rate=1.0, burst=1, clock=clock, windows=[window])
