"""The queueing rate limiter of ``_limiter`` with its state in the store, so that every worker of one store
takes its slots from one bucket: two workers together keep to the vendor's limit, not twice it.

Each reservation is one short write transaction on the (tenant, vendor) row: on SQLite the store's engine
begins it IMMEDIATE (the database's one write lock), on PostgreSQL ``SELECT … FOR UPDATE`` locks the row.
The transaction ends before the caller sleeps until its slot: a wait never holds the database. Slots are
wall-clock times (``Clock.wall``): workers on several machines need synchronised clocks (NTP), as
Prefect's own scheduling does; skew between two machines loosens the limit by at most that skew.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Engine

from ._clock import Clock
from ._limiter import checked_limits
from ._tables import VendorMetadata, calls, ensure_tables, insert_missing, rate_limits, state_engine

_NEVER = 0.0  # 1970: "no call yet", earlier than any slot


class SharedRateLimiter:
    """``RateLimiter``'s contract (``acquire``, ``back_off``) for one (tenant, vendor), across processes.

    >>> from actions.http import SystemClock
    >>> from sqlalchemy import create_engine
    >>> mde = SharedRateLimiter(create_engine("sqlite://"), "t1", "defender", 1.5, 10, SystemClock(),
    ...                         windows=[(100, 60.0), (1500, 3600.0)])
    """

    def __init__(
        self,
        engine: Engine,
        tenant: str,
        vendor: str,
        rate: float,
        burst: int,
        clock: Clock,
        *,
        jitter: float = 1.0,
        windows: Iterable[tuple[int, float]] = (),
    ) -> None:
        self._windows = checked_limits(rate, burst, windows)
        self.engine = state_engine(engine)
        self.tenant = tenant
        self.vendor = vendor
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._jitter = jitter
        self._longest = max((seconds for _, seconds in self._windows), default=0.0)
        self._row = (rate_limits.c.tenant == tenant) & (rate_limits.c.vendor == vendor)
        self._calls = (calls.c.tenant == tenant) & (calls.c.vendor == vendor)
        ensure_tables(self.engine, VendorMetadata)

    @property
    def blocked_until(self) -> float:
        """Until when (wall clock) a vendor's Retry-After holds every call."""
        with self.engine.begin() as connection:
            return self._locked(connection)[1]

    def _locked(self, connection: Connection) -> tuple[float, float, int]:
        query = select(rate_limits.c.tat, rate_limits.c.blocked_until, rate_limits.c.epoch).where(self._row)
        found = connection.execute(query.with_for_update()).first()
        if found is None:
            values = {"tenant": self.tenant, "vendor": self.vendor, "tat": _NEVER, "blocked_until": _NEVER}
            insert_missing(connection, rate_limits, {**values, "epoch": 0})
            found = connection.execute(query.with_for_update()).one()
        return float(found.tat), float(found.blocked_until), int(found.epoch)

    def _reserve(self) -> tuple[float, float, int, int | None]:
        with self.engine.begin() as connection:
            tat, blocked_until, epoch = self._locked(connection)
            now = self._clock.wall()
            start = max(now, tat - self._tolerance, blocked_until)
            for n, seconds in self._windows:
                # The call n calls back (slots already given out count: they are calls to come).
                nth = connection.execute(
                    select(calls.c.start)
                    .where(self._calls)
                    .order_by(calls.c.start.desc())
                    .limit(1)
                    .offset(n - 1)
                ).scalar()
                if nth is not None:
                    start = max(start, float(nth) + seconds)
            connection.execute(
                update(rate_limits).where(self._row).values(tat=max(tat, start) + self._interval)
            )
            slot: int | None = None
            if self._windows:
                # A call older than the longest window can hold no later call back.
                connection.execute(delete(calls).where(self._calls, calls.c.start < now - self._longest))
                added = connection.execute(
                    calls.insert().values(tenant=self.tenant, vendor=self.vendor, start=start)
                )
                inserted = added.inserted_primary_key
                slot = int(inserted[0]) if inserted is not None else None
            return now, start, epoch, slot

    def _still_good(self, epoch: int) -> bool:
        with self.engine.begin() as connection:
            _, blocked_until, now_epoch = self._locked(connection)
        return now_epoch == epoch or self._clock.wall() >= blocked_until

    def _release(self, slot: int | None) -> None:
        # A slot given up (the vendor said "slow down" first) is no call: it must not use up a window.
        if slot is not None:
            with self.engine.begin() as connection:
                connection.execute(delete(calls).where(calls.c.id == slot))

    async def acquire(self) -> float:
        """Wait for this call's slot; returns how long it waited."""
        waited = 0.0
        while True:
            now, start, epoch, slot = self._reserve()
            if start <= now:
                return waited  # nobody could have moved the hold between our reservation and now
            await self._clock.sleep(start - now)
            waited += start - now
            if self._still_good(epoch):
                return waited
            # A worker was told "slow down" while we slept: queue again behind the vendor's Retry-After.
            self._release(slot)

    def back_off(self, seconds: float) -> float:
        """Hold every later call of every worker for ``seconds`` plus jitter; returns the wait from now."""
        with self.engine.begin() as connection:
            tat, blocked_until, epoch = self._locked(connection)
            now = self._clock.wall()
            until = now + max(seconds, 0.0) + self._jitter * self._clock.random()
            if until > blocked_until:
                blocked_until, epoch = until, epoch + 1
            # Empty the bucket: after the pause, calls resume one interval apart, not as a burst.
            tat = max(tat, blocked_until + self._tolerance)
            connection.execute(
                update(rate_limits).where(self._row).values(tat=tat, blocked_until=blocked_until, epoch=epoch)
            )
            return blocked_until - now
