"""Alembic's entry for the store: run by ``engine_for`` (on its locked connection) or by the command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from flows.store._engine import new_engine
from flows.store._schema import Base
from flows.store.migrations import VERSION_TABLE, include_name, lock_schema


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        # SQLite alters little in place: a revision's batch_alter_table copies the table there, and is a
        # plain ALTER on PostgreSQL.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        # Revision 0001 reads the database to fill in a store made before Alembic: there is no script of it.
        raise SystemExit(
            "the store's migrations run against a database; --sql (offline mode) is not supported"
        )
    given: Connection | None = context.config.attributes.get("connection")
    if given is not None:  # engine_for: its transaction already holds the upgrade lock
        _run(given)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no store to migrate: set GARRISON_DATABASE_URL (or GARRISON_HOME)")
    engine = new_engine(url)
    try:
        with engine.begin() as connection:
            lock_schema(connection)
            _run(connection)
    finally:
        engine.dispose()


_main()
