"""Durability under group commit: 16 senders post at once (their alerts share commits) while the intake is
SIGKILLed at random moments; each retries what was not acknowledged. Afterwards every acknowledged alert
exists exactly once, with the id it was given."""

from __future__ import annotations

import random
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

from .conftest import key_headers
from .test_crash import Server, _alert

pytestmark = pytest.mark.slow
SENDERS = 16
EACH = 40


def test_alerts_acknowledged_by_shared_commits_survive_sigkill_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    server = Server(settings, tmp_path)
    url = f"http://127.0.0.1:{server.port}/v1/alerts"
    acknowledged: dict[str, str] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def sender(first: int) -> None:
        with httpx.Client(timeout=5.0) as http:
            for n in range(first, first + EACH):
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    try:
                        response = http.post(url, json=_alert(n), headers=key_headers())
                    except httpx.HTTPError:
                        time.sleep(0.05)
                        continue
                    if response.status_code in (200, 202):
                        with lock:
                            acknowledged[f"crash-{n}"] = response.json()["alert_id"]
                        break
                    if response.status_code < 500:
                        with lock:
                            errors.append(f"alert {n}: {response.status_code} {response.text}")
                        break
                    time.sleep(0.05)

    server.start()
    senders = [threading.Thread(target=sender, args=(k * EACH,), daemon=True) for k in range(SENDERS)]
    for thread in senders:
        thread.start()
    chaos = random.Random(20261126)
    kills = 0
    try:
        while any(t.is_alive() for t in senders) and kills < 10:
            time.sleep(chaos.uniform(0.5, 1.5))
            server.kill()
            kills += 1
            server.start()
        for thread in senders:
            thread.join(180)
        assert not any(t.is_alive() for t in senders), "the senders did not finish"
    finally:
        server.kill()

    assert errors == []
    assert kills >= 3
    assert len(acknowledged) == SENDERS * EACH
    store = Store.open(settings.database_url)
    with Session(store.engine) as session:
        counts = dict(
            session.execute(select(AlertRow.source_uid, func.count()).group_by(AlertRow.source_uid))
            .tuples()
            .all()
        )
        ids = set(session.scalars(select(AlertRow.id)))
    assert counts == {uid: 1 for uid in acknowledged}
    assert set(acknowledged.values()) == ids  # the ids the senders were given are the ones stored
