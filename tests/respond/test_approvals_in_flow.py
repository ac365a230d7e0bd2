"""The two-person rule inside the flow: a protected host's isolation is held; two different analysts,
each proven by their key, approve it; the last approval starts the next response round and that round's
flow run isolates the host. Approvals belong to their round: an earlier round's do not count."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from actions.lab import HostSeed, LabFleet
from flows.cli import app
from flows.demo import mykings_alert
from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.settings import get_settings
from flows.store import Store
from flows.tenants import generate_missing_secrets, tenants_from

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()
DC = "DC-01"
APPROVE = ["--action", "lab.isolate_host", "--target", DC, "--json"]


@pytest.fixture
def protected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("GARRISON_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GARRISON_TENANTS_FILE", raising=False)  # the defaults: DC-* is protected
    monkeypatch.delenv("GARRISON_ANALYST_KEY", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_home()
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    store = Store.open(settings.database_url)
    LabFleet(store.engine).seed(HostSeed(tenant="demo", hostname=DC))
    yield store
    get_settings.cache_clear()


def _on_the_dc(store: Store) -> str:
    document: dict[str, Any] = mykings_alert()
    document["device"]["hostname"] = DC
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    respond(RespondRequest(incident_id=incident_id))
    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "awaiting_approval"
    held = [a for a in incident.actions if a.key == "lab.isolate_host"]
    assert held and held[0].status == "skipped"  # held for two approvers
    return incident_id


def _approve(incident_id: str, by: str) -> dict[str, Any]:
    result = runner.invoke(app, ["approve", incident_id[:8], *APPROVE, "--by", by])
    assert result.exit_code == 0, (result.output, result.exception)
    return dict(json.loads(result.stdout))


def _isolated(store: Store) -> bool:
    return bool(LabFleet(store.engine).show("demo", DC)[0]["isolated"])


def test_two_approvals_start_the_round_whose_run_isolates_the_host(protected: Store) -> None:
    incident_id = _on_the_dc(protected)
    asked = [
        text
        for path in sorted((get_settings().outbox_dir / "_analysts").glob("*.txt"))
        if "Approval needed" in (text := path.read_text(encoding="utf-8"))
    ]
    assert asked and "DC-01" in asked[0] and "lab.isolate_host" in asked[0]  # the approvers are asked

    first = _approve(incident_id, "alice")
    second = _approve(incident_id, "bob")

    assert (first["approvals"], second["approvals"]) == (1, 2)
    assert "response round 2 does the action" in second["said"]
    assert not _isolated(protected)  # recorded in the CLI; nothing acted there
    respond(RespondRequest(incident_id=incident_id))  # round 2's run, as the dispatcher starts it

    assert _isolated(protected)
    incident = protected.incident(incident_id)
    assert incident is not None and incident.round == 2
    [done] = [a for a in incident.actions if a.key == "lab.isolate_host" and a.status == "succeeded"]
    approvals = protected.ledger.approvals(incident_id)
    assert {a.approver for a in approvals} == {"alice", "bob"} and all(a.used_at for a in approvals)
    assert any("step skipped: an analyst decided the verdict" in t.message for t in incident.timeline)
    # Each action on the protected host has its own two approvals: the Run-key removals still wait.
    held = {
        a.target for a in incident.actions if a.key == "lab.delete_registry_value" and a.status == "skipped"
    }
    assert len(held) == 3 and incident.status == "awaiting_approval"


def test_an_approval_for_an_earlier_round_does_not_count(protected: Store) -> None:
    incident_id = _on_the_dc(protected)
    assert _approve(incident_id, "alice")["approvals"] == 1

    # The round ends without the second approval: an analyst's decision starts round 2, which holds the
    # isolation again.
    protected.decide_waiting(incident_id, "malicious", "alice", "contain it")
    respond(RespondRequest(incident_id=incident_id))
    waiting = protected.incident(incident_id)
    assert waiting is not None and waiting.round == 2 and waiting.status == "awaiting_approval"

    again = _approve(incident_id, "bob")
    assert (again["approvals"], again["round"]) == (1, 2)  # alice's was for round 1
    assert again["said"] == "" and not _isolated(protected)


def _approval_links() -> dict[str, str]:
    """The approve links of the approval_requested message, by target, as an approver receives them."""
    found: dict[str, str] = {}
    for path in sorted((get_settings().outbox_dir / "_analysts").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if "Approval needed" not in text:
            continue
        lines = text.splitlines()
        for at, line in enumerate(lines):
            if "/v1/decisions/" in line and at > 0 and "[" in lines[at - 1]:
                target = lines[at - 1].split(":", 1)[1].split("[", 1)[0].strip()
                found[target] = "/v1/decisions/" + line.rsplit("/v1/decisions/", 1)[1].strip()
    return found


def test_two_approvers_approve_through_their_links_and_a_changed_action_is_refused(protected: Store) -> None:
    from fastapi.testclient import TestClient

    from flows.intake import create_app
    from flows.store import decision_key, issue_token

    incident_id = _on_the_dc(protected)
    link = _approval_links()[DC]
    settings = get_settings()
    client = TestClient(create_app(settings, sweep=False))
    key = {n: (settings.secrets_dir / "analysts" / n).read_text(encoding="utf-8") for n in ("alice", "bob")}

    def as_(name: str) -> dict[str, str]:
        return {"X-Garrison-Analyst": name, "Authorization": f"Bearer {key[name]}"}

    shown = client.get(link).json()
    assert shown["kind"] == "approval" and shown["decides"] == {"approve": "lab.isolate_host", "target": DC}
    assert client.post(link, json={"verdict": "malicious"}, headers=as_("alice")).status_code == 422
    first = client.post(link, json={"approve": True}, headers=as_("alice"))
    assert first.status_code == 200 and first.json()["approvals"] == 1, first.text
    assert client.post(link, json={"approve": True}, headers=as_("alice")).status_code == 409  # once each

    # A link for the same target whose action inputs differ from what the incident names now.
    incident = protected.incident(incident_id)
    assert incident is not None
    changed = issue_token(
        decision_key(settings.secrets_dir),
        "demo",
        incident_id,
        incident.round,
        kind="approval",
        action="lab.isolate_host",
        action_hash="0" * 64,
        target=DC,
    )
    refused = client.post(f"/v1/decisions/{changed}", json={"approve": True}, headers=as_("bob"))
    assert refused.status_code == 409 and "changed" in refused.json()["detail"]

    second = client.post(link, json={"approve": True}, headers=as_("bob"))
    assert second.status_code == 200 and second.json()["approvals"] == 2, second.text
    assert "response round 2 does the action" in second.json()["said"]
    respond(RespondRequest(incident_id=incident_id))
    assert _isolated(protected)
