"""The HTTP policy every vendor adapter shares: per (tenant, vendor) queueing rate limits, Retry-After,
timeouts, a circuit breaker, error mapping onto the error tree, and secrets kept out of messages."""

from ._breaker import BreakerState, CircuitBreaker
from ._client import VendorHttp, parse_retry_after
from ._clock import Clock, SystemClock
from ._limiter import RateLimiter
from ._pool import HttpPool, ProcessDefault, TokenCache, VendorPolicy, default_pool, token_key

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "Clock",
    "HttpPool",
    "ProcessDefault",
    "RateLimiter",
    "SystemClock",
    "TokenCache",
    "VendorHttp",
    "VendorPolicy",
    "default_pool",
    "parse_retry_after",
    "token_key",
]
