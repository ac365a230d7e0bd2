"""Hostile bodies and headers: the intake reads no more than it must before knowing the sender, answers
every input error with a 4xx naming the field, keeps the good lines of a batch, and reads UTF-8 only.
(Issue 10, findings 5, 7 and 8.)"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.demo import mykings_alert
from flows.intake import create_app
from flows.settings import Settings
from flows.store import Store
from flows.store._schema import AlertRow, DeadLetterRow, EventRow, IncidentRow, SeenSignatureRow

from ._asgi import Stream, encoded, raw_request
from .conftest import RecordingDispatcher, key_headers, ndjson, signed_headers

NDJSON = "application/x-ndjson"
MIB = 1 << 20
POST_ROUTES = [
    ("/v1/alerts", "application/json"),
    ("/v1/alerts:batch", NDJSON),
    ("/v1/events", NDJSON),
    ("/v1/no-such-route", "application/json"),
]


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, dispatcher=RecordingDispatcher(), sweep=False)


def _rows(store: Store) -> dict[str, int]:
    tables = {
        "alerts": AlertRow,
        "incidents": IncidentRow,
        "events": EventRow,
        "dead_letters": DeadLetterRow,
        "signatures": SeenSignatureRow,
    }
    with Session(store.engine) as session:
        return {name: session.scalar(select(func.count()).select_from(t)) or 0 for name, t in tables.items()}


def _alert(uid: str, **changes: Any) -> dict[str, Any]:
    alert = mykings_alert()
    alert["finding_info"]["uid"] = uid
    alert.update(changes)
    return alert


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# -- finding 5: no body is read for a stranger, and no body past the limit ------------------------------


@pytest.mark.parametrize(("path", "content_type"), POST_ROUTES)
def test_a_stranger_s_large_body_is_not_read(
    app: FastAPI, store: Store, path: str, content_type: str
) -> None:
    body = Stream(64 * MIB)
    started = time.monotonic()

    response = raw_request(app, "POST", path, encoded({"Content-Type": content_type}), body)

    assert response.status_code == 401
    assert body.pulled == 0  # not a byte read before the 401
    assert time.monotonic() - started < 10
    assert _rows(store) == dict.fromkeys(_rows(store), 0)


@pytest.mark.parametrize(("path", "content_type"), POST_ROUTES[:3])
def test_a_chunked_body_is_read_no_further_than_the_limit(
    app: FastAPI, settings: Settings, path: str, content_type: str
) -> None:
    body = Stream(64 * MIB)
    limit = settings.max_alert_bytes if path == "/v1/alerts" else settings.max_batch_bytes

    response = raw_request(app, "POST", path, encoded(key_headers(content_type=content_type)), body)

    assert response.status_code == 413
    assert limit < body.pulled <= limit + body.chunk


@pytest.mark.parametrize(("path", "content_type"), POST_ROUTES[:3])
def test_a_declared_size_over_the_limit_is_refused_before_reading(
    app: FastAPI, path: str, content_type: str
) -> None:
    body = Stream(64 * MIB)
    # Signed: the signature needs the body, yet the size is known to be too much before any is read.
    headers = {**signed_headers(b"", content_type=content_type, target=path), "Content-Length": str(1 << 30)}

    response = raw_request(app, "POST", path, encoded(headers), body)

    assert response.status_code == 413
    assert body.pulled == 0


def test_an_unknown_route_reads_no_body_for_a_key_holder(app: FastAPI) -> None:
    body = Stream(64 * MIB)

    response = raw_request(app, "POST", "/v1/x/health", encoded(key_headers()), body)

    assert response.status_code == 404 and body.pulled == 0


# -- finding 7: every input error is a 4xx, and one bad line costs only itself ------------------------


@pytest.mark.parametrize("stamp", [b"\xb2", b"99999999999999999999", b"1" * 5000, b"-1", b" "])
def test_a_malformed_timestamp_is_a_401(app: FastAPI, store: Store, stamp: bytes) -> None:
    headers = encoded(signed_headers(b"{}"))
    headers = [(k, stamp if k == b"X-Garrison-Timestamp" else v) for k, v in headers]

    response = raw_request(app, "POST", "/v1/alerts", headers, b"{}")

    assert response.status_code == 401
    assert "X-Garrison-Timestamp" in response.json()["detail"]
    assert _rows(store)["dead_letters"] == 0


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (_deep(1000), "nested deeper"),
        (_deep(65), "nested deeper"),
        ('{"a": NaN}', "NaN"),
        ('{"a": 1e400}', "out of range"),
        ('{"a": ' + "9" * 5000 + "}", "too many digits"),
        ('{"a": "\\ud800"}', "half a character"),
    ],
)
def test_hostile_json_is_a_400_naming_the_body(
    client: TestClient, store: Store, body: str, names: str
) -> None:
    response = client.post("/v1/alerts", content=body.encode(), headers=key_headers())

    assert response.status_code == 400
    assert names in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "(body)"
    assert (_rows(store)["alerts"], _rows(store)["dead_letters"]) == (0, 1)


def test_a_time_past_year_9999_is_a_422_naming_time(client: TestClient, store: Store) -> None:
    response = client.post("/v1/alerts", json=_alert("far", time=10**15), headers=key_headers())

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "time"
    assert _rows(store)["alerts"] == 0


def test_a_batch_keeps_its_good_lines_whatever_the_bad_ones_hold(client: TestClient, store: Store) -> None:
    good = [_alert(f"good-{n}") for n in range(3)]
    bad = [
        json.dumps(_alert("late", time=10**15)).encode(),
        _deep(1000).encode(),
        json.dumps(_alert("ok-but-deep", unmapped=json.loads(_deep(70)))).encode(),
        b'{"class_uid": 2004, "x": NaN}',
        json.dumps({"x": "\ud800"}).encode(),
    ]
    lines = [json.dumps(good[0]).encode(), *bad[:3], json.dumps(good[1]).encode(), *bad[3:]]
    lines.append(json.dumps(good[2]).encode())
    body = b"\n".join(lines) + b"\n"

    response = client.post("/v1/alerts:batch", content=body, headers=key_headers(content_type=NDJSON))

    assert response.status_code == 200
    results = {r["line"]: r for r in response.json()["results"]}
    assert [n for n, r in sorted(results.items()) if r["status"] == "rejected"] == [2, 3, 4, 6, 7]
    assert results[2]["error"]["field"] == "time"
    assert all(results[n]["error"]["field"] == "(line)" for n in (3, 4, 6, 7))
    assert "nested deeper" in results[3]["error"]["message"]
    assert _rows(store)["alerts"] == 3
    assert _rows(store)["dead_letters"] == 5


def test_events_keep_their_good_lines_whatever_the_bad_ones_hold(client: TestClient, store: Store) -> None:
    good = {"class_uid": 4001, "time": 1_700_000_000_000, "dst_endpoint": {"ip": "203.0.113.9"}}
    body = b"\n".join(
        [
            json.dumps(good).encode(),
            json.dumps({**good, "x": json.loads(_deep(70))}).encode(),
            json.dumps({**good, "time": 10**15}).encode(),
            b'{"class_uid": 4001, "time": 1, "device": {"hostname": "\\ud800"}}',
            json.dumps(good).encode(),
        ]
    )

    response = client.post("/v1/events", content=body, headers=key_headers(content_type=NDJSON))

    assert response.status_code == 200
    assert response.json()["stored"] == 2
    assert [(r["line"], r["error"]["field"]) for r in response.json()["rejected"]] == [
        (2, "(line)"),
        (3, "time"),
        (4, "(line)"),
    ]
    assert _rows(store)["events"] == 2


def test_a_line_that_fails_to_store_costs_only_itself(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever slips past validation and breaks the store's insert must not sink the rest of the batch.
    from flows.store import _ingest

    real = _ingest._alert_time

    def fragile(alert: Any) -> Any:
        if alert.source_uid == "poison":
            raise OverflowError("date value out of range")
        return real(alert)

    monkeypatch.setattr(_ingest, "_alert_time", fragile)
    body = ndjson([_alert("one"), _alert("poison"), _alert("two")])

    response = client.post("/v1/alerts:batch", content=body, headers=key_headers(content_type=NDJSON))

    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]][1] == "rejected"
    assert _rows(store)["alerts"] == 2


def test_an_event_line_that_fails_to_store_costs_only_itself(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.intake import _service

    real = _service.event_row

    def fragile(document: Any, tenant: str) -> dict[str, Any]:
        row = real(document, tenant)
        if document.get("poison"):
            row["hostname"] = "\ud800"  # no database takes half a character
        return row

    monkeypatch.setattr(_service, "event_row", fragile)
    event = {"class_uid": 4001, "time": 1_700_000_000_000}
    body = ndjson([event, {**event, "poison": True}, event])
    headers = signed_headers(body, content_type=NDJSON, target="/v1/events")

    response = client.post("/v1/events", content=body, headers=headers)
    replay = client.post("/v1/events", content=body, headers=headers)

    assert response.status_code == 200
    assert response.json()["stored"] == 2
    assert [r["line"] for r in response.json()["rejected"]] == [2]
    assert replay.status_code == 401  # the signature went with the first line stored
    assert _rows(store)["events"] == 2


# -- finding 8: UTF-8 only, and no API map for strangers -----------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "names"),
    [("utf-16", "UTF-16"), ("utf-32", "UTF-32"), ("utf-8-sig", "UTF-8"), ("utf-16-le", "NUL")],
)
def test_only_utf8_is_read(client: TestClient, store: Store, encoding: str, names: str) -> None:
    body = json.dumps(_alert("wide")).encode(encoding)

    single = client.post("/v1/alerts", content=body, headers=key_headers())
    batch = client.post("/v1/alerts:batch", content=body + b"\n", headers=key_headers(content_type=NDJSON))

    assert single.status_code == 400 and names in single.json()["detail"]
    assert "UTF-8" in single.json()["detail"]
    assert batch.status_code == 422 and batch.json()["results"][0]["status"] == "rejected"
    assert _rows(store)["alerts"] == 0


def test_a_charset_other_than_utf8_is_a_415(client: TestClient, store: Store) -> None:
    headers = {**key_headers(), "Content-Type": "application/json; charset=utf-16"}

    response = client.post("/v1/alerts", content=json.dumps(_alert("x")).encode("utf-16"), headers=headers)

    assert response.status_code == 415 and "charset" in response.json()["detail"]
    ok = {**key_headers(), "Content-Type": 'application/json; charset="UTF-8"'}
    assert client.post("/v1/alerts", json=_alert("y"), headers=ok).status_code == 202


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_api_docs_are_not_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_api_docs_are_served_only_when_enabled_for_development(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GARRISON_API_DOCS", "1")
    client = TestClient(create_app(settings, dispatcher=RecordingDispatcher(), sweep=False))

    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
