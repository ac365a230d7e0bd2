"""Shared vendor-load state of the process: per (tenant, vendor) limiter and breaker, and cached tokens."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import SecretStr

from ._breaker import CircuitBreaker
from ._clock import Clock, SystemClock
from ._limiter import RateLimiter

T = TypeVar("T")


@dataclass(frozen=True)
class VendorPolicy:
    """How hard Garrison may lean on one vendor for one tenant. Each adapter sets its defaults."""

    rate_per_second: float = 5.0
    burst: int = 5
    timeout: float = 15.0  # read/write/pool timeout of one request, seconds
    connect_timeout: float = 5.0
    breaker_threshold: int = 5  # consecutive 5xx/timeouts that open the circuit
    breaker_cooldown: float = 60.0  # seconds open before one trial call
    retry_after_default: float = 5.0  # a 429 without a usable Retry-After
    retry_after_max: float = 600.0  # never let a vendor park us longer than this
    jitter: float = 1.0  # up to this many seconds added to every Retry-After
    # Call budgets the vendor counts per window, (calls, seconds): ((1500, 3600.0),) is 1,500 an hour.
    windows: tuple[tuple[int, float], ...] = ()


class TokenCache:
    """Access tokens by (tenant, vendor, credentials hash), kept until shortly before they expire.

    Keys never hold a credential in clear (``token_key`` hashes it); values are ``SecretStr``. One fetch
    at a time per key and event loop, so a burst of actions shares one token request.
    """

    MARGIN = 60.0  # refresh this long before expiry

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[SecretStr, float]] = {}
        self._guard = threading.Lock()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    def _cached(self, key: str) -> str | None:
        with self._guard:
            found = self._tokens.get(key)
        if found is not None and self._clock.monotonic() < found[1] - self.MARGIN:
            return found[0].get_secret_value()
        return None

    def _lock_for(self, key: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            return self._locks.setdefault(loop, {}).setdefault(key, asyncio.Lock())

    async def get(self, key: str, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> str:
        """The cached token, or ``fetch()`` → (token, lifetime in seconds) when there is none."""
        token = self._cached(key)
        if token is not None:
            return token
        async with self._lock_for(key):
            token = self._cached(key)
            if token is not None:
                return token
            token, lifetime = await fetch()
            with self._guard:
                self._tokens[key] = (SecretStr(token), self._clock.monotonic() + lifetime)
            return token

    def drop(self, key: str) -> None:
        with self._guard:
            self._tokens.pop(key, None)


def token_key(tenant: str, vendor: str, *parts: str) -> str:
    """A cache key for a token: the credentials go in hashed, never in clear."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"{tenant}\x00{vendor}\x00{digest}"


class HttpPool:
    """Limiters, breakers and tokens for every (tenant, vendor) of the process (or of one test)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.tokens = TokenCache(self.clock)
        self._limiters: dict[tuple[str, str], RateLimiter] = {}
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._guard = threading.Lock()

    def limiter(self, tenant: str, vendor: str, policy: VendorPolicy) -> RateLimiter:
        with self._guard:
            found = self._limiters.get((tenant, vendor))
            if found is None:
                found = RateLimiter(
                    policy.rate_per_second,
                    policy.burst,
                    self.clock,
                    jitter=policy.jitter,
                    windows=policy.windows,
                )
                self._limiters[(tenant, vendor)] = found
            return found

    def breaker(self, tenant: str, vendor: str, policy: VendorPolicy) -> CircuitBreaker:
        with self._guard:
            found = self._breakers.get((tenant, vendor))
            if found is None:
                found = CircuitBreaker(
                    f"{vendor} (tenant {tenant})",
                    policy.breaker_threshold,
                    policy.breaker_cooldown,
                    self.clock,
                )
                self._breakers[(tenant, vendor)] = found
            return found


class ProcessDefault(Generic[T]):
    """One instance for the whole process, made by ``factory`` on first use (racing threads share it).

    >>> default = ProcessDefault(dict)
    >>> default.get() is default.get()
    True
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._guard = threading.Lock()

    def get(self) -> T:
        with self._guard:
            if self._value is None:
                self._value = self._factory()
            return self._value


_default = ProcessDefault(HttpPool)


def default_pool() -> HttpPool:
    """The process-wide pool (real clock)."""
    return _default.get()
