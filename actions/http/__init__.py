"""The HTTP policy every vendor adapter shares: per (tenant, vendor) queueing rate limits, Retry-After,
timeouts, a circuit breaker, error mapping onto the error tree, and secrets kept out of messages.

Limits and breakers live in the process (``HttpPool()``) or, for workers sharing one store, in the store
(``shared_pool(engine)``, tables ``vendor_*``): N workers then make the calls one would, not N times them.
"""

from ._breaker import Breaker, BreakerState, CircuitBreaker
from ._client import VendorHttp, parse_retry_after
from ._clock import Clock, SystemClock
from ._limiter import Limiter, RateLimiter
from ._pool import HttpPool, ProcessDefault, TokenCache, VendorPolicy, default_pool, token_key
from ._shared import bound_store, shared_pool, using_store
from ._shared_breaker import SharedCircuitBreaker
from ._shared_limiter import SharedRateLimiter
from ._tables import VendorMetadata, ensure_tables, state_engine, upsert

__all__ = [
    "Breaker",
    "BreakerState",
    "CircuitBreaker",
    "Clock",
    "HttpPool",
    "Limiter",
    "ProcessDefault",
    "RateLimiter",
    "SharedCircuitBreaker",
    "SharedRateLimiter",
    "SystemClock",
    "TokenCache",
    "VendorHttp",
    "VendorMetadata",
    "VendorPolicy",
    "bound_store",
    "default_pool",
    "ensure_tables",
    "parse_retry_after",
    "shared_pool",
    "state_engine",
    "token_key",
    "upsert",
    "using_store",
]
