"""Open the store: SQLite (WAL) by default, PostgreSQL when the URL says so."""

from __future__ import annotations

import os
import sqlite3
import time
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from flows.settings import owner_only

from .migrations import lock_schema, upgrade_store

WAL_WAIT_SECONDS = 30.0  # as long as busy_timeout waits for another writer


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    """One engine per URL per process; on first use the store's schema is brought to the newest revision
    (created if new, migrated with its data if older: ``flows.store.migrations``).

    Processes starting together on one store take turns: the first upgrades, the others find it done."""
    engine = new_engine(url)
    try:
        with engine.begin() as connection:
            lock_schema(connection)
            upgrade_store(connection)
    except BaseException:
        engine.dispose()  # not cached: a caller that retries must not pile up pools
        raise
    return engine


def new_engine(url: str) -> Engine:
    """An engine configured as the store needs it (SQLite pragmas and locking), with no schema work."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            _owner_only_database(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def _owner_only_database(path: Path) -> None:
    # Incidents name customers' hosts and what attacked them: the database is the owner's alone. A new
    # folder is 0700 and the file is created 0600 before SQLite opens it; SQLite gives its -wal and -shm
    # files the database file's mode. A file an older version left readable by others is tightened.
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for existing in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
            owner_only(existing)


def _sqlite_pragmas(connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's deferred transactions.
    connection.isolation_level = None
    # WAL lets the intake write while flow runs read; busy_timeout waits out the other writer;
    # synchronous=FULL because a 2xx promises the alert survives a power cut, not just a crash.
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _wal(cursor)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _wal(cursor) -> None:  # type: ignore[no-untyped-def]
    """Put the database in WAL mode (a property of the file: once set, it stays). Switching needs the file
    to itself, and SQLite answers "database is locked" at once, without its busy handler, while another
    process opens the same new store (``garrison up``'s children, a worker): wait for it instead."""
    deadline = time.monotonic() + WAL_WAIT_SECONDS
    while True:
        if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    # Take the write lock at BEGIN: a deferred transaction that reads and then writes can fail at once
    # with SQLITE_BUSY when another process (intake vs. flow run) wrote in between; IMMEDIATE waits instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
