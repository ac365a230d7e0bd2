"""``policy.auto_contain: false``: a tenant's containment runs only on an analyst's word. The malicious
incident waits at the containment step (its run ends, by default); `garrison decide … malicious` starts
the round that contains it; `benign` closes it with nothing done."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from actions.lab import LabFleet
from flows.cli import app
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.settings import get_settings
from flows.store import Store
from flows.tenants import generate_missing_secrets, tenants_from
from tests.respond._gray import DEFAULT_TENANTS

pytestmark = pytest.mark.usefixtures("prefect_harness")
runner = CliRunner()


@pytest.fixture
def asking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    data = yaml.safe_load(DEFAULT_TENANTS.read_text(encoding="utf-8"))
    for tenant in data["tenants"]:
        tenant.setdefault("policy", {})["auto_contain"] = False
    path = tmp_path / "tenants-ask-first.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("GARRISON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(path))
    monkeypatch.delenv("GARRISON_ANALYST_KEY", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_home()
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    store = Store.open(settings.database_url)
    LabFleet(store.engine).seed(mykings_host())
    yield store
    get_settings.cache_clear()


def _malicious(store: Store) -> str:
    document: dict[str, Any] = mykings_alert()
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    respond(RespondRequest(incident_id=incident_id))
    return incident_id


def test_containment_waits_for_an_analyst_and_runs_on_their_word(asking: Store) -> None:
    incident_id = _malicious(asking)

    waiting = asking.incident(incident_id)
    assert waiting is not None and waiting.verdict == "malicious" and waiting.status == "awaiting_approval"
    assert waiting.actions == [] and not LabFleet(asking.engine).show("demo", DEMO_HOST)[0]["isolated"]
    assert any("auto_contain is off" in t.message for t in waiting.timeline)

    decided = runner.invoke(
        app, ["decide", incident_id[:8], "--verdict", "malicious", "--by", "alice", "--json"]
    )
    assert decided.exit_code == 0, decided.output
    assert "new response round 2" in json.loads(decided.stdout)["said"]
    respond(RespondRequest(incident_id=incident_id))  # the decided round's run, as the dispatcher starts it

    contained = asking.incident(incident_id)
    assert contained is not None and contained.contained_at is not None
    assert LabFleet(asking.engine).show("demo", DEMO_HOST)[0]["isolated"]


def test_a_benign_word_closes_it_with_nothing_done(asking: Store) -> None:
    incident_id = _malicious(asking)

    decided = runner.invoke(
        app, ["decide", incident_id[:8], "--verdict", "benign", "--by", "bob", "--comment", "lab test"]
    )
    assert decided.exit_code == 0, decided.output
    respond(RespondRequest(incident_id=incident_id))

    incident = asking.incident(incident_id)
    assert incident is not None and incident.status == "closed" and incident.verdict == "benign"
    assert incident.actions == [] and not LabFleet(asking.engine).show("demo", DEMO_HOST)[0]["isolated"]
