"""Durability: SIGKILL the intake at random moments while a client posts 500 alerts and retries on
failure. Afterwards every alert that was acknowledged exists exactly once."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.settings import Settings
from flows.store import Store
from flows.store._schema import AlertRow

from .conftest import KEYS, key_headers

pytestmark = pytest.mark.slow
ALERTS = 500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alert(n: int) -> dict[str, object]:
    return {
        "class_uid": 2004,
        "metadata": {"product": {"name": "Crash EDR"}},
        "finding_info": {"uid": f"crash-{n}", "title": "Crash test", "analytic": {"uid": f"rule-{n % 7}"}},
        "device": {"hostname": f"WS-{n % 13}"},
    }


class Server:
    def __init__(self, settings: Settings, tmp: Path) -> None:
        self.port = _free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
        self.log = (tmp / "intake.log").open("ab")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "uvicorn", "flows.intake:app_from_env", "--factory"]
        self.process = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


def test_acknowledged_alerts_survive_sigkill_exactly_once(settings: Settings, tmp_path: Path) -> None:
    assert KEYS  # the tenants and their keys come from the intake conftest's environment
    server = Server(settings, tmp_path)
    url = f"http://127.0.0.1:{server.port}/v1/alerts"
    acknowledged: dict[str, str] = {}
    errors: list[str] = []
    done = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=5.0) as http:
            for n in range(ALERTS):
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        response = http.post(url, json=_alert(n), headers=key_headers())
                    except httpx.HTTPError:
                        time.sleep(0.05)
                        continue
                    if response.status_code in (200, 202):
                        acknowledged[f"crash-{n}"] = response.json()["alert_id"]
                        break
                    if response.status_code < 500:
                        errors.append(f"alert {n}: {response.status_code} {response.text}")
                        break
                    time.sleep(0.05)
        done.set()

    server.start()
    sender = threading.Thread(target=client, daemon=True)
    sender.start()
    chaos = random.Random(20261122)
    kills = 0
    try:
        while not done.wait(chaos.uniform(0.5, 2.0)) and kills < 12:
            server.kill()
            kills += 1
            server.start()
        assert done.wait(120), "the client did not finish"
    finally:
        server.kill()

    assert errors == []
    assert kills >= 3
    assert len(acknowledged) == ALERTS
    store = Store.open(settings.database_url)
    with Session(store.engine) as session:
        counts = dict(
            session.execute(select(AlertRow.source_uid, func.count()).group_by(AlertRow.source_uid))
            .tuples()
            .all()
        )
        ids = set(session.scalars(select(AlertRow.id)))
    assert counts == {uid: 1 for uid in acknowledged}
    assert set(acknowledged.values()) == ids  # the ids we were given are the ones stored
