"""Decision links: an escalation message carries a signed, single-use link; a GET shows what it would
decide and decides nothing; a POST by an analyst who proves their key decides once, for that round."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flows.models import Alert, Verdict, VerdictLabel
from flows.notify import notify_event
from flows.settings import Settings
from flows.store import IncidentStatus, Store, decision_key, issue_token
from flows.tenants import generate_missing_secrets, tenants_from

from .conftest import TENANTS_YAML


@pytest.fixture
def tenants_yaml() -> str:
    return "analysts: [alice, bob]\n" + TENANTS_YAML


@pytest.fixture
def keys(settings: Settings) -> dict[str, str]:
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    return {n: (settings.secrets_dir / "analysts" / n).read_text(encoding="utf-8") for n in ("alice", "bob")}


def _waiting(store: Store) -> str:
    document: dict[str, Any] = {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Demo AV"}},
        "finding_info": {"uid": "gray-link", "title": "Unusual outbound connection"},
        "device": {"hostname": "WS-GRAY-02"},
    }
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    store.set_verdict(incident_id, Verdict(verdict=VerdictLabel.SUSPICIOUS, score=40, reasons=[]))
    store.set_status(incident_id, IncidentStatus.AWAITING_APPROVAL, "escalated to an analyst", "escalate")
    store.end_run(incident_id)
    return incident_id


def _link_from_escalation(settings: Settings, store: Store, incident_id: str) -> str:
    """The link as an analyst receives it: in the escalation message in the MDR's outbox."""
    notify_event("escalation", incident_id, store=store)
    [message] = sorted((settings.outbox_dir / "_analysts").glob("*.txt"))
    found = re.search(r"/v1/decisions/(\S+)", message.read_text(encoding="utf-8"))
    assert found, message.read_text(encoding="utf-8")
    return f"/v1/decisions/{found.group(1)}"


def _as(name: str, key: str) -> dict[str, str]:
    return {"X-Garrison-Analyst": name, "Authorization": f"Bearer {key}"}


def test_an_escalation_link_shows_on_get_and_decides_once_on_post(
    client: TestClient, store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    incident_id = _waiting(store)
    link = _link_from_escalation(settings, store, incident_id)

    shown = client.get(link)
    assert shown.status_code == 200 and shown.json()["usable"] is True
    assert shown.json()["incident_id"] == incident_id and "X-Garrison-Analyst" in shown.json()["how"]
    still = store.incident(incident_id)
    assert still is not None and still.status == "awaiting_approval"  # opening the link decided nothing

    body = {"verdict": "malicious", "comment": "beacons to a fresh domain"}
    assert client.post(link, json=body).status_code == 401  # nobody said who decides
    assert client.post(link, json=body, headers=_as("bob", keys["alice"])).status_code == 403
    assert client.post(link, json=body, headers=_as("mallory", keys["bob"])).status_code == 403
    assert client.post(link, json={"verdict": "delete"}, headers=_as("bob", keys["bob"])).status_code == 422

    decided = client.post(link, json=body, headers=_as("bob", keys["bob"]))
    assert decided.status_code == 200, decided.text
    assert "new response round 2" in decided.json()["said"]
    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "reopened" and incident.verdict == "malicious"
    assert store.decided_verdict(incident_id) == "malicious"

    replay = client.post(link, json=body, headers=_as("alice", keys["alice"]))
    assert replay.status_code == 409  # used once; and round 1 is over anyway


def test_a_forged_an_expired_and_an_old_rounds_link_are_refused(
    client: TestClient, store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    incident_id = _waiting(store)
    key = decision_key(settings.secrets_dir)
    good = issue_token(key, "demo", incident_id, 1)
    forged = issue_token(b"not-our-key", "demo", incident_id, 1)
    expired = issue_token(key, "demo", incident_id, 1, ttl_seconds=-1)
    older = issue_token(key, "demo", incident_id, 0)
    body, who = {"verdict": "benign"}, _as("alice", keys["alice"])

    assert client.post(f"/v1/decisions/{forged}", json=body, headers=who).status_code == 403
    assert client.get(f"/v1/decisions/{forged}").status_code == 403
    assert client.post(f"/v1/decisions/{expired}", json=body, headers=who).status_code == 410
    assert client.post(f"/v1/decisions/{older}", json=body, headers=who).status_code == 409
    assert client.post("/v1/decisions/garbage", json=body, headers=who).status_code == 400
    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "awaiting_approval"  # none of them decided

    assert client.post(f"/v1/decisions/{good}", json=body, headers=who).status_code == 200
    closed_round = store.incident(incident_id)
    assert closed_round is not None and closed_round.round == 2 and closed_round.verdict == "benign"


def test_an_escalate_through_the_link_keeps_it_waiting_and_is_audited(
    client: TestClient, store: Store, settings: Settings, keys: dict[str, str]
) -> None:
    incident_id = _waiting(store)
    link = _link_from_escalation(settings, store, incident_id)

    answer = client.post(
        link, json={"verdict": "escalate", "comment": "tier 2 please"}, headers=_as("alice", keys["alice"])
    )

    assert answer.status_code == 200 and "escalated" in answer.json()["said"]
    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "awaiting_approval"
    assert store.check_audit().intact
