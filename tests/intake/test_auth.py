"""Who may write: a tenant's key or signature, for its own data only. Refused requests store nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.demo import mykings_alert
from flows.store import Store
from flows.store._schema import AlertRow, DeadLetterRow, EventRow

from .conftest import HMAC_SECRETS, KEYS, key_headers, signed_headers

BODY = json.dumps(mykings_alert()).encode()


def _stored(store: Store) -> tuple[int, int, int]:
    with Session(store.engine) as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (AlertRow, EventRow, DeadLetterRow)
        )


def test_a_signed_request_is_accepted(client: TestClient, store: Store) -> None:
    response = client.post("/v1/alerts", content=BODY, headers=signed_headers(BODY))

    assert response.status_code == 202
    assert _stored(store) == (1, 0, 0)


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda: {"Content-Type": "application/json"}, id="no-credentials"),
        pytest.param(
            lambda: {"Content-Type": "application/json", "X-Garrison-Tenant": "demo"}, id="tenant-only"
        ),
        pytest.param(lambda: {**key_headers(), "Authorization": "Bearer "}, id="empty-key"),
        pytest.param(lambda: {**key_headers(), "Authorization": "Bearer wrong"}, id="wrong-key"),
        pytest.param(lambda: {**key_headers(), "Authorization": f"Basic {KEYS['demo']}"}, id="wrong-scheme"),
        pytest.param(lambda: {**key_headers(), "X-Garrison-Tenant": "nobody"}, id="unknown-tenant"),
        pytest.param(lambda: {**key_headers(), "X-Garrison-Tenant": ""}, id="empty-tenant"),
        pytest.param(lambda: {**key_headers("acme"), "X-Garrison-Tenant": "demo"}, id="another-tenants-key"),
        pytest.param(
            lambda: {**signed_headers(BODY), "X-Garrison-Signature": "sha256=" + "0" * 64}, id="bad-hmac"
        ),
        pytest.param(lambda: signed_headers(b"{}"), id="signature-of-another-body"),
        pytest.param(lambda: signed_headers(BODY, at=int(time.time()) - 301), id="stale"),
        pytest.param(lambda: signed_headers(BODY, at=int(time.time()) + 301), id="from-the-future"),
        pytest.param(
            lambda: {**signed_headers(BODY), "X-Garrison-Timestamp": "yesterday"}, id="bad-timestamp"
        ),
        pytest.param(
            lambda: {**signed_headers(BODY, tenant="acme"), "X-Garrison-Tenant": "demo"},
            id="wrong-tenant-hmac",
        ),
    ],
)
def test_unauthenticated_requests_are_refused_and_nothing_is_stored(
    client: TestClient, store: Store, make_headers: Callable[[], dict[str, str]]
) -> None:
    # Headers are made when the test runs: a timestamp made at collection would age with the suite.
    response = client.post("/v1/alerts", content=BODY, headers=make_headers())

    assert response.status_code == 401
    assert _stored(store) == (0, 0, 0)  # not even a dead letter: strangers do not fill our tables


def test_a_replayed_signed_request_is_refused(client: TestClient, store: Store) -> None:
    headers = signed_headers(BODY)
    first = client.post("/v1/alerts", content=BODY, headers=headers)

    replay = client.post("/v1/alerts", content=BODY, headers=headers)

    assert first.status_code == 202 and replay.status_code == 401
    assert _stored(store) == (1, 0, 0)


def test_a_resent_alert_with_a_fresh_signature_is_a_duplicate_not_a_replay(client: TestClient) -> None:
    first = client.post("/v1/alerts", content=BODY, headers=signed_headers(BODY, at=int(time.time()) - 5))
    again = client.post("/v1/alerts", content=BODY, headers=signed_headers(BODY))

    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["incident_id"] == first.json()["incident_id"]


@pytest.mark.parametrize("path", ["/v1/x/health", "/v1/alerts/health", "/v1/health/../alerts", "/v1/admin"])
def test_no_path_gets_around_auth(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.post(path, content=b"{}", headers={"Content-Type": "application/json"}).status_code == 401
    assert client.get(path, headers=key_headers()).status_code in (404, 405)


def test_origin_null_gets_no_cors_grant(client: TestClient) -> None:
    response = client.post(
        "/v1/alerts", content=BODY, headers={"Origin": "null", "Content-Type": "application/json"}
    )
    preflight = client.options(
        "/v1/alerts", headers={"Origin": "null", "Access-Control-Request-Method": "POST"}
    )

    assert response.status_code == 401
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight.headers


def test_reading_an_incident_needs_credentials(client: TestClient) -> None:
    accepted = client.post("/v1/alerts", content=BODY, headers=key_headers()).json()

    assert client.get(accepted["incident_url"]).status_code == 401


def test_events_need_credentials_too(client: TestClient, store: Store) -> None:
    line = json.dumps({"class_uid": 4001, "time": 1}).encode()
    response = client.post("/v1/events", content=line, headers={"Content-Type": "application/x-ndjson"})

    assert response.status_code == 401
    assert _stored(store) == (0, 0, 0)


def test_hmac_secret_is_not_an_api_key(client: TestClient) -> None:
    headers = {**key_headers(), "Authorization": f"Bearer {HMAC_SECRETS['demo']}"}

    assert client.post("/v1/alerts", content=BODY, headers=headers).status_code == 401
