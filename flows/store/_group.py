"""Group commit: writers that arrive while a transaction is committing share the next one, and its fsync.

SQLite has one writer at a time, and ``synchronous=FULL`` pays an fsync per commit: sixteen sensors posting
one alert each would wait on each other's fsyncs, and the ones that found the database busy would sleep
in SQLite's busy handler (up to 100 ms a nap). Instead, the threads of one process that write alerts
(the intake's request threads) queue here. The first becomes the leader: it takes everything queued,
writes it in one transaction (``write``, one savepoint per request when there are several) and commits;
meanwhile newcomers queue, and the first of them leads the next group once this one is done. Nobody
waits for a timer: a lone writer commits at once, exactly as before.

Each request learns its fate only after the commit that holds it: ``submit`` returns its result, or
raises its own error (a replayed signature, a value the database refuses) — or, when the commit itself
fails, the commit's error, in every request of that group, nothing of which was stored.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from sqlalchemy.engine import Connection, Engine

from ._replay import lock_tenant, remember_locked

if TYPE_CHECKING:
    from ._ingest import Accepted, GroupingRules, IncomingAlert

MAX_GROUP = 256  # requests per transaction: bounds what one commit holds (and what one failure fails)
Result = TypeVar("Result")


@dataclass(eq=False)
class Pending(Generic[Result]):
    """One writer's request, as the group commit sees it: its outcome, and the event it waits on."""

    result: Result | None = field(default=None, init=False)
    error: BaseException | None = field(default=None, init=False)
    _lead: bool = field(default=False, init=False)
    _done: threading.Event = field(default_factory=threading.Event, init=False, repr=False)


Queued = TypeVar("Queued", bound=Pending[Any])
Write = Callable[[Connection, Sequence[Queued], datetime], None]


class GroupCommit:
    """The queue of one engine's writers in this process (``group_commit``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._queue: list[Pending[Any]] = []
        self._busy = False  # a leader is writing; newcomers queue for the next group

    def waiting(self) -> int:
        """Requests queued for the next group (what a commit in flight is holding up)."""
        with self._lock:
            return len(self._queue)

    def submit(self, request: Queued, write: Write[Queued]) -> Any:
        """``request``'s result once the transaction holding it has committed (or its error, raised)."""
        with self._lock:
            self._queue.append(request)
            if not self._busy:
                self._busy = request._lead = True
        if not request._lead:
            request._done.wait()  # finished by a leader, or chosen to lead the next group
        if request._lead:
            self._lead(write)
        if request.error is not None:
            raise request.error
        return request.result

    def _lead(self, write: Write[Any]) -> None:
        with self._lock:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        try:
            self._commit(group, write)
        finally:
            with self._lock:
                if self._queue:  # hand over: the first of those who queued meanwhile leads the next group
                    self._queue[0]._lead = True
                    self._queue[0]._done.set()
                else:
                    self._busy = False
            for request in group:
                if not request._lead:
                    request._done.set()

    def _commit(self, group: list[Pending[Any]], write: Write[Any]) -> None:
        try:
            with self.engine.begin() as conn:
                write(conn, group, datetime.now(UTC))
        except BaseException as error:  # noqa: BLE001 - nothing of the group was stored: all hear why
            for request in group:
                request.result = None
                if request.error is None:  # a request's own error (a replay) stays what it hears
                    request.error = error
            if not isinstance(error, Exception):
                raise


_committers: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()
_committers_lock = threading.Lock()


def group_commit(engine: Engine) -> GroupCommit:
    """The group commit of ``engine`` in this process (one per engine, made on first use)."""
    with _committers_lock:
        committer = _committers.get(engine)
        if committer is None:
            committer = _committers[engine] = GroupCommit(engine)
        return committer


# -- the alerts' group: what ``_ingest.ingest`` queues, and how a group of them is written ----------------


@dataclass(eq=False)
class Request(Pending["list[Accepted]"]):
    """One ``ingest`` call waiting for its group's commit."""

    tenant: str
    items: Sequence[IncomingAlert]
    rules: GroupingRules
    signature: tuple[str, datetime] | None
    actor: str


class Run(Protocol):
    """Place and store ``items`` in ``conn``'s transaction (``_ingest``'s batch)."""

    def __call__(
        self,
        conn: Connection,
        tenant: str,
        rules: GroupingRules,
        actor: str,
        items: Sequence[IncomingAlert],
        now: datetime,
    ) -> list[Accepted]: ...


def write_group(conn: Connection, group: Sequence[Request], now: datetime, *, run: Run) -> None:
    """Within ``conn``'s transaction: store each request of ``group``, setting its ``result`` or its own
    ``error`` (a replayed signature, a value the database refuses): one request's fault sinks no other."""
    if len(group) == 1:  # alone: exactly what a transaction of its own does
        [request] = group
        lock_tenant(conn, request.tenant)
        _store_alone(conn, request, now, run)
        return
    # Tenants' locks in one order, so two processes' groups cannot wait on each other (PostgreSQL).
    for tenant in sorted({request.tenant for request in group}):
        lock_tenant(conn, tenant)
        members = [request for request in group if request.tenant == tenant]
        together = conn.begin_nested()
        try:
            _write_together(conn, tenant, members, now, run)
        except Exception:  # noqa: BLE001 - which request is at fault is found below, one by one
            together.rollback()
        else:
            together.commit()
            continue
        # Each on its own (its signature with its alerts), so the request at fault gets its error and
        # the others are stored as if it had not been there.
        for request in members:
            request.result = request.error = None
            _apart(conn, request, partial(_store_alone, conn, request, now, run))


def _write_together(conn: Connection, tenant: str, members: list[Request], now: datetime, run: Run) -> None:
    # A replayed signature is that request's alone; the rest go in one batch per grouping rules (one
    # set of statements, as a batch request does), in the order they arrived.
    for request in members:
        if request.signature is not None:
            seen, expires = request.signature
            _apart(conn, request, partial(remember_locked, conn, tenant, seen, expires, now))
    alike: dict[tuple[GroupingRules, str], list[Request]] = {}
    for request in members:
        if request.error is None:
            alike.setdefault((request.rules, request.actor), []).append(request)
    for (rules, actor), requests in alike.items():
        results = run(conn, tenant, rules, actor, [item for r in requests for item in r.items], now)
        start = 0
        for request in requests:
            request.result = results[start : start + len(request.items)]
            start += len(request.items)


def _store_alone(conn: Connection, request: Request, now: datetime, run: Run) -> None:
    if request.signature is not None:
        remember_locked(conn, request.tenant, *request.signature, now)
    request.result = run(conn, request.tenant, request.rules, request.actor, request.items, now)


def _apart(conn: Connection, request: Request, write: Callable[[], object]) -> None:
    """``write`` for ``request`` in a savepoint: its failure is its own (``error``), undone alone. A
    savepoint that cannot be rolled back raises: then the store is unwell and the whole group fails."""
    savepoint = conn.begin_nested()
    try:
        write()
    except Exception as error:  # noqa: BLE001 - kept for the request's caller, raised in its thread
        savepoint.rollback()
        request.result, request.error = None, error
    else:
        savepoint.commit()
