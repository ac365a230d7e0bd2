"""Group commit: single alerts posted at once share a transaction, and "2xx means committed" still holds.

The requests go to the real app through httpx's ASGI transport, all at once (each is stored from a thread
of its own, as under uvicorn). To make a group form whatever the machine's speed, the first commit waits
until the others have queued behind it; they are then one group, committed together.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from flows.intake import create_app
from flows.settings import Settings
from flows.store import Store
from flows.store._group import group_commit

from .conftest import RecordingDispatcher, key_headers, signed_headers

CLIENTS = 12


def _alert(uid: str, host: str | None = None) -> dict[str, Any]:
    return {
        "class_uid": 2004,
        "severity_id": 3,
        "metadata": {"product": {"name": "Group EDR"}},
        "finding_info": {"uid": uid, "title": "Group commit test", "analytic": {"uid": "rule-g"}},
        "device": {"hostname": host or f"WS-{uid}"},
    }


class Commits:
    """Watches the engine's commits: holds the first until ``hold_for`` requests queue behind it, and
    fails the commits whose number (1-based) is in ``fail``."""

    def __init__(self, engine: Engine, hold_for: int, fail: frozenset[int] = frozenset()) -> None:
        self.engine, self.hold_for, self.fail = engine, hold_for, fail
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, conn: Connection) -> None:
        with self.lock:
            self.count += 1
            number = self.count
        if number == 1:
            deadline = time.monotonic() + 20
            while group_commit(self.engine).waiting() < self.hold_for and time.monotonic() < deadline:
                time.sleep(0.005)
        if number in self.fail:
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = Store.open(settings.database_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def watch(store: Store) -> Iterator[Callable[..., Commits]]:
    made: list[Commits] = []

    def install(hold_for: int, fail: frozenset[int] = frozenset()) -> Commits:
        commits = Commits(store.engine, hold_for, fail)
        event.listen(store.engine, "commit", commits)
        made.append(commits)
        return commits

    yield install
    for commits in made:
        event.remove(store.engine, "commit", commits)


def _stored(settings: Settings, alert_id: str) -> bool:
    # A connection of its own sees only what was committed.
    database = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT 1 FROM alerts WHERE id = ?", (alert_id,)).fetchone() is not None


def _source_uids(settings: Settings) -> list[str]:
    database = settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT source_uid FROM alerts")]


def _post_all(
    settings: Settings,
    dispatcher: RecordingDispatcher,
    bodies: list[bytes],
    headers: Callable[[bytes], dict[str, str]] = lambda _: key_headers(),
    stagger: float = 0.05,
) -> list[tuple[httpx.Response, bool]]:
    """Post every body at once; each answer with whether its alert was readable the moment it came.
    The first goes alone (it leads); the rest follow ``stagger`` seconds later, while it commits."""
    app = create_app(settings, dispatcher=dispatcher, sweep=False)

    async def one(client: httpx.AsyncClient, body: bytes, delay: float) -> tuple[httpx.Response, bool]:
        await asyncio.sleep(delay)
        response = await client.post("/v1/alerts", content=body, headers=headers(body))
        alert_id = response.json().get("alert_id") if response.status_code < 300 else None
        readable = bool(alert_id) and await asyncio.to_thread(_stored, settings, str(alert_id))
        return response, readable

    async def everyone() -> list[tuple[httpx.Response, bool]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            delays = [0.0] + [stagger] * (len(bodies) - 1)
            return list(
                await asyncio.gather(*(one(client, b, d) for b, d in zip(bodies, delays, strict=True)))
            )

    return asyncio.run(everyone())


def test_alerts_posted_at_once_share_one_commit_and_each_is_committed_when_answered(
    settings: Settings, dispatcher: RecordingDispatcher, watch: Callable[..., Commits]
) -> None:
    commits = watch(hold_for=CLIENTS - 1)
    bodies = [json.dumps(_alert(f"g-{n}")).encode() for n in range(CLIENTS)]

    answers = _post_all(settings, dispatcher, bodies)

    assert [response.status_code for response, _ in answers] == [202] * CLIENTS
    assert all(readable for _, readable in answers)  # committed before it was answered
    assert commits.count == 2  # the first alone, the eleven that queued behind it together
    assert sorted(_source_uids(settings)) == sorted(f"g-{n}" for n in range(CLIENTS))
    incidents = {response.json()["incident_id"] for response, _ in answers}
    assert len(incidents) == CLIENTS and set(dispatcher.dispatched) == incidents


def test_alerts_of_one_host_posted_at_once_group_as_they_would_one_after_the_other(
    settings: Settings, dispatcher: RecordingDispatcher, watch: Callable[..., Commits]
) -> None:
    watch(hold_for=CLIENTS - 1)
    bodies = [json.dumps(_alert(f"s-{n}", host="WS-SAME")).encode() for n in range(CLIENTS)]
    bodies.append(bodies[-1])  # a sensor's retry while its first try is still in flight

    answers = _post_all(settings, dispatcher, bodies)

    statuses = [response.status_code for response, _ in answers]
    assert statuses.count(202) == CLIENTS and statuses.count(200) == 1  # the retry: a duplicate
    assert len({response.json()["incident_id"] for response, _ in answers}) == 1
    assert sorted(_source_uids(settings)) == sorted(f"s-{n}" for n in range(CLIENTS))  # none twice
    [incident] = Store.open(settings.database_url).incidents()
    assert incident.alert_count == CLIENTS


def test_a_failed_commit_fails_its_group_only_and_loses_nothing_committed(
    settings: Settings, dispatcher: RecordingDispatcher, watch: Callable[..., Commits]
) -> None:
    watch(hold_for=CLIENTS - 1, fail=frozenset({2}))  # the group that queued behind the first
    bodies = [json.dumps(_alert(f"f-{n}")).encode() for n in range(CLIENTS)]

    answers = _post_all(settings, dispatcher, bodies)

    first, *group = answers
    assert first[0].status_code == 202 and first[1]
    assert {response.status_code for response, _ in group} == {503}
    detail = group[0][0].json()["detail"]
    assert "could not commit" in detail and "OperationalError" in detail and "send it again" in detail
    assert group[0][0].headers["retry-after"] == "1"
    assert _source_uids(settings) == ["f-0"]  # the group left nothing; the first stayed

    retried = _post_all(settings, dispatcher, bodies[1:])

    assert [response.status_code for response, _ in retried] == [202] * (CLIENTS - 1)
    assert sorted(_source_uids(settings)) == sorted(f"f-{n}" for n in range(CLIENTS))


def test_an_alert_the_store_refuses_costs_its_own_request_only(
    settings: Settings,
    dispatcher: RecordingDispatcher,
    watch: Callable[..., Commits],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.store import _ingest

    real = _ingest._alert_time

    def fragile(alert: Any) -> Any:
        if alert.source_uid == "poison":
            raise OverflowError("date value out of range")
        return real(alert)

    monkeypatch.setattr(_ingest, "_alert_time", fragile)
    watch(hold_for=CLIENTS - 1)
    uids = [f"p-{n}" for n in range(CLIENTS)]
    uids[5] = "poison"

    answers = _post_all(settings, dispatcher, [json.dumps(_alert(uid)).encode() for uid in uids])

    statuses = [response.status_code for response, _ in answers]
    assert statuses[5] == 422 and "could not be stored" in answers[5][0].json()["detail"]
    assert statuses[:5] + statuses[6:] == [202] * (CLIENTS - 1)
    assert all(readable for n, (_, readable) in enumerate(answers) if n != 5)
    assert sorted(_source_uids(settings)) == sorted(uid for uid in uids if uid != "poison")


def test_a_replayed_signature_in_a_group_is_refused_alone(
    settings: Settings, dispatcher: RecordingDispatcher, watch: Callable[..., Commits]
) -> None:
    watch(hold_for=CLIENTS - 1)
    bodies = [json.dumps(_alert(f"r-{n}")).encode() for n in range(CLIENTS - 1)]
    bodies.append(bodies[-1])  # the same signed request twice, both queued in one group
    stamp = int(time.time())

    answers = _post_all(settings, dispatcher, bodies, headers=lambda body: signed_headers(body, at=stamp))

    statuses = [response.status_code for response, _ in answers]
    assert sorted(statuses[-2:]) == [202, 401]
    assert statuses[:-2] == [202] * (CLIENTS - 2)
    assert sorted(_source_uids(settings)) == sorted(f"r-{n}" for n in range(CLIENTS - 1))


def test_a_lone_alert_commits_at_once_without_waiting_for_company(
    settings: Settings, dispatcher: RecordingDispatcher, tmp_path: Path
) -> None:
    bodies = [json.dumps(_alert("alone")).encode()]
    started = time.perf_counter()

    [(response, readable)] = _post_all(settings, dispatcher, bodies)

    assert response.status_code == 202 and readable
    assert time.perf_counter() - started < 5  # no timer holds a lone writer back
