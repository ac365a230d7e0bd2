"""Signed requests are accepted once, on every route, and only for the method, path and query they were
signed for; each tenant's dead letters are capped on their own. (Issue 10, finding 6.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.demo import mykings_alert
from flows.intake._auth import canonical
from flows.store import Store
from flows.store._schema import AlertRow, DeadLetterRow, EventRow

from .conftest import HMAC_SECRETS, key_headers, ndjson, signed_headers

NDJSON = "application/x-ndjson"
EVENT = {"class_uid": 4001, "time": 1_700_000_000_000, "dst_endpoint": {"ip": "203.0.113.9"}}


def _count(store: Store, table: type) -> int:
    with Session(store.engine) as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _incident(client: TestClient, uid: str) -> str:
    alert = {  # no indicators, its own host and rule: its own incident
        "class_uid": 2004,
        "severity_id": 3,
        "metadata": {"product": {"name": "Demo EDR"}, "uid": uid},
        "finding_info": {"uid": uid, "title": "Suspicious scriptlet", "analytic": {"uid": f"rule-{uid}"}},
        "device": {"hostname": f"HOST-{uid}"},
    }
    response = client.post("/v1/alerts", json=alert, headers=key_headers())
    assert response.status_code == 202
    return str(response.json()["incident_id"])


def test_the_canonical_form_names_time_method_target_and_body() -> None:
    assert canonical("1700000000", "post", b"/v1/alerts:batch?format=ocsf", b'{"a":1}\n') == (
        b'1700000000\nPOST\n/v1/alerts:batch?format=ocsf\n{"a":1}\n'
    )


def test_a_sender_can_sign_by_hand(client: TestClient) -> None:
    # What the README shows a sender doing, without Garrison's helper.
    body = json.dumps(mykings_alert()).encode()
    stamp = str(int(time.time()))
    message = b"\n".join([stamp.encode(), b"POST", b"/v1/alerts?format=ocsf", body])
    digest = hmac.new(HMAC_SECRETS["demo"].encode(), message, hashlib.sha256).hexdigest()
    headers = {
        "X-Garrison-Tenant": "demo",
        "X-Garrison-Timestamp": stamp,
        "X-Garrison-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }

    assert client.post("/v1/alerts?format=ocsf", content=body, headers=headers).status_code == 202


def test_a_signed_events_request_stores_once(client: TestClient, store: Store) -> None:
    body = ndjson([EVENT])
    headers = signed_headers(body, content_type=NDJSON, target="/v1/events")

    first = client.post("/v1/events", content=body, headers=headers)
    replays = [client.post("/v1/events", content=body, headers=headers) for _ in range(2)]

    assert first.status_code == 200 and first.json()["stored"] == 1
    assert [r.status_code for r in replays] == [401, 401]
    assert _count(store, EventRow) == 1


def test_a_signed_get_is_answered_once(client: TestClient) -> None:
    incident = _incident(client, "a")
    target = f"/v1/incidents/{incident}"
    headers = signed_headers(b"", method="GET", target=target)

    assert client.get(target, headers=headers).status_code == 200
    assert client.get(target, headers=headers).status_code == 401


def test_a_signed_get_cannot_be_pointed_at_another_incident(client: TestClient) -> None:
    mine, other = _incident(client, "a"), _incident(client, "b")
    assert mine != other
    headers = signed_headers(b"", method="GET", target=f"/v1/incidents/{mine}")

    response = client.get(f"/v1/incidents/{other}", headers=headers)

    assert response.status_code == 401 and "bad signature" in response.json()["detail"]


@pytest.mark.parametrize(
    ("signed_for", "sent_to", "method"),
    [
        ("/v1/alerts", "/v1/alerts?format=suricata", "POST"),  # the query changes how the body is read
        ("/v1/alerts?format=ocsf", "/v1/alerts?format=wazuh", "POST"),
        ("/v1/alerts:batch", "/v1/alerts", "POST"),
        ("/v1/alerts", "/v1/alerts", "PUT"),
    ],
)
def test_a_signature_holds_only_for_its_method_path_and_query(
    client: TestClient, store: Store, signed_for: str, sent_to: str, method: str
) -> None:
    body = json.dumps(mykings_alert()).encode()
    headers = signed_headers(body, target=signed_for)

    response = client.request(method, sent_to, content=body, headers=headers)

    assert response.status_code == 401
    assert _count(store, AlertRow) == _count(store, DeadLetterRow) == 0


def test_the_old_timestamp_dot_body_signature_is_refused_saying_so(client: TestClient, store: Store) -> None:
    body = json.dumps(mykings_alert()).encode()
    stamp = str(int(time.time()))
    digest = hmac.new(HMAC_SECRETS["demo"].encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "X-Garrison-Tenant": "demo",
        "X-Garrison-Timestamp": stamp,
        "X-Garrison-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }

    response = client.post("/v1/alerts", content=body, headers=headers)

    assert response.status_code == 401
    assert "TS.body" in response.json()["detail"]
    assert _count(store, AlertRow) == 0


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/v1/alerts", "application/json", b'{"class_uid": 2004}'),  # refused by validation
        ("/v1/alerts", "application/json", b"{broken"),  # refused by the parser
        ("/v1/alerts:batch", NDJSON, ndjson([{"class_uid": 2004}, {"nope": 1}])),
        ("/v1/events", NDJSON, ndjson([{"class_uid": 1}])),
    ],
)
def test_a_signed_request_whose_lines_were_all_rejected_is_still_seen(
    client: TestClient, store: Store, path: str, content_type: str, body: bytes
) -> None:
    headers = signed_headers(body, content_type=content_type, target=path)

    first = client.post(path, content=body, headers=headers)
    letters = _count(store, DeadLetterRow)
    replay = client.post(path, content=body, headers=headers)

    assert 400 <= first.status_code < 500 and first.status_code != 401
    assert replay.status_code == 401
    assert _count(store, DeadLetterRow) == letters  # a replay is not kept again


def test_each_tenant_s_dead_letters_are_capped_on_their_own(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.store import _store

    monkeypatch.setattr(_store, "DEAD_LETTER_LIMIT", 100)
    rejects = ndjson([{"class_uid": 2004, "n": n} for n in range(100)])
    for n in range(3):
        client.post("/v1/alerts", content=f'{{"acme": {n}'.encode(), headers=key_headers("acme"))

    for _ in range(3):  # 300 rejects from demo, ten times its cap
        response = client.post("/v1/alerts:batch", content=rejects, headers=key_headers(content_type=NDJSON))
        assert response.status_code == 422

    with Session(store.engine) as session:
        kept = dict(
            session.execute(select(DeadLetterRow.tenant, func.count()).group_by(DeadLetterRow.tenant)).all()
        )
    assert kept["acme"] == 3  # not evicted by demo's flood
    assert 100 <= kept["demo"] < 200
    assert [row["tenant"] for row in store.dead_letters(limit=1000, tenant="acme")] == ["acme"] * 3
