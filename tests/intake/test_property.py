"""Whatever arrives, the intake answers 2xx having stored the alert exactly once, or 4xx having stored
nothing; it never answers 5xx."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.demo import mykings_alert
from flows.intake import create_app
from flows.settings import Settings
from flows.store import Store
from flows.store._schema import AlertRow

from .conftest import RecordingDispatcher, key_headers

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=5)
    ),
    max_leaves=25,
)
FIELDS = [
    "class_uid",
    "severity_id",
    "time",
    "metadata",
    "finding_info",
    "device",
    "evidences",
    "observables",
]


@st.composite
def mutated_alerts(draw: st.DrawFn) -> dict[str, Any]:
    """A real alert with some fields replaced by arbitrary JSON: near misses find more bugs than noise."""
    alert = mykings_alert()
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        alert[field] = draw(JSON)
    alert["finding_info"] = alert.get("finding_info")
    if isinstance(alert["finding_info"], dict):
        alert["finding_info"]["uid"] = draw(st.text(min_size=1, max_size=20))
    return alert


def _stored(store: Store, uid: str | None = None) -> int:
    with Session(store.engine) as session:
        query = select(func.count()).select_from(AlertRow)
        return session.scalar(query if uid is None else query.where(AlertRow.source_uid == uid)) or 0


def _check(client: TestClient, store: Store, body: bytes) -> None:
    before = _stored(store)
    response = client.post("/v1/alerts", content=body, headers=key_headers())
    after = _stored(store)
    assert response.status_code < 500, response.text
    if response.status_code in (200, 202):
        assert after == before + (1 if response.status_code == 202 else 0)
        alert_id = response.json()["alert_id"]
        with Session(store.engine) as session:
            assert (
                session.scalar(select(func.count()).select_from(AlertRow).where(AlertRow.id == alert_id)) == 1
            )
    else:
        assert 400 <= response.status_code < 500 and after == before
        assert response.json()["detail"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=JSON | mutated_alerts())
def test_any_json_is_stored_once_or_refused(settings: Settings, document: Any) -> None:
    store = Store.open(settings.database_url)
    client = TestClient(create_app(settings, dispatcher=RecordingDispatcher(), sweep=False))

    _check(client, store, json.dumps(document).encode())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300))
def test_any_bytes_are_stored_once_or_refused(settings: Settings, body: bytes) -> None:
    store = Store.open(settings.database_url)
    client = TestClient(create_app(settings, dispatcher=RecordingDispatcher(), sweep=False))

    _check(client, store, body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=mutated_alerts())
def test_sending_twice_stores_once(settings: Settings, document: dict[str, Any]) -> None:
    client = TestClient(create_app(settings, dispatcher=RecordingDispatcher(), sweep=False))
    body = json.dumps(document).encode()

    first = client.post("/v1/alerts", content=body, headers=key_headers())
    second = client.post("/v1/alerts", content=body, headers=key_headers())

    assert first.status_code < 500 and second.status_code < 500
    if first.status_code == 202:
        assert second.status_code == 200 and second.json()["alert_id"] == first.json()["alert_id"]
    else:
        assert second.status_code == first.status_code
