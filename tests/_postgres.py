"""A throwaway PostgreSQL server for tests, on a free loopback port, and new databases on it.

Debian's binaries (``/usr/lib/postgresql/<version>/bin``: initdb, pg_ctl; ``.ci/run`` installs them) on a data
folder of its own, started and stopped by the test; as root the server runs as the ``postgres`` user
(PostgreSQL refuses root). It listens on TCP: Prefect's server, runners on "other machines" and the store all
reach it as they would over a network. ``tests/conftest.py`` makes it the ``postgres_url`` fixture.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url


def postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def missing_postgres() -> str | None:
    """Why no throwaway server can start here (None: it can)."""
    if not postgres_bin("initdb") or not postgres_bin("pg_ctl"):
        return "PostgreSQL server binaries are not installed (Debian: apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'garrison[postgres]')"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser (PostgreSQL refuses to run as root)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_postgres(database: str = "garrison") -> Iterator[str]:
    """Yield ``postgresql://garrison@127.0.0.1:<port>/<database>`` (trust auth, loopback only)."""
    reason = missing_postgres()
    if reason:
        raise RuntimeError(reason)
    initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
    assert initdb and pg_ctl
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="garrison-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if as_user:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    run: dict[str, Any] = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "garrison", "-E", "UTF8"], **run)
    # fsync off: a test database; max_connections: Prefect's pool, two runners' and the intake's.
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(base / "log"), "start"], **run
    )
    try:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=port, user="garrison", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{database}"')
        yield f"postgresql://garrison@127.0.0.1:{port}/{database}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url) as connection:
        return list(connection.execute(sql).fetchall())


def fresh_database(postgres_url: str, prefix: str) -> str:
    """A new, empty database on the server of ``postgres_url``: for tests that need a store of their own
    (the module's database is shared by its tests)."""
    import psycopg

    url = make_url(postgres_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)
