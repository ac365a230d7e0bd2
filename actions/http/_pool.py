"""Vendor-load state: per (tenant, vendor) limiter and breaker, and cached tokens.

A pool without an engine keeps limiters and breakers in this process (a test, a single process). A pool
on the store's engine (``shared_pool``) keeps them in the store, so every worker of that store shares one
bucket and one circuit per (tenant, vendor). Tokens stay in each process in either case: they are secrets
(not written to a database), and one token request per worker per token lifetime costs the vendor nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from ._breaker import Breaker, CircuitBreaker
from ._clock import Clock, SystemClock
from ._limiter import Limiter, RateLimiter
from ._shared_breaker import SharedCircuitBreaker
from ._shared_limiter import SharedRateLimiter

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
    """Limiters, breakers and tokens for every (tenant, vendor) of the process (or of one test); with
    ``engine``, limiters and breakers live in that store and hold across every worker using it.

    >>> HttpPool().limiter("t1", "acme", VendorPolicy())  # doctest: +ELLIPSIS
    <actions.http._limiter.RateLimiter object at ...>
    """

    def __init__(self, clock: Clock | None = None, *, engine: Engine | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.engine = engine
        self.tokens = TokenCache(self.clock)
        self._limiters: dict[tuple[str, str], Limiter] = {}
        self._breakers: dict[tuple[str, str], Breaker] = {}
        self._guard = threading.Lock()

    def limiter(self, tenant: str, vendor: str, policy: VendorPolicy) -> Limiter:
        with self._guard:
            found = self._limiters.get((tenant, vendor))
            if found is None:
                found = self.new_limiter(
                    tenant, vendor, policy.rate_per_second, policy.burst, policy.jitter, policy.windows
                )
                self._limiters[(tenant, vendor)] = found
            return found

    def new_limiter(
        self,
        tenant: str,
        vendor: str,
        rate: float,
        burst: int,
        jitter: float = 1.0,
        windows: tuple[tuple[int, float], ...] = (),
    ) -> Limiter:
        """A limiter of this pool's kind (in the process, or in its store), not remembered by the pool."""
        if self.engine is None:
            return RateLimiter(rate, burst, self.clock, jitter=jitter, windows=windows)
        return SharedRateLimiter(
            self.engine, tenant, vendor, rate, burst, self.clock, jitter=jitter, windows=windows
        )

    def breaker(self, tenant: str, vendor: str, policy: VendorPolicy) -> Breaker:
        with self._guard:
            found = self._breakers.get((tenant, vendor))
            if found is not None:
                return found
            if self.engine is None:
                found = CircuitBreaker(
                    f"{vendor} (tenant {tenant})",
                    policy.breaker_threshold,
                    policy.breaker_cooldown,
                    self.clock,
                )
            else:
                # The trial call's claim outlives the longest a call can take, then lapses.
                lease = policy.timeout + policy.connect_timeout + 5.0
                found = SharedCircuitBreaker(
                    self.engine,
                    tenant,
                    vendor,
                    policy.breaker_threshold,
                    policy.breaker_cooldown,
                    self.clock,
                    trial_lease=lease,
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
    """The pool of the store bound by ``using_store`` here, else the process-wide pool (real clock)."""
    from ._shared import bound_store, shared_pool

    engine = bound_store()
    return _default.get() if engine is None else shared_pool(engine)
