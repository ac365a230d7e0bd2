"""PostgreSQL mode: one URL for Garrison's store and Prefect's server, checked before anything starts.

``garrison up --postgres postgresql://user:password@host:5432/garrison`` gives both the same database:

- Garrison's store: ``GARRISON_DATABASE_URL=postgresql+psycopg://…`` (tables in ``public``, as a store
  configured by hand with ``GARRISON_DATABASE_URL`` always had them);
- Prefect's server: ``PREFECT_SERVER_DATABASE_CONNECTION_URL`` (and its older name
  ``PREFECT_API_DATABASE_CONNECTION_URL``) ``=postgresql+asyncpg://…``, its tables in the schema
  ``prefect`` (``PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_SEARCH_PATH=prefect, public``).

Why two schemas: both sides have a table named ``events`` (Prefect's event store, Garrison's normalised
events) and both keep their migrations with Alembic, whose ``alembic_version`` table would then say two
things at once. Prefect's documented ``search_path`` setting keeps its 36 tables, and the ``pg_trgm``
extension its migrations create, out of Garrison's way. The same is done when the two URLs are set by
hand and name the same database without a search path of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

PREFECT_SCHEMA = "prefect"
SEARCH_PATH_ENV = "PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_SEARCH_PATH"
STORE_URL_ENV = "GARRISON_DATABASE_URL"
# Prefect reads the first one set: PREFECT_SERVER_… is the current name, PREFECT_API_… the older one.
PREFECT_URL_ENVS = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
CONNECT_TIMEOUT_SECONDS = 5
_SCHEMES = ("postgresql", "postgres")
_DRIVERS = {"": "", "psycopg": "psycopg", "asyncpg": "asyncpg"}
_INSTALL = "pip install 'garrison[postgres]'"


class DatabaseError(Exception):
    """A database Garrison or Prefect is configured with cannot be used; the message names which and why."""


def postgres_env(url: str) -> dict[str, str]:
    """The settings ``--postgres URL`` stands for: the store's and Prefect's URL, each with its driver.

    >>> postgres_env("postgresql://g:pw@db.example:5432/garrison")["GARRISON_DATABASE_URL"]
    'postgresql+psycopg://g:pw@db.example:5432/garrison'
    """
    parsed = _parse(url, "--postgres")
    prefect = _render(parsed.set(drivername="postgresql+asyncpg"))
    return {
        STORE_URL_ENV: _render(parsed.set(drivername="postgresql+psycopg")),
        **{name: prefect for name in PREFECT_URL_ENVS},
    }


def prefect_url(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The setting and database URL Prefect's server will use (None: its SQLite under PREFECT_HOME)."""
    return next(((n, environ[n].strip()) for n in PREFECT_URL_ENVS if environ.get(n, "").strip()), None)


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).split(":", 1)[0].split("+", 1)[0] in _SCHEMES


@dataclass(frozen=True)
class DatabasePlan:
    """What ``garrison up`` checked and the environment its children need for it."""

    env: dict[str, str]
    describe: str  # one line for the console: where each side keeps its tables


def prepare_databases(environ: Mapping[str, str]) -> DatabasePlan:
    """Check that PostgreSQL databases configured in ``environ`` answer with their drivers installed,
    give Prefect its own schema when it shares Garrison's database, and create that schema.

    Raises :class:`DatabaseError` with one line naming the setting, the server and the reason."""
    store_url = environ.get(STORE_URL_ENV, "").strip() or None
    server_setting, server_url = prefect_url(environ) or (PREFECT_URL_ENVS[0], None)
    env: dict[str, str] = {}
    parts = []
    if is_postgres(store_url):
        assert store_url is not None
        check_store(store_url)
        parts.append(f"store on {_where(make_url(store_url))}")
    if is_postgres(server_url):
        assert server_url is not None
        parsed = _parse(server_url, server_setting)
        search_path = environ.get(SEARCH_PATH_ENV, "").strip()
        if not search_path and store_url and _same_database(parsed, store_url):
            search_path = env[SEARCH_PATH_ENV] = f"{PREFECT_SCHEMA}, public"
        schema = search_path.split(",", 1)[0].strip() if search_path else None
        asyncio.run(_check_prefect(server_setting, server_url, schema))
        parts.append(f"Prefect on {_where(parsed)}" + (f" (schema {schema})" if schema else ""))
    return DatabasePlan(env=env, describe="; ".join(parts))


