"""The store's schema under Alembic: revisions in ``versions/``, applied by ``engine_for`` on first use.

The environment is configured here, not by an ``alembic.ini``: an installed Garrison finds its revisions
beside this file. Operators and developers reach the Alembic commands through this package::

    python -m flows.store.migrations current        # the store named by GARRISON_DATABASE_URL
    python -m flows.store.migrations upgrade head
    python -m flows.store.migrations revision --autogenerate --rev-id 0002 -m "what changed"

A new revision moves ``HEAD`` below (tests/store/test_migrations.py fails until it does).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import String, column, func, inspect, select, table
from sqlalchemy.engine import Connection

from .._schema import Base

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.environment import NameFilterParentNames, NameFilterType
    from alembic.script import ScriptDirectory

# The newest revision in versions/. Known without Alembic, so that opening a store that is up to date —
# every start of every Garrison process — costs a query or two and not Alembic's import (~0.1-0.2 s).
# Upgrades go to Alembic's own head: a HEAD left behind costs that import, never a wrong schema.
HEAD = "0001"
# Not Alembic's default ``alembic_version``: Prefect keeps its own schema under that name, and an operator
# may point both at one PostgreSQL database.
VERSION_TABLE = "garrison_schema_version"
SCRIPTS = Path(__file__).resolve().parent
# Any fixed 64-bit number: it names "the Garrison schema upgrade" among PostgreSQL's advisory locks.
_ADVISORY_LOCK = 0x6761727269736F6E  # "garrison"


class SchemaTooNew(RuntimeError):
    """The store was upgraded by a newer Garrison: this one does not know its schema revision."""


def lock_schema(connection: Connection) -> None:
    """Hold off every other process's upgrade until ``connection``'s transaction ends.

    SQLite needs nothing more: the store's engine begins each transaction IMMEDIATE, which already takes the
    database's one write lock. PostgreSQL runs DDL in parallel sessions, so starters queue on a lock."""
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(_ADVISORY_LOCK)))


def upgrade_store(connection: Connection) -> None:
    """Bring the store on ``connection`` to the newest revision, inside the caller's locked transaction.

    A database with none of the store's tables is brand new: the tables are created from the models and the
    version stamped, the fast path Alembic documents ("Building an Up to Date Database from Scratch") —
    every test's store is new, and tests/store/test_migrations.py checks that revisions and models agree. A
    store made before Alembic (tables, no version table) starts at the base: revision 0001 fills in what
    it lacks."""
    present = set(inspect(connection).get_table_names())
    current = _recorded(connection) if VERSION_TABLE in present else ()
    if current == (HEAD,):
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    known = {script.revision for script in _scripts().walk_revisions()}
    for revision in current:
        if revision not in known:
            raise SchemaTooNew(
                f"the store {connection.engine.url.render_as_string(hide_password=True)} is at schema "
                f"revision {revision}, which this Garrison does not know (its newest is {head()}): "
                "run the Garrison that upgraded it, or a newer one"
            )
    if not current and present.isdisjoint(Base.metadata.tables):
        Base.metadata.create_all(connection, checkfirst=False)
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        context.stamp(_scripts(), "head")
        return
    command.upgrade(alembic_config(connection), "head")


def _recorded(connection: Connection) -> tuple[str, ...]:
    versions = select(column("version_num", String)).select_from(table(VERSION_TABLE))
    return tuple(connection.execute(versions).scalars())


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """Alembic's configuration for the store: on ``connection`` (in its transaction), or on ``url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    config.set_main_option("version_table", VERSION_TABLE)
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(SCRIPTS))  # reads the revision files once per process


def head() -> str:
    """The newest revision in versions/, as Alembic reads it (``HEAD`` must name it)."""
    heads = _scripts().get_heads()
    if len(heads) != 1:  # two revisions branched from one parent, not merged
        raise RuntimeError(f"{SCRIPTS / 'versions'} has {len(heads)} heads: {heads}")
    return heads[0]


def include_name(name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames) -> bool:
    """Autogenerate compares the store's tables only: the lab and plugins keep theirs in the same database."""
    return type_ != "table" or name in Base.metadata.tables
