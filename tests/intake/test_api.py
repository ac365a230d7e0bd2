"""The intake API as a sensor sees it: what is accepted is stored, what is refused leaves no trace."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.demo import mykings_alert
from flows.settings import Settings
from flows.store import Store
from flows.store._schema import AlertRow, DeadLetterRow, IncidentRow

from .conftest import key_headers


def _counts(store: Store) -> tuple[int, int]:
    with Session(store.engine) as session:
        return (
            session.scalar(select(func.count()).select_from(AlertRow)) or 0,
            session.scalar(select(func.count()).select_from(IncidentRow)) or 0,
        )


def test_alert_is_stored_and_its_incident_dispatched(client: TestClient, store: Store, dispatcher) -> None:
    response = client.post("/v1/alerts", headers=key_headers(), json=mykings_alert())

    assert response.status_code == 202
    body = response.json()
    incident = store.incident(body["incident_id"])
    assert incident is not None and incident.tenant == "demo" and incident.status == "new"
    assert incident.hosts == ["WS-FINANCE-07"]
    assert dispatcher.dispatched == [body["incident_id"]]
    assert client.get(body["incident_url"], headers=key_headers()).json()["id"] == body["incident_id"]
    assert client.get(body["incident_url"], headers=key_headers("acme")).status_code == 404  # not theirs


def test_the_same_alert_twice_is_stored_once(client: TestClient, store: Store, dispatcher) -> None:
    first = client.post("/v1/alerts", headers=key_headers(), json=mykings_alert()).json()
    again = client.post("/v1/alerts", headers=key_headers(), json=mykings_alert())

    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert (again.json()["incident_id"], again.json()["alert_id"]) == (
        first["incident_id"],
        first["alert_id"],
    )
    assert _counts(store) == (1, 1)
    assert len(dispatcher.dispatched) == 1


def _post_raw(client: TestClient, body: bytes, content_type: str = "application/json") -> Any:
    return client.post("/v1/alerts", content=body, headers=key_headers(content_type=content_type))


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe\x00", 400, "not valid JSON"),
        (b"[1, 2]", 422, "body"),
        (b'"just a string"', 422, "body"),
    ],
)
def test_malformed_bodies_are_refused_and_nothing_is_stored(
    client: TestClient, store: Store, body: bytes, status: int, names: str
) -> None:
    response = _post_raw(client, body)

    assert response.status_code == status
    assert names in response.json()["detail"]
    assert _counts(store) == (0, 0)


def _without(path: str) -> dict[str, Any]:
    alert = mykings_alert()
    *parents, leaf = path.split(".")
    holder = alert
    for part in parents:
        holder = holder[part]
    del holder[leaf]
    return alert


@pytest.mark.parametrize(
    ("alert", "field"),
    [
        (_without("metadata"), "metadata"),
        (_without("finding_info.title"), "finding_info.title"),
        ({**mykings_alert(), "class_uid": 4001}, "class_uid"),
        ({**mykings_alert(), "severity_id": "high"}, "severity_id"),
        ({**mykings_alert(), "observables": [{"type_id": "x"}]}, "observables.0.type_id"),
    ],
)
def test_invalid_alerts_are_refused_naming_the_field(
    client: TestClient, store: Store, alert: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/alerts", headers=key_headers(), json=alert)

    assert response.status_code == 422
    assert response.json()["detail"].startswith(field)
    assert field in [error["field"] for error in response.json()["errors"]]
    assert _counts(store) == (0, 0)


def test_an_ocsf_alert_without_tenant_belongs_to_the_sender(client: TestClient, store: Store) -> None:
    alert = _without("metadata.tenant_uid")

    response = client.post("/v1/alerts", headers=key_headers("acme"), json=alert)

    assert response.status_code == 202
    incident = store.incident(response.json()["incident_id"])
    assert incident is not None and incident.tenant == "acme"


def test_an_alert_naming_another_tenant_is_forbidden(client: TestClient, store: Store) -> None:
    alert = mykings_alert()
    alert["metadata"]["tenant_uid"] = "acme"

    response = client.post("/v1/alerts", headers=key_headers("demo"), json=alert)

    assert response.status_code == 403
    assert "metadata.tenant_uid" in response.json()["detail"]
    assert _counts(store) == (0, 0)


def test_rejected_payloads_are_kept_as_dead_letters_never_processed(client: TestClient, store: Store) -> None:
    _post_raw(client, b"{broken")
    client.post("/v1/alerts", headers=key_headers(), json={"class_uid": 2004})

    letters = store.dead_letters()
    assert [(d["status"], d["tenant"]) for d in letters] == [(422, "demo"), (400, "demo")]
    assert "finding_info" in letters[0]["reason"] or "metadata" in letters[0]["reason"]
    assert _counts(store) == (0, 0)
    with Session(store.engine) as session:
        assert session.scalar(select(func.count()).select_from(DeadLetterRow)) == 2


def test_wrong_content_type_is_refused(client: TestClient, store: Store) -> None:
    response = _post_raw(client, json.dumps(mykings_alert()).encode(), "application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert _counts(store) == (0, 0)


def test_oversized_alert_is_refused(client: TestClient, store: Store, settings: Settings) -> None:
    alert = mykings_alert()
    alert["message"] = "A" * (settings.max_alert_bytes + 1)

    response = client.post("/v1/alerts", headers=key_headers(), json=alert)

    assert response.status_code == 413
    assert _counts(store) == (0, 0)


def test_server_keeps_serving_after_bad_input(client: TestClient) -> None:
    for _ in range(3):
        assert _post_raw(client, b"\x00garbage").status_code == 400
    assert client.get("/v1/health").json() == {"status": "ok"}
    assert client.post("/v1/alerts", headers=key_headers(), json=mykings_alert()).status_code == 202


def test_unknown_incident_is_404(client: TestClient) -> None:
    assert client.get("/v1/incidents/nope", headers=key_headers()).status_code == 404
