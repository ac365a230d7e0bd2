"""Deciding a gray incident whose run has ended (the default: no paused run holds a runner slot): the
decision starts the next response round, and that round's run acts on it instead of classifying."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from actions.lab import HostSeed, LabFleet
from flows.cli import app
from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.settings import Settings, get_settings
from flows.store import IncidentView, Store
from flows.store._schema import AuditRow
from flows.tenants import generate_missing_secrets, tenants_from
from tests.respond._gray import decision_timeout

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()
HOST = "SRV-FILES-02"


@pytest.fixture
def waiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Iterator[Store]:
    decision_timeout(tmp_path, monkeypatch, 0)  # the default: the run ends, the incident waits
    monkeypatch.delenv("GARRISON_ANALYST_KEY", raising=False)
    get_settings.cache_clear()
    current = get_settings()
    current.ensure_home()
    generate_missing_secrets(tenants_from(current.tenants_file), current.secrets_dir)
    yield Store.open(current.database_url)
    get_settings.cache_clear()


def _responded(store: Store, uid: str, host: str = HOST) -> IncidentView:
    """A PUA alert on ``host``, recorded and responded to as the dispatcher's run would."""
    document: dict[str, Any] = {
        "class_uid": 2004,
        "severity_id": 2,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Demo AV"}, "uid": f"av-{uid}"},
        "finding_info": {"uid": f"pua-{uid}", "title": "PUA:Win32/Toolbar detected"},
        "device": {"hostname": host},
        "evidences": [{"process": {"name": "toolbar.exe", "cmd_line": "toolbar.exe /update /silent"}}],
    }
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    respond(RespondRequest(incident_id=incident_id))
    incident = store.incident(incident_id)
    assert incident is not None
    return incident


def _gray(store: Store, uid: str) -> str:
    incident = _responded(store, uid)
    assert incident.status == "awaiting_approval"  # the run ended; it waits
    return incident.id


def _decide(incident_id: str, verdict: str, *extra: str) -> Any:
    return runner.invoke(
        app, ["decide", incident_id[:8], "--verdict", verdict, "--by", "alice", "--json", *extra]
    )


def test_malicious_starts_a_round_that_contains_without_classifying_again(waiting: Store) -> None:
    LabFleet(waiting.engine).seed(HostSeed(tenant="demo", hostname=HOST))
    incident_id = _gray(waiting, "m")

    decided = _decide(incident_id, "malicious", "--comment", "toolbar pulls a second stage")
    assert decided.exit_code == 0, decided.output
    assert "new response round 2" in json.loads(decided.stdout)["said"]
    respond(RespondRequest(incident_id=incident_id))  # what the dispatcher's run does

    incident = waiting.incident(incident_id)
    assert incident is not None and incident.round == 2 and incident.verdict == "malicious"
    # Contained, then closed: the analyst who decided is the person the closing rule asks for.
    assert incident.contained_at and incident.status == "closed"
    assert LabFleet(waiting.engine).show("demo", HOST)[0]["isolated"]
    assert any("an analyst decided the verdict" in t.message for t in incident.timeline)
    assert "analyst_decision" in {r.get("code") for r in incident.reasons}
    assert waiting.decided_verdict(incident_id) is None  # used up by the round that acted on it


def test_benign_closes_with_the_analysts_reason(waiting: Store) -> None:
    incident_id = _gray(waiting, "b")

    assert _decide(incident_id, "benign", "--comment", "approved software").exit_code == 0
    respond(RespondRequest(incident_id=incident_id))

    incident = waiting.incident(incident_id)
    assert incident is not None and incident.status == "closed" and incident.verdict == "benign"
    assert any(
        "analyst alice decided benign: approved software" in str(r.get("finding")) for r in incident.reasons
    )


def test_escalate_keeps_it_waiting_and_a_second_decision_is_refused_once_decided(waiting: Store) -> None:
    incident_id = _gray(waiting, "e")

    escalated = _decide(incident_id, "escalate")
    decided = _decide(incident_id, "benign")
    again = _decide(incident_id, "malicious")

    assert escalated.exit_code == 0 and "escalated" in json.loads(escalated.stdout)["said"]
    assert decided.exit_code == 0
    incident = waiting.incident(incident_id)
    assert incident is not None
    # How long it waited for a person is on the record, for MTTA.
    waits = [
        t.data["waited_seconds"] for t in incident.timeline if t.step == "decision" and "analyst" in t.data
    ]
    assert len(waits) == 2 and all(0 <= w < 120 for w in waits)
    assert again.exit_code == 1 and "not waiting for a decision" in str(again.exception or again.output)


def test_a_standing_benign_decision_clears_alerts_like_these_until_revoked(waiting: Store) -> None:
    first = _gray(waiting, "s1")
    decided = _decide(first, "benign", "--comment", "the IT team's toolbar", "--standing", "30")
    assert decided.exit_code == 0, decided.output
    [standing] = json.loads(decided.stdout)["standing"]
    assert standing["scope"]["hosts"] == [HOST.lower()] and standing["analyst"] == "alice"
    assert standing["scope"]["command_lines"] == ["toolbar.exe /update /silent"]
    respond(RespondRequest(incident_id=first))

    # The same alert again, later: cleared by the decision, a named reason first, nobody asked.
    again = _responded(waiting, "s2")
    assert again.verdict == "benign" and again.status == "closed"
    assert again.reasons[0]["code"] == "standing_benign"
    assert again.reasons[0]["params"]["decision"] == standing["id"]
    assert not any(r.get("code") == "unanswered" for r in again.reasons)

    # Not on another host: new evidence is triaged afresh.
    elsewhere = _responded(waiting, "s3", host="WS-OTHER-09")
    assert elsewhere.status == "awaiting_approval" and elsewhere.verdict == "suspicious"

    listed = runner.invoke(app, ["standing", "list", "--json"])
    assert [d["id"] for d in json.loads(listed.stdout)] == [standing["id"]]
    revoked = runner.invoke(
        app, ["standing", "revoke", standing["id"][:8], "--by", "bob", "--comment", "toolbar retired"]
    )
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(runner.invoke(app, ["standing", "list", "--json"]).stdout) == []
    after = _responded(waiting, "s4")
    assert after.status == "awaiting_approval" and after.verdict == "suspicious"
    with Session(waiting.engine) as session:
        audited = set(session.scalars(select(AuditRow.event).where(AuditRow.subject == standing["id"])))
    assert audited == {"standing.benign", "standing.revoked"}


def test_standing_needs_a_decision_a_comment_and_a_sane_length(waiting: Store) -> None:
    incident_id = _gray(waiting, "s5")

    escalate = _decide(incident_id, "escalate", "--standing", "30", "--comment", "x")
    no_why = _decide(incident_id, "benign", "--standing", "30")
    forever = _decide(incident_id, "benign", "--standing", "3650", "--comment", "x")

    assert escalate.exit_code == 1 and "--standing needs --verdict" in str(escalate.exception)
    assert no_why.exit_code == 1 and "--standing needs --comment" in str(no_why.exception)
    assert forever.exit_code == 1 and "1 to 365 days" in str(forever.exception)
    incident = waiting.incident(incident_id)
    assert incident is not None and incident.status == "awaiting_approval"  # nothing was decided
