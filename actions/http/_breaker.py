"""A circuit breaker per (tenant, vendor): stop calling a vendor that keeps failing, try again later.

closed ──(threshold consecutive 5xx/timeouts)──▶ open ──(cool-down over)──▶ half-open: one trial call
  ▲                                                ▲                              │
  └──────────────── trial succeeds ────────────────┼──────── trial fails ─────────┘
"""

from __future__ import annotations

import threading
from enum import StrEnum
from typing import Protocol

from .._errors import CircuitOpen
from ._clock import Clock


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Breaker(Protocol):
    """What ``VendorHttp`` needs from a circuit breaker: this process's ``CircuitBreaker``, or the store's
    ``SharedCircuitBreaker`` that every worker shares."""

    name: str

    @property
    def state(self) -> BreakerState: ...

    def check(self) -> None: ...

    def before_call(self) -> None: ...

    def record_success(self) -> None: ...

    def record_failure(self) -> None: ...

    def record_neutral(self) -> None: ...


class CircuitBreaker:
    def __init__(self, name: str, threshold: int, cooldown: float, clock: Clock) -> None:
        self.name = name
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._state is BreakerState.OPEN and self._cooled_down():
                return BreakerState.HALF_OPEN
            return self._state

    def _cooled_down(self) -> bool:
        return self._clock.monotonic() >= self._opened_at + self._cooldown

    def _refuse(self, why: str) -> CircuitOpen:
        remaining = max(self._opened_at + self._cooldown - self._clock.monotonic(), 0.0)
        return CircuitOpen(f"{self.name}: circuit open ({why}); no call made", retry_after=remaining)

    def check(self) -> None:
        """Fail fast while open (before queueing for a rate-limit slot); changes nothing."""
        with self._lock:
            if self._state is BreakerState.OPEN and not self._cooled_down():
                raise self._refuse(f"{self._failures} failures in a row")

    def before_call(self) -> None:
        """Admit a call, claiming the single trial slot when half-open; raise CircuitOpen otherwise."""
        with self._lock:
            if self._state is BreakerState.OPEN:
                if not self._cooled_down():
                    raise self._refuse(f"{self._failures} failures in a row")
                self._state = BreakerState.HALF_OPEN
                self._trial_in_flight = False
            if self._state is BreakerState.HALF_OPEN:
                if self._trial_in_flight:
                    raise self._refuse("a trial call is in flight")
                self._trial_in_flight = True

    def record_success(self) -> None:
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_in_flight = False
            if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
                self._state = BreakerState.OPEN
                self._opened_at = self._clock.monotonic()

    def record_neutral(self) -> None:
        """The call told us nothing about the vendor's health (a 429, a cancelled call)."""
        with self._lock:
            self._trial_in_flight = False
