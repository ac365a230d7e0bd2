"""A rate limiter that queues: a token bucket per (tenant, vendor), and the vendor's Retry-After honoured.

Each call reserves the next free slot (GCRA, the token bucket as "theoretical arrival time") and sleeps
until it, so callers queue in call order instead of failing. A 429 moves every later slot past the
vendor's Retry-After plus jitter and empties the bucket, so the queue restarts at the steady rate rather
than as a burst. No asyncio primitive is held across awaits, so one limiter serves every event loop and
thread of the process.
"""

from __future__ import annotations

import threading

from ._clock import Clock


class RateLimiter:
    """``rate`` calls per second on average, up to ``burst`` at once after a quiet spell."""

    def __init__(self, rate: float, burst: int, clock: Clock, *, jitter: float = 1.0) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._jitter = jitter
        self._tat = float("-inf")  # theoretical arrival time of the next call at the steady rate
        self._blocked_until = float("-inf")
        self._epoch = 0  # bumped by every back-off, so sleepers know their slot went stale
        self._lock = threading.Lock()

    @property
    def blocked_until(self) -> float:
        return self._blocked_until

    def _reserve(self) -> tuple[float, float, int]:
        with self._lock:
            now = self._clock.monotonic()
            start = max(now, self._tat - self._tolerance, self._blocked_until)
            self._tat = max(self._tat, start) + self._interval
            return now, start, self._epoch

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