def check_store(url: str) -> None:
    """Connect to the store's PostgreSQL once (``GARRISON_DATABASE_URL``); DatabaseError if it cannot."""
    parsed = _parse(url, STORE_URL_ENV)
    try:
        engine = create_engine(parsed, connect_args=_timeout(parsed, "connect_timeout"))
    except (NoSuchModuleError, ImportError) as missing:
        raise DatabaseError(
            f"{STORE_URL_ENV}: the driver for {parsed.drivername} is not installed ({_first_line(missing)}); "
            f"{_INSTALL}"
        ) from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        raise DatabaseError(
            f"{STORE_URL_ENV}: cannot reach PostgreSQL at {_where(parsed)}: {_reason(error)}"
        ) from None
    finally:
        engine.dispose()


async def _check_prefect(name: str, url: str, schema: str | None) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    if parsed.drivername != "postgresql+asyncpg":
        raise DatabaseError(
            f"{name}: Prefect's server needs postgresql+asyncpg://, not {parsed.drivername}://"
        )
    try:
        engine = create_async_engine(parsed, connect_args=_timeout(parsed, "timeout"))
    except (NoSuchModuleError, ImportError) as missing:
        raise DatabaseError(f"{name}: asyncpg is not installed ({_first_line(missing)})") from None
    try:
        async with engine.begin() as connection:
            if schema and schema != "public":
                # Prefect creates its tables but not the schema the search path names.
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{_identifier(schema)}"'))
            trgm = await connection.scalar(
                text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")
            )
    except Exception as error:  # noqa: BLE001 - at connect asyncpg raises its own, socket and timeout errors
        raise DatabaseError(
            f"{name}: cannot reach PostgreSQL at {_where(parsed)}: {_reason(error)}"
        ) from None
    finally:
        await engine.dispose()
    if not trgm:
        raise DatabaseError(
            f"{name}: PostgreSQL at {_where(parsed)} lacks the pg_trgm extension Prefect's migrations "
            "create (Debian: postgresql-contrib)"
        )


def _parse(url: str, setting: str) -> URL:
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise DatabaseError(
            f"{setting}: not a database URL (expected postgresql://user@host:port/db)"
        ) from None
    scheme, _, driver = parsed.drivername.partition("+")
    if scheme not in _SCHEMES or driver not in _DRIVERS:
        raise DatabaseError(
            f"{setting}: expected a postgresql:// URL (driver psycopg or asyncpg), not {parsed.drivername}://"
        )
    if not parsed.database:
        raise DatabaseError(f"{setting}: the URL names no database (…/<database> at its end)")
    return parsed.set(drivername=f"postgresql+{driver}" if driver else "postgresql")


def _same_database(prefect: URL, store_url: str) -> bool:
    try:
        store = make_url(store_url)
    except ArgumentError:
        return False
    key = ("host", "port", "database")
    return all(getattr(prefect, k) == getattr(store, k) for k in key) and (
        prefect.query.get("host") == store.query.get("host")
    )


def _timeout(url: URL, name: str) -> dict[str, int]:
    # A firewall that drops packets would otherwise hold `garrison up` for the system's TCP timeout.
    return {} if name in url.query else {name: CONNECT_TIMEOUT_SECONDS}


def _where(url: URL) -> str:
    host = url.host or url.query.get("host") or "local socket"
    return f"{host}:{url.port or 5432}/{url.database}"


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise DatabaseError(f"{SEARCH_PATH_ENV}: {name!r} is not a plain schema name")
    return name


def _reason(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    return _first_line(cause) if str(cause).strip() else type(cause).__name__


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(error).__name__
