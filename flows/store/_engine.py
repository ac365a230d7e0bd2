"""Open the store: SQLite (WAL) by default, PostgreSQL when the URL says so."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from actions.lab import LabBase

from ._schema import Base


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    """One engine per URL per process; the schema is created on first use."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    Base.metadata.create_all(engine)
    LabBase.metadata.create_all(engine)
    return engine


def _sqlite_pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's deferred transactions.
    connection.isolation_level = None
    # WAL lets the intake write while flow runs read; busy_timeout waits out the other writer;
    # synchronous=FULL because a 2xx promises the alert survives a power cut, not just a crash.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    # Take the write lock at BEGIN: a deferred transaction that reads and then writes can fail at once
    # with SQLITE_BUSY when another process (intake vs. flow run) wrote in between; IMMEDIATE waits instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
