"""Two queueing limits per intel call: the tenant's key (per tenant and provider), then the provider as a
whole (every tenant together), so one tenant's storm cannot use up a shared quota.

Both are the pool's kind of limiter (a call waits for its slot, never fails for a burst): in the process,
or, on a pool on the store (``shared_pool``), in the store, where every worker shares them (the
provider-wide one under the tenant ``*``, which no tenant id can be). The tenant's limiter is the one
``VendorHttp`` keeps per (tenant, vendor) in the pool, and a 429's Retry-After holds it; the provider-wide
one lives beside the pool (a fresh pool, as in a test, starts fresh limits).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from ..http import HttpPool, Limiter, VendorHttp

_provider_limiters: weakref.WeakKeyDictionary[HttpPool, dict[str, Limiter]] = weakref.WeakKeyDictionary()
_guard = threading.Lock()
EVERY_TENANT = "*"  # the provider-wide limiter's tenant in the store


def provider_limiter(pool: HttpPool, provider: str, rate: float, burst: int) -> Limiter:
    """The limiter of ``provider`` for every tenant (created with ``rate``/``burst`` on first use)."""
    with _guard:
        limiters = _provider_limiters.setdefault(pool, {})
        found = limiters.get(provider)
        if found is None:
            found = pool.new_limiter(EVERY_TENANT, provider, rate, burst)
            limiters[provider] = found
        return found


class ChainedLimiter:
    """The tenant's slot first, then the provider's: a call holds a provider slot only when it can go."""

    def __init__(self, tenant: Limiter, provider: Limiter) -> None:
        self.tenant = tenant
        self.provider = provider

    async def acquire(self) -> float:
        return await self.tenant.acquire() + await self.provider.acquire()

    def back_off(self, seconds: float) -> float:
        # A 429 speaks for the tenant's key: hold that key's calls, not every tenant's.
        return self.tenant.back_off(seconds)


class IntelHttp(VendorHttp):
    """``VendorHttp`` whose calls also wait for the provider-wide limiter."""

    def __init__(self, *, provider_limit: Limiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # VendorHttp takes one limiter; chaining keeps its breaker, Retry-After and error mapping as they are.
        self._limiter = ChainedLimiter(self._limiter, provider_limit)
