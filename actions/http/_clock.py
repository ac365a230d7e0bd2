"""Time and chance, injectable: tests drive rate limits, Retry-After and cool-downs with a fake clock."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Protocol


class Clock(Protocol):
    """What the HTTP policy needs from the outside world to wait."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (limiter slots, breaker cool-downs, token expiry)."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch (to read a ``Retry-After`` given as an HTTP date)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def random(self) -> float:
        """A number in [0, 1) for jitter."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def random(self) -> float:
        return random.random()
