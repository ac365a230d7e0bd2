"""Tables of the vendor-load state that every worker of one store shares (``vendor_*``).

The Garrison store's migrations own only the store's own tables and leave every other table alone (the
lab's ``lab_*``, these): they are created here, on the first use of each engine, and hold nothing that
cannot be lost: an empty table is a quiet vendor. Times are wall-clock seconds since the epoch
(``Clock.wall``), the only clock processes on several machines share.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import Column, Double, Index, Integer, MetaData, String, Table, create_engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

VendorMetadata = MetaData()

# One row per (tenant, vendor): the token bucket as a theoretical arrival time (GCRA), the Retry-After
# hold, and an epoch bumped by every hold (a sleeper whose slot went stale queues again).
rate_limits = Table(
    "vendor_rate_limits",
    VendorMetadata,
    Column("tenant", String(255), primary_key=True),
    Column("vendor", String(255), primary_key=True),
    Column("tat", Double, nullable=False),
    Column("blocked_until", Double, nullable=False),
    Column("epoch", Integer, nullable=False),
)

# The start of every call within the vendor's longest counting window ("1,500 calls per hour").
calls = Table(
    "vendor_calls",
    VendorMetadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(255), nullable=False),
    Column("vendor", String(255), nullable=False),
    Column("start", Double, nullable=False),
    Index("ix_vendor_calls_slot", "tenant", "vendor", "start"),
)

# One row per (tenant, vendor) circuit. ``trial_owner``/``trial_until``: who holds the half-open trial
# call, and until when (a worker that dies mid-trial must not keep the circuit shut for ever).
breakers = Table(
    "vendor_breakers",
    VendorMetadata,
    Column("tenant", String(255), primary_key=True),
    Column("vendor", String(255), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("opened_at", Double, nullable=False),
    Column("trial_owner", String(64), nullable=False),
    Column("trial_until", Double, nullable=False),
)

_READY: weakref.WeakKeyDictionary[Engine, set[int]] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def ensure_tables(engine: Engine, metadata: MetaData) -> None:
    """Create ``metadata``'s tables on ``engine`` once per process (processes starting together race:
    the loser of a CREATE finds the table there on its second look)."""
    with _guard:
        if id(metadata) in _READY.get(engine, ()):
            return
    try:
        metadata.create_all(engine)
    except DBAPIError:
        metadata.create_all(engine)  # another process created it between our check and our CREATE
    with _guard:
        _READY.setdefault(engine, set()).add(id(metadata))


def insert_missing(connection: Connection, table: Table, values: dict[str, Any]) -> None:
    """Insert the row unless its primary key is taken (by another worker a moment ago, say)."""
    statement: Any
    if connection.dialect.name == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    elif connection.dialect.name == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    else:
        keys = [table.c[c.name] == values[c.name] for c in table.primary_key.columns]
        if connection.execute(select(*table.primary_key.columns).where(*keys)).first() is not None:
            return
        statement = table.insert().values(**values)
    connection.execute(statement)


def upsert(connection: Connection, table: Table, values: dict[str, Any]) -> None:
    """Insert the row, or overwrite the one with its primary key."""
    keys = [c.name for c in table.primary_key.columns]
    changed = {k: v for k, v in values.items() if k not in keys}
    statement: Any
    if connection.dialect.name in ("postgresql", "sqlite"):
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).values(**values)
        statement = statement.on_conflict_do_update(index_elements=keys, set_=changed)
        connection.execute(statement)
        return
    connection.execute(table.delete().where(*[table.c[k] == values[k] for k in keys]))
    connection.execute(table.insert().values(**values))


_LIGHT: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def state_engine(engine: Engine) -> Engine:
    """The engine to keep vendor-load state with: ``engine`` itself, except on a SQLite file.

    The store's SQLite connections fsync every commit (``synchronous=FULL``: a 2xx to a sensor promises
    the alert survives a power cut). A rate-limit slot or a cached answer lost to a power cut costs
    nothing, and its commit runs before every vendor call: these tables are written through connections
    of their own to the same file with ``synchronous=NORMAL`` (WAL: still atomic and consistent, the last
    commits may be lost on power loss), the store's busy timeout and its IMMEDIATE transactions."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return engine
    if url.database.startswith("file:") and "mode=memory" in url.database:
        return engine
    with _guard:
        found = _LIGHT.get(engine)
        if found is None:
            found = create_engine(url, connect_args={"timeout": 30})
            event.listen(found, "connect", _light_pragmas)
            event.listen(found, "begin", _begin_immediate)
            _LIGHT[engine] = found
        return found


def _light_pragmas(connection: Any, _record: Any) -> None:
    connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # Take the write lock at BEGIN, as the store does: a read-then-write transaction never fails midway
    # because another worker wrote in between, it waits its turn instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
