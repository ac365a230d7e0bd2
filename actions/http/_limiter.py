"""A rate limiter that queues: a token bucket per (tenant, vendor), fixed call budgets per window, and the
vendor's Retry-After honoured.

Each call reserves the next free slot (GCRA, the token bucket as "theoretical arrival time") and sleeps
until it, so callers queue in call order instead of failing. A vendor that also counts calls per window
("1,500 calls per hour") gets ``windows``: a slot is never earlier than one window after the call that
many calls back, so no window of that length ever holds more calls than the budget (a token bucket alone
lets a full bucket plus an hour of refill through in one hour). A 429 moves every later slot past the
vendor's Retry-After plus jitter and empties the bucket, so the queue restarts at the steady rate rather
than as a burst. No asyncio primitive is held across awaits, so one limiter serves every event loop and
thread of the process.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from typing import Protocol

from ._clock import Clock


def checked_limits(rate: float, burst: int, windows: Iterable[tuple[int, float]]) -> list[tuple[int, float]]:
    """A limiter's counted windows, sorted, after checking the limits make sense (ValueError if not)."""
    if rate <= 0 or burst < 1:
        raise ValueError("rate must be > 0 and burst >= 1")
    found = sorted((int(calls), float(seconds)) for calls, seconds in windows)
    if any(calls < 1 or seconds <= 0 for calls, seconds in found):
        raise ValueError("a window allows at least 1 call in more than 0 seconds")
    return found


class Limiter(Protocol):
    """What ``VendorHttp`` needs from a rate limiter: this process's ``RateLimiter``, or the store's
    ``SharedRateLimiter`` that every worker shares."""

    async def acquire(self) -> float:
        """Wait for this call's slot; returns how long it waited."""
        ...

    def back_off(self, seconds: float) -> float:
        """Hold every later call for ``seconds`` plus jitter; returns the wait from now."""
        ...


class RateLimiter:
    """``rate`` calls per second on average, up to ``burst`` at once after a quiet spell, and at most
    ``calls`` in any ``seconds`` for each ``(calls, seconds)`` of ``windows``.

    >>> from actions.http import SystemClock
    >>> mde = RateLimiter(1.5, 10, SystemClock(), windows=[(100, 60.0), (1500, 3600.0)])
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Clock,
        *,
        jitter: float = 1.0,
        windows: Iterable[tuple[int, float]] = (),
    ) -> None:
        self._windows = checked_limits(rate, burst, windows)
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._jitter = jitter
        self._tat = float("-inf")  # theoretical arrival time of the next call at the steady rate
        self._blocked_until = float("-inf")
        self._epoch = 0  # bumped by every back-off, so sleepers know their slot went stale
        # Start times of the last calls (as many as the largest window allows), in order.
        self._starts: list[float] = []
        self._kept = max((calls for calls, _ in self._windows), default=0)
        self._lock = threading.Lock()

    @property
    def blocked_until(self) -> float:
        return self._blocked_until

    def _reserve(self) -> tuple[float, float, int]:
        with self._lock:
            now = self._clock.monotonic()
            start = max(now, self._tat - self._tolerance, self._blocked_until)
            for calls, seconds in self._windows:
                if len(self._starts) >= calls:
                    start = max(start, self._starts[-calls] + seconds)
            self._tat = max(self._tat, start) + self._interval
            if self._windows:
                bisect.insort(self._starts, start)
                del self._starts[: -self._kept]
            return now, start, self._epoch

    def _release(self, start: float) -> None:
        # A slot given up (the vendor said "slow down" first) is no call: it must not use up a window.
        with self._lock:
            index = bisect.bisect_left(self._starts, start)
            if index < len(self._starts) and self._starts[index] == start:
                del self._starts[index]

    async def acquire(self) -> float:
        """Wait for this call's slot; returns how long it waited."""
        waited = 0.0
        while True:
            now, start, epoch = self._reserve()
            if start > now:
                await self._clock.sleep(start - now)
                waited += start - now
            with self._lock:
                if epoch == self._epoch or self._clock.monotonic() >= self._blocked_until:
                    return waited
            # The vendor said "slow down" while we slept: queue again behind its Retry-After.
            self._release(start)

    def back_off(self, seconds: float) -> float:
        """Hold every later call for ``seconds`` plus jitter; returns the wait from now."""
        with self._lock:
            now = self._clock.monotonic()
            until = now + max(seconds, 0.0) + self._jitter * self._clock.random()
            if until > self._blocked_until:
                self._blocked_until = until
                self._epoch += 1
            # Empty the bucket: after the pause, calls resume one interval apart, not as a burst.
            self._tat = max(self._tat, self._blocked_until + self._tolerance)
            return self._blocked_until - now
