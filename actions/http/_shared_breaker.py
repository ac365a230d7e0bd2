"""The circuit breaker of ``_breaker`` with its state in the store: a vendor that is down for one worker is
down for all of them, and N workers do not each spend ``threshold`` failures finding out.

The states and moves are ``CircuitBreaker``'s (its docstring draws them). Failures count across workers
("5 in a row" means 5 of anyone's calls); the half-open trial is one call among all workers, claimed
with a lease (``trial_lease`` seconds: a worker that dies mid-trial must not keep the circuit shut). Each
move is one short write transaction on the (tenant, vendor) row (SQLite: the store's BEGIN IMMEDIATE;
PostgreSQL: ``SELECT … FOR UPDATE``); times are wall-clock seconds, as in ``_shared_limiter``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine, Row

from .._errors import CircuitOpen
from ._breaker import BreakerState
from ._clock import Clock
from ._tables import VendorMetadata, breakers, ensure_tables, insert_missing, state_engine


class SharedCircuitBreaker:
    """``CircuitBreaker``'s contract for one (tenant, vendor), across processes.

    >>> from actions.http import SystemClock
    >>> from sqlalchemy import create_engine
    >>> breaker = SharedCircuitBreaker(create_engine("sqlite://"), "t1", "acme", 5, 60.0, SystemClock())
    >>> breaker.state
    <BreakerState.CLOSED: 'closed'>
    """

    def __init__(
        self,
        engine: Engine,
        tenant: str,
        vendor: str,
        threshold: int,
        cooldown: float,
        clock: Clock,
        *,
        trial_lease: float = 30.0,
    ) -> None:
        self.name = f"{vendor} (tenant {tenant})"
        self.engine = state_engine(engine)
        self.tenant = tenant
        self.vendor = vendor
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._lease = trial_lease
        self._row = (breakers.c.tenant == tenant) & (breakers.c.vendor == vendor)
        # This process's claim on the trial call, so that only its own neutral outcome gives it back.
        self._trial_token = ""
        ensure_tables(self.engine, VendorMetadata)

    def _read(self, connection: Connection, *, lock: bool) -> Row[Any]:
        query = select(breakers).where(self._row)
        found = connection.execute(query.with_for_update() if lock else query).first()
        if found is None:
            empty = {"state": BreakerState.CLOSED.value, "failures": 0, "opened_at": 0.0}
            values = {"tenant": self.tenant, "vendor": self.vendor, **empty}
            insert_missing(connection, breakers, {**values, "trial_owner": "", "trial_until": 0.0})
            found = connection.execute(query.with_for_update() if lock else query).one()
        return found

    def _write(self, connection: Connection, **values: Any) -> None:
        connection.execute(update(breakers).where(self._row).values(**values))

    def _cooled_down(self, row: Row[Any]) -> bool:
        return self._clock.wall() >= float(row.opened_at) + self._cooldown

    def _refuse(self, row: Row[Any], why: str) -> CircuitOpen:
        remaining = max(float(row.opened_at) + self._cooldown - self._clock.wall(), 0.0)
        return CircuitOpen(f"{self.name}: circuit open ({why}); no call made", retry_after=remaining)

    @property
    def state(self) -> BreakerState:
        with self.engine.begin() as connection:
            row = self._read(connection, lock=False)
        state = BreakerState(row.state)
        if state is BreakerState.OPEN and self._cooled_down(row):
            return BreakerState.HALF_OPEN
        return state

    def check(self) -> None:
        """Fail fast while open (before queueing for a rate-limit slot); changes nothing."""
        with self.engine.begin() as connection:
            row = self._read(connection, lock=False)
        if row.state == BreakerState.OPEN and not self._cooled_down(row):
            raise self._refuse(row, f"{row.failures} failures in a row")

    def before_call(self) -> None:
        """Admit a call, claiming the single trial slot of all workers when half-open."""
        with self.engine.begin() as connection:
            row = self._read(connection, lock=True)
            state = BreakerState(row.state)
            if state is BreakerState.CLOSED:
                return
            now = self._clock.wall()
            if state is BreakerState.OPEN and not self._cooled_down(row):
                raise self._refuse(row, f"{row.failures} failures in a row")
            if state is BreakerState.HALF_OPEN and row.trial_owner and now < float(row.trial_until):
                raise self._refuse(row, "a trial call is in flight")
            token = uuid.uuid4().hex
            self._write(
                connection,
                state=BreakerState.HALF_OPEN.value,
                trial_owner=token,
                trial_until=now + self._lease,
            )
            self._trial_token = token

    def record_success(self) -> None:
        self._trial_token = ""
        with self.engine.begin() as connection:
            row = self._read(connection, lock=True)
            if row.state != BreakerState.CLOSED or row.failures or row.trial_owner:
                self._write(
                    connection, state=BreakerState.CLOSED.value, failures=0, trial_owner="", trial_until=0.0
                )

    def record_failure(self) -> None:
        self._trial_token = ""
        with self.engine.begin() as connection:
            row = self._read(connection, lock=True)
            failures = int(row.failures) + 1
            values: dict[str, Any] = {"failures": failures, "trial_owner": "", "trial_until": 0.0}
            if row.state == BreakerState.HALF_OPEN or failures >= self._threshold:
                values.update(state=BreakerState.OPEN.value, opened_at=self._clock.wall())
            self._write(connection, **values)

    def record_neutral(self) -> None:
        """The call told us nothing about the vendor's health (a 429, a cancelled call)."""
        token, self._trial_token = self._trial_token, ""
        if not token:
            return  # no trial of ours: the circuit's state is not ours to change
        with self.engine.begin() as connection:
            row = self._read(connection, lock=True)
            if row.trial_owner == token:
                self._write(connection, trial_owner="", trial_until=0.0)
