"""A throwaway PostgreSQL server on a free loopback port, and MyKings-like incidents one per host.

The server is Debian's binaries (``/usr/lib/postgresql/<version>/bin``: initdb, pg_ctl) on a data folder
of its own, started and stopped here; as root it runs as the ``postgres`` user (PostgreSQL refuses root).
Copied from ``tests/store/test_postgres.py``, listening on TCP instead of a socket folder: Prefect's
server, runners on "other machines" and the store all reach it as they would over a network.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from actions.lab import HostSeed, LabFleet
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.store import Store


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


# -- incidents, one per host ---------------------------------------------------------------------------


def host_name(n: int) -> str:
    return f"WS-SCALE-{n:04d}"


def _c2(n: int) -> str:
    return f"c{n:04d}.scale.mykings.top"


def _rename(text: str, n: int) -> str:
    text = text.replace(DEMO_HOST, host_name(n)).replace(DEMO_HOST.lower(), host_name(n).lower())
    return text.replace("js.mykings.top", _c2(n)).replace("js[.]mykings[.]top", _c2(n).replace(".", "[.]"))


def alert_for(n: int, run: str) -> dict[str, Any]:
    """The MyKings alert on host ``n``, with its own C2 and ids: nothing groups it with another host's."""
    document: dict[str, Any] = json.loads(_rename(json.dumps(mykings_alert()), n))
    document["finding_info"]["uid"] = f"scale-{run}-{n}"
    document["metadata"]["uid"] = f"scale-{run}-{n}"
    return document


def seed_hosts(store: Store, hosts: range) -> None:
    """The lab holds each host as the MyKings host, so every containment action has a target."""
    fleet = LabFleet(store.engine)
    template = mykings_host().model_dump_json()
    for n in hosts:
        fleet.seed(HostSeed.model_validate_json(_rename(template, n)))


def write_feed(path: Path, hosts: range) -> Path:
    """An intel feed naming each host's C2 malicious, as the default feed names the demo's."""
    lines = ["type,value,verdict,reason,first_seen,source,last_seen"]
    for n in hosts:
        seen = "2017-03-01,garrison-tests,2026-11-01"
        lines += [
            f"domain,{_c2(n)},malicious,test MyKings C2,{seen}",
            f"url,hxxp://{_c2(n).replace('.', '[.]')}:280/v[.]sct,malicious,test scriptlet,{seen}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
