"""``garrison decide`` refuses with one clear line, before anything reaches Prefect: a bad verdict, an
unknown incident or analyst, a key that is not the analyst's, an incident that waits for nothing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.demo import mykings_alert
from flows.models import Alert
from flows.settings import Settings
from flows.store import Store
from flows.tenants import analyst_key_path, generate_missing_secrets, load_tenants, tenants_from

runner = CliRunner()
DEFAULT_TENANTS = Path(__file__).resolve().parents[2] / "flows" / "defaults" / "tenants.yaml"


@pytest.fixture
def incident_id(settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("GARRISON_ANALYST_KEY", raising=False)
    settings.ensure_home()
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    document = mykings_alert()
    return store.record_alert(Alert.model_validate(document), document).incident_id


def _error(*args: str) -> str:
    result = runner.invoke(app, ["decide", *args])
    assert result.exit_code != 0
    return str(result.exception)


def test_the_default_configuration_names_alice_and_bob_and_up_generates_their_keys(
    settings: Settings,
) -> None:
    directory = load_tenants(DEFAULT_TENANTS)
    assert directory.analysts == ["alice", "bob"]

    created = generate_missing_secrets(directory, settings.secrets_dir)

    assert {"analysts/alice", "analysts/bob"} <= set(created)
    for name in ("alice", "bob"):
        path = analyst_key_path(settings.secrets_dir, name)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(path.read_text()) >= 32
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "analysts/alice" not in generate_missing_secrets(directory, settings.secrets_dir)  # kept


def test_an_invalid_verdict_is_one_line(incident_id: str) -> None:
    assert _error(incident_id[:8], "--verdict", "maybe", "--by", "alice") == (
        "invalid verdict 'maybe': choose malicious, benign or escalate"
    )


def test_an_unknown_incident_is_one_line(incident_id: str) -> None:
    assert _error("0000000000", "--verdict", "benign", "--by", "alice") == "no incident 0000000000"


def test_an_unknown_analyst_is_refused(incident_id: str) -> None:
    assert _error(incident_id[:8], "--verdict", "benign", "--by", "mallory").startswith(
        "unknown analyst 'mallory': not in the analysts: list of"
    )


def test_a_key_that_is_not_the_analysts_is_refused(
    incident_id: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GARRISON_ANALYST_KEY", analyst_key_path(settings.secrets_dir, "bob").read_text())

    assert _error(incident_id[:8], "--verdict", "benign", "--by", "alice") == (
        "refused: the key in GARRISON_ANALYST_KEY is not analyst alice's"
    )


def test_a_missing_or_loose_key_file_is_refused(incident_id: str, settings: Settings) -> None:
    path = analyst_key_path(settings.secrets_dir, "alice")
    os.chmod(path, 0o644)
    assert _error(incident_id[:8], "--verdict", "benign", "--by", "alice") == (
        f"refused: {path} must be owner-only (chmod 600)"
    )
    path.unlink()
    assert _error(incident_id[:8], "--verdict", "benign", "--by", "alice").startswith(
        "analyst alice has no key at"
    )


def test_an_incident_that_waits_for_no_decision_is_one_line(incident_id: str) -> None:
    assert _error(incident_id[:8], "--verdict", "malicious", "--by", "alice") == (
        f"incident {incident_id[:8]} is not waiting for a decision (status new)"
    )


def test_pending_with_nothing_paused_says_so(incident_id: str) -> None:
    result = runner.invoke(app, ["pending"])

    assert result.exit_code == 0 and "Nothing waits for a decision." in result.stdout
