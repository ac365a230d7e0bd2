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
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection, Engine

MAX_GROUP = 256  # requests per transaction: bounds what one commit holds (and what one failure fails)
Result = TypeVar("Result")


@dataclass(eq=False)
class Pending(Generic[Result]):
    """One writer's request, as the group commit sees it: its outcome, and the event it waits on."""

    result: Result | None = field(default=None, init=False)
    error: BaseException | None = field(default=None, init=False)
    _lead: bool = field(default=False, init=False)
    _done: threading.Event = field(default_factory=threading.Event, init=False, repr=False)


Request = TypeVar("Request", bound=Pending[Any])
Write = Callable[[Connection, Sequence[Request], datetime], None]


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

    def submit(self, request: Request, write: Write[Request]) -> Any:
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
