"""Intel answers kept for a while, per indicator type: IPs change hands fast, file hashes never do.

An answer with no record ("unknown to this provider") is kept too, for a shorter time: a fresh C2 domain
may be listed within the hour. Failures are never kept. Concurrent askers of the same key share one fetch.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable, Mapping

from .._errors import TransientError
from ..http import Clock, ProcessDefault, SystemClock, bound_store
from ._record import IntelRecord

CacheKey = tuple[str, str, str, str]  # (scope: "" shared or the tenant, provider, type, value)

HOUR = 3600.0
DAY = 24 * HOUR
DEFAULT_TTLS: Mapping[str, float] = {
    "ipv4": 1 * HOUR,
    "ipv6": 1 * HOUR,
    "url": 2 * HOUR,
    "domain": 6 * HOUR,
    "x509_sha1": 1 * DAY,
    "md5": 7 * DAY,
    "sha1": 7 * DAY,
    "sha256": 7 * DAY,
}
DEFAULT_NEGATIVE_TTLS: Mapping[str, float] = {
    "ipv4": 15 * 60,
    "ipv6": 15 * 60,
    "url": 15 * 60,
    "domain": 30 * 60,
    "x509_sha1": 6 * HOUR,
    "md5": 6 * HOUR,
    "sha1": 6 * HOUR,
    "sha256": 6 * HOUR,
}


class IntelCache:
    """Answers by (scope, provider, type, value) with a TTL per indicator type (``ttls`` overrides).

    >>> cache = IntelCache(ttls={"ipv4": 60})
    >>> cache.put(("", "greynoise", "ipv4", "8.8.8.8"), [])
    >>> cache.get(("", "greynoise", "ipv4", "8.8.8.8"))
    []
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        ttls: Mapping[str, float] | None = None,
        negative_ttls: Mapping[str, float] | None = None,
        max_entries: int = 50_000,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._ttls = {**DEFAULT_TTLS, **(ttls or {})}
        self._negative = {**DEFAULT_NEGATIVE_TTLS, **(negative_ttls or {})}
        self._max = max_entries
        self._entries: dict[CacheKey, tuple[float, tuple[IntelRecord, ...]]] = {}
        self._guard = threading.Lock()
        self._inflight: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[CacheKey, asyncio.Future[tuple[IntelRecord, ...]]]
        ] = weakref.WeakKeyDictionary()

    def ttl(self, kind: str, *, empty: bool) -> float:
        table = self._negative if empty else self._ttls
        return min(table.get(kind, HOUR), self._ttls.get(kind, HOUR))

    def get(self, key: CacheKey) -> list[IntelRecord] | None:
        """The kept answer, or None when there is none or it expired."""
        with self._guard:
            found = self._entries.get(key)
            if found is None:
                return None
            if self.clock.monotonic() >= found[0]:
                del self._entries[key]
                return None
            return list(found[1])

    def put(self, key: CacheKey, records: list[IntelRecord]) -> None:
        expires = self.clock.monotonic() + self.ttl(key[2], empty=not records)
        with self._guard:
            self._entries.pop(key, None)
            self._entries[key] = (expires, tuple(records))
            if len(self._entries) > self._max:
                self._evict()

    def _evict(self) -> None:
        now = self.clock.monotonic()
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) > self._max:  # oldest first: dicts keep insertion order
            del self._entries[next(iter(self._entries))]

    async def get_or_fetch(
        self, key: CacheKey, fetch: Callable[[], Awaitable[list[IntelRecord]]]
    ) -> tuple[list[IntelRecord], bool]:
        """(answer, whether it came from the cache); one fetch per key at a time, its failure shared."""
        cached = self.get(key)
        if cached is not None:
            return cached, True
        loop = asyncio.get_running_loop()
        with self._guard:
            flights = self._inflight.setdefault(loop, {})
            running = flights.get(key)
            if running is None:
                running = loop.create_future()
                flights[key] = running
                owner = True
            else:
                owner = False
        if not owner:
            return list(await asyncio.shield(running)), True
        try:
            records = await fetch()
        except BaseException as error:
            # Waiters of another lookup must not see *our* cancellation as theirs: they get a failure.
            shared = (
                error if isinstance(error, Exception) else TransientError("the shared lookup was cancelled")
            )
            running.set_exception(shared)
            running.exception()  # retrieved: nobody waiting is not an "exception never retrieved"
            raise
        else:
            self.put(key, records)
            running.set_result(tuple(records))
            return records, False
        finally:
            with self._guard:
                flights.pop(key, None)

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_default = ProcessDefault(IntelCache)


def default_cache() -> IntelCache:
    """The cache of the store bound by ``actions.http.using_store`` here (shared by every worker of that
    store), else the process-wide cache (real clock)."""
    engine = bound_store()
    if engine is None:
        return _default.get()
    from ._shared_cache import shared_cache

    return shared_cache(engine)
