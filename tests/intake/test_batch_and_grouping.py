"""Batches, storms and grouping: many alerts, few incidents, one respond run per incident."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from flows.demo import mykings_alert
from flows.store import IncidentStatus, Store
from flows.store._schema import AlertRow, EventRow, IncidentRow

from .conftest import RecordingDispatcher, key_headers, ndjson

NDJSON = "application/x-ndjson"


def _alert(
    uid: str, host: str = "WS-FINANCE-07", rule: str = "edr-rule-1042", **extra: Any
) -> dict[str, Any]:
    return {
        "class_uid": 2004,
        "severity_id": 3,
        "metadata": {"product": {"name": "Demo EDR"}, "uid": uid},
        "finding_info": {"uid": uid, "title": "Suspicious scriptlet", "analytic": {"uid": rule}},
        "device": {"hostname": host},
        **extra,
    }


def _count(store: Store, table: type) -> int:
    with Session(store.engine) as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _batch(client: TestClient, documents: list[Any], tenant: str = "demo", query: str = "") -> Any:
    return client.post(
        f"/v1/alerts:batch{query}", content=ndjson(documents), headers=key_headers(tenant, NDJSON)
    )


def test_a_batch_answers_per_line(client: TestClient, store: Store, dispatcher: RecordingDispatcher) -> None:
    body = (
        ndjson([_alert("a1")])
        + b"{not json\n"
        + ndjson([{"class_uid": 2004}, _alert("a1"), _alert("b", "WS-2")])
    )

    response = client.post("/v1/alerts:batch", content=body, headers=key_headers(content_type=NDJSON))

    assert response.status_code == 200
    result = response.json()
    assert [r["status"] for r in result["results"]] == [
        "created",
        "rejected",
        "rejected",
        "duplicate",
        "created",
    ]
    assert result["results"][1]["error"]["field"] == "(line)"
    assert result["results"][2]["error"]["field"] in ("metadata", "finding_info")
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2, 1, 2)
    assert _count(store, AlertRow) == 2 and _count(store, IncidentRow) == 2
    assert len(dispatcher.dispatched) == 2


def test_a_batch_of_only_bad_lines_is_refused_and_stores_nothing(client: TestClient, store: Store) -> None:
    response = client.post("/v1/alerts:batch", content=b"[]\n42\n", headers=key_headers(content_type=NDJSON))

    assert response.status_code == 422
    assert _count(store, AlertRow) == 0


def test_a_storm_of_10000_similar_alerts_is_one_incident_and_one_run(
    client: TestClient, store: Store, dispatcher: RecordingDispatcher
) -> None:
    storm = [_alert(f"storm-{n}") for n in range(10_000)]

    for start in range(0, len(storm), 2_500):
        response = _batch(client, storm[start : start + 2_500])
        assert response.status_code == 200 and response.json()["accepted"] == 2_500

    [incident] = store.incidents()
    assert incident.alert_count == 10_000
    assert _count(store, AlertRow) == 10_000
    assert dispatcher.dispatched == [incident.id]
    view = store.incident(incident.id)
    assert view is not None and len(view.timeline) < 20  # a storm is not 10,000 timeline lines


def test_a_shared_indicator_groups_alerts_from_several_hosts(client: TestClient, store: Store) -> None:
    c2 = {"observables": [{"name": "dst", "type_id": 1, "value": "pool.minexmr-evil.example"}]}
    hosts = [_alert(f"p{n}", host=f"WS-{n:02d}", rule=f"rule-{n}", **c2) for n in range(50)]

    _batch(client, hosts)

    [incident] = store.incidents()
    view = store.incident(incident.id)
    assert view is not None and len(view.hosts) == 50 and incident.alert_count == 50


def test_other_tenants_never_join(client: TestClient, store: Store) -> None:
    _batch(client, [_alert("x")], tenant="demo")
    _batch(client, [_alert("x")], tenant="acme")

    assert sorted(i.tenant for i in store.incidents()) == ["acme", "demo"]


def test_an_alert_for_an_incident_already_responding_updates_it_without_a_second_run(
    client: TestClient, store: Store, dispatcher: RecordingDispatcher
) -> None:
    first = _batch(client, [_alert("r1")]).json()["results"][0]["incident_id"]
    assert store.claim(first, "flow-run-1")  # the respond run has started

    second = _batch(client, [_alert("r2", evidences=[{"url": {"url_string": "hxxp://new-c2[.]example/x"}}])])

    assert second.json()["results"][0] == {**second.json()["results"][0], "status": "attached"}
    assert dispatcher.dispatched == [first]
    view = store.incident(first)
    assert view is not None and view.alert_count == 2 and view.status == "triaging"
    assert ("domain", "new-c2.example") in {(i.type, i.value) for i in view.indicators}


def _close(store: Store, incident_id: str) -> None:
    store.claim(incident_id, "run-close")  # a new incident is triaged before it is closed
    store.set_status(incident_id, IncidentStatus.CLOSED, "closed", "close")


def test_a_related_alert_reopens_a_closed_incident_for_a_new_round(
    client: TestClient, store: Store, dispatcher: RecordingDispatcher
) -> None:
    first = _batch(client, [_alert("c1")]).json()["results"][0]["incident_id"]
    store.claim(first, "run-1")
    _close(store, first)

    again = _batch(client, [_alert("c2")]).json()["results"][0]

    assert (again["status"], again["incident_id"]) == ("reopened", first)
    view = store.incident(first)
    assert view is not None and view.status == "reopened" and view.round == 2 and view.closed_at is None
    assert dispatcher.dispatched == [first, first]
    assert store.undispatched() == [first]  # if that dispatch failed, the sweeper tries again
    assert store.claim(first, "run-2")  # the reopened incident can be taken by a new run
    assert any("reopened" in t.message for t in view.timeline)


def test_a_tenant_can_link_instead_of_reopening(client: TestClient, store: Store) -> None:
    first = _batch(client, [_alert("l1")], tenant="acme").json()["results"][0]["incident_id"]
    _close(store, first)

    again = _batch(client, [_alert("l2")], tenant="acme").json()["results"][0]

    assert again["status"] == "linked" and again["incident_id"] != first
    linked = store.incident(again["incident_id"])
    assert linked is not None and linked.related_incident_id == first
    assert store.incident(first).status == "closed"  # type: ignore[union-attr]


def test_outside_the_window_a_new_incident_is_opened_and_linked(client: TestClient, store: Store) -> None:
    first = _batch(client, [_alert("w1")]).json()["results"][0]["incident_id"]
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    with Session(store.engine) as session, session.begin():
        session.execute(update(IncidentRow).where(IncidentRow.id == first).values(last_alert_at=long_ago))

    again = _batch(client, [_alert("w2")]).json()["results"][0]

    assert again["status"] == "linked"
    assert store.incident(again["incident_id"]).related_incident_id == first  # type: ignore[union-attr]


def test_unrelated_alerts_open_their_own_incidents(client: TestClient, store: Store) -> None:
    _batch(client, [_alert("u1", host="A", rule="r1"), _alert("u2", host="B", rule="r2")])

    assert len(store.incidents()) == 2


def test_the_mykings_alert_and_its_ids_traffic_become_one_incident(client: TestClient, store: Store) -> None:
    edr = mykings_alert()
    ids = copy.deepcopy(edr)
    ids["finding_info"] = {"uid": "ids-1", "title": "ET TROJAN MyKings CnC", "analytic": {"uid": "2027392"}}
    ids["device"] = {"ip": "10.20.30.47"}
    ids["evidences"] = [{"dst_endpoint": {"hostname": "js.mykings.top", "port": 280}}]
    ids["observables"] = []

    _batch(client, [edr, ids])

    [incident] = store.incidents()
    assert incident.alert_count == 2


# -- telemetry -----------------------------------------------------------------------------------------


def _network(host: str, dst: str, **extra: Any) -> dict[str, Any]:
    return {
        "class_uid": 4001,
        "time": 1563872400000,
        "device": {"hostname": host},
        "dst_endpoint": {"ip": dst, "port": 443},
        "traffic": {"bytes_out": 120, "bytes_in": 0},
        "actor": {"process": {"file": {"path": r"C:\Windows\System32\msiexec.exe"}}},
        **extra,
    }


def test_events_are_stored_with_their_triage_fields(client: TestClient, store: Store) -> None:
    lines = [
        _network("WS-1", "198.51.100.7"),
        {"class_uid": 4003, "time": 5, "query": {"hostname": "evil.example"}},
    ]

    response = client.post("/v1/events", content=ndjson(lines), headers=key_headers(content_type=NDJSON))

    assert response.status_code == 200 and response.json() == {"stored": 2, "rejected": []}
    with Session(store.engine) as session:
        rows = session.scalars(select(EventRow).order_by(EventRow.id)).all()
    assert [(r.hostname, r.dst, r.dst_port, r.bytes_out, r.process_path) for r in rows] == [
        ("WS-1", "198.51.100.7", 443, 120, r"C:\Windows\System32\msiexec.exe"),
        (None, "evil.example", None, None, None),
    ]
    assert rows[0].tenant == "demo"


def test_bad_event_lines_are_named_and_the_rest_stored(client: TestClient, store: Store) -> None:
    lines = [
        json.dumps(_network("WS-1", "198.51.100.7")),
        json.dumps({"class_uid": 2004, "time": 1}),
        json.dumps({"class_uid": 4001}),
        json.dumps({**_network("WS-1", "1.2.3.4"), "metadata": {"tenant_uid": "acme"}}),
        "not json",
    ]

    response = client.post("/v1/events", content="\n".join(lines), headers=key_headers(content_type=NDJSON))

    body = response.json()
    assert response.status_code == 200 and body["stored"] == 1
    assert [(r["line"], r["error"]["field"]) for r in body["rejected"]] == [
        (2, "class_uid"),
        (3, "time"),
        (4, "metadata.tenant_uid"),
        (5, "(line)"),
    ]
    assert _count(store, EventRow) == 1
