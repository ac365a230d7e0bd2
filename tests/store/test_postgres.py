"""The store on PostgreSQL (``GARRISON_DATABASE_URL``), against a throwaway server started here.

Skipped where no PostgreSQL server binaries are installed; CI's machine has them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from actions import ActionContext, registry
from actions.lab import LabFleet
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.models import Alert, Reason, Verdict, VerdictLabel
from flows.store import ActionStatusValue, IncidentStatus, Store


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries are not installed")
    pytest.importorskip("psycopg")
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="garrison-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if as_user:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "garrison", "-E", "UTF8"], **run)
    options = f"-p {port} -k {sockets} -c listen_addresses='' -c fsync=off"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(base / "log"), "start"], **run
    )
    try:
        import psycopg

        with psycopg.connect(
            host=str(sockets), port=port, user="garrison", dbname="postgres", autocommit=True
        ) as c:
            c.execute("CREATE DATABASE garrison")
        yield f"postgresql+psycopg://garrison@/garrison?host={sockets}&port={port}"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(postgres_url: str, prefix: str) -> str:
    """A new, empty database on the server of ``postgres_url``: for tests that need a store of their own
    (the module's database is shared by its tests)."""
    import psycopg

    url = make_url(postgres_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    host, port = str(url.query["host"]), int(str(url.query["port"]))
    admin = psycopg.connect(host=host, port=port, user=url.username, dbname="postgres", autocommit=True)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def test_an_incident_lives_its_whole_life_on_postgres(postgres_url: str) -> None:
    store = Store.open(postgres_url)
    document = mykings_alert()
    receipt = store.record_alert(Alert.model_validate(document), document)
    again = store.record_alert(Alert.model_validate(document), document)

    assert again.duplicate and again.incident_id == receipt.incident_id
    assert store.claim(receipt.incident_id, "run-1") and not store.claim(receipt.incident_id, "run-2")
    store.set_verdict(
        receipt.incident_id,
        Verdict(
            verdict=VerdictLabel.MALICIOUS, score=90, reasons=[Reason(question="q", finding="f", effect=90)]
        ),
    )
    first = store.ledger.claim(
        tenant="demo",
        incident_id=receipt.incident_id,
        action="lab.isolate_host",
        target=DEMO_HOST,
        inputs={"hostname": DEMO_HOST},
        inverse="lab.release_host",
        owner="test",
        lease_seconds=60,
    )
    second = store.ledger.claim(
        tenant="demo",
        incident_id=receipt.incident_id,
        action="lab.isolate_host",
        target=DEMO_HOST,
        inputs={"hostname": DEMO_HOST},
        inverse="lab.release_host",
        owner="test",
        lease_seconds=60,
    )
    assert first.created and not second.created and first.id == second.id
    store.ledger.finish(first.id, "test", status=ActionStatusValue.SUCCEEDED, detail="host isolated")
    store.set_status(receipt.incident_id, IncidentStatus.CLOSED, "done", "close")

    incident = store.incident(receipt.incident_id)
    assert incident is not None and incident.status == "closed" and incident.closed_at is not None
    assert incident.closed_at.tzinfo is not None
    assert [a.status for a in incident.actions] == ["succeeded"]
    assert {i.value for i in incident.indicators} >= {"js.mykings.top"}
    assert store.verify_audit() is None


def test_lab_actions_change_rows_on_postgres(postgres_url: str) -> None:
    store = Store.open(postgres_url)
    fleet = LabFleet(store.engine)
    fleet.seed(mykings_host())
    ctx = ActionContext(tenant="demo", incident_id="pg", db=store.engine)

    isolated = asyncio.run(registry.get("lab.isolate_host").run({"hostname": DEMO_HOST}, ctx))

    assert isolated.ok and fleet.show("demo", DEMO_HOST)[0]["isolated"] is True
