"""What the respond flow checks before and while it runs a playbook: an act step with
``requires_approval`` waits for an analyst even where the tenant contains automatically, and acts on their
malicious decision; a step kind without a runner is refused before anything runs; every kind the schema
knows has a runner; and a tenant's own playbook that is missing or broken is refused with the tenants file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit
from uuid import UUID

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.settings import get_current_settings
from typer.testing import CliRunner

from actions.lab import LabFleet
from flows.cli import app
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.respond._flow import RUNNERS
from flows.settings import Settings, get_settings
from flows.store import IncidentView, Store
from flows.tenants import TenantConfigError, generate_missing_secrets, load_tenants, tenants_from
from playbooks import PlaybookError, Step, load_playbook
from tests.respond._gray import DEFAULT_TENANTS, Running, decision_timeout

runner = CliRunner()
GATE = "contain: containment waits for an analyst (the step requires approval)"


def _gated_playbook(tmp_path: Path) -> str:
    path = tmp_path / "gated.yaml"
    steps = [
        {"id": "enrich", "kind": "enrich"},
        {"id": "classify", "kind": "classify"},
        {
            "id": "contain",
            "kind": "act",
            "when": {"verdict": ["malicious"]},
            "requires_approval": True,
            "capabilities": ["isolate_host"],
        },
        {"id": "tell-customer", "kind": "notify", "event": "incident_report"},
    ]
    path.write_text(yaml.safe_dump({"id": "gated", "name": "gated", "steps": steps}), encoding="utf-8")
    return str(path)


def _mykings(store: Store) -> str:
    """The MyKings incident of the demo tenant (auto_contain on), whose lab fleet holds the host."""
    assert tenants_from(get_settings().tenants_file).get("demo").policy.auto_contain  # type: ignore[union-attr]
    LabFleet(store.engine).seed(mykings_host())
    document = mykings_alert()
    return store.record_alert(Alert.model_validate(document), document).incident_id


def _incident(store: Store, incident_id: str) -> IncidentView:
    incident = store.incident(incident_id)
    assert incident is not None
    return incident


def _isolated(store: Store) -> bool:
    return bool(LabFleet(store.engine).show("demo", DEMO_HOST)[0]["isolated"])


def _decide(incident_id: str, verdict: str) -> None:
    decided = runner.invoke(app, ["decide", incident_id[:8], "--verdict", verdict, "--by", "alice"])
    assert decided.exit_code == 0, decided.output


# -- requires_approval -----------------------------------------------------------------------------------


@pytest.fixture
def paused_decisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A home whose demo tenant keeps a run paused for a decision, with analyst keys, and whose console is
    the harness's Prefect API (so `garrison decide` resumes the run there)."""
    decision_timeout(tmp_path, monkeypatch, 2.0)
    api = urlsplit(str(get_current_settings().api.url))
    monkeypatch.setenv("GARRISON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GARRISON_HOST", api.hostname or "127.0.0.1")
    monkeypatch.setenv("GARRISON_PREFECT_PORT", str(api.port))
    monkeypatch.delenv("GARRISON_ANALYST_KEY", raising=False)
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_home()
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    yield Store.open(settings.database_url)
    get_settings.cache_clear()


async def _is_paused(flow_run_id: str) -> bool:
    async with get_client() as client:
        state = (await client.read_flow_run(UUID(flow_run_id))).state
    return state is not None and state.is_paused()


async def _is_completed(flow_run_id: str) -> bool:
    async with get_client() as client:
        state = (await client.read_flow_run(UUID(flow_run_id))).state
    return state is not None and state.is_completed()


def _wait_paused(store: Store, incident_id: str, running: Running, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert running.thread.is_alive(), f"the run ended without pausing: {running.error or running.result}"
        incident = store.incident(incident_id)
        if incident and incident.flow_run_id and asyncio.run(_is_paused(incident.flow_run_id)):
            return incident.flow_run_id
        time.sleep(0.2)
    raise AssertionError("the respond run never paused")


@pytest.mark.usefixtures("prefect_harness")
def test_an_act_step_that_requires_approval_waits_for_an_analyst_and_acts_on_a_malicious_decision(
    paused_decisions: Store, tmp_path: Path
) -> None:
    store = paused_decisions
    incident_id = _mykings(store)
    running = Running(RespondRequest(incident_id=incident_id, playbook=_gated_playbook(tmp_path)))
    run_id = _wait_paused(store, incident_id, running)

    waiting = _incident(store, incident_id)
    assert waiting.verdict == "malicious" and waiting.status == "awaiting_approval"
    assert waiting.actions == [] and not _isolated(store)  # nothing on the ledger while it waits
    assert any(t.step == "escalate" and GATE in t.message for t in waiting.timeline)
    assert [n.event for n in waiting.notifications] == ["escalation"]

    _decide(incident_id, "malicious")
    result = running.join()

    incident = _incident(store, incident_id)
    assert incident.flow_run_id == run_id  # the same run went on from the gate
    assert [(a.key, a.target, a.status) for a in incident.actions] == [
        ("lab.isolate_host", DEMO_HOST, "succeeded")
    ]
    assert _isolated(store)
    assert result["status"] == incident.status == "contained"
    assert [n.event for n in incident.notifications] == ["escalation", "containment_done", "incident_report"]
    assert asyncio.run(_is_completed(run_id))


@pytest.fixture
def decisions_start_rounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> Iterator[Store]:
    """The shipped default: no run waits paused; a decision starts the next response round."""
    decision_timeout(tmp_path, monkeypatch, 0)
    monkeypatch.delenv("GARRISON_ANALYST_KEY", raising=False)
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    get_settings.cache_clear()
    current = get_settings()
    current.ensure_home()
    generate_missing_secrets(tenants_from(current.tenants_file), current.secrets_dir)
    yield Store.open(current.database_url)
    get_settings.cache_clear()


@pytest.mark.usefixtures("prefect_harness")
def test_without_a_paused_run_the_decided_round_acts_and_does_not_ask_again(
    decisions_start_rounds: Store, tmp_path: Path
) -> None:
    store = decisions_start_rounds
    incident_id = _mykings(store)
    playbook = _gated_playbook(tmp_path)

    first = respond(RespondRequest(incident_id=incident_id, playbook=playbook))

    assert first["status"] == "awaiting_approval"
    assert _incident(store, incident_id).actions == [] and not _isolated(store)

    _decide(incident_id, "malicious")
    second = respond(RespondRequest(incident_id=incident_id, playbook=playbook))

    incident = _incident(store, incident_id)
    assert incident.round == 2 and second["status"] == incident.status == "contained"
    assert [(a.key, a.status) for a in incident.actions] == [("lab.isolate_host", "succeeded")]
    assert _isolated(store)
    gates = [t for t in incident.timeline if t.step == "escalate" and GATE in t.message]
    assert len(gates) == 1  # the decided round did not ask again


# -- the dispatcher -------------------------------------------------------------------------------------


def _kinds_of(step_union: Any) -> set[str]:
    union, _discriminator = get_args(step_union)  # Annotated[A | B | ..., Field(discriminator="kind")]
    return {kind for model in get_args(union) for kind in get_args(model.model_fields["kind"].annotation)}


def test_every_step_kind_of_the_schema_has_a_runner_and_no_runner_is_for_an_unknown_kind() -> None:
    kinds = _kinds_of(Step)

    assert {"enrich", "classify", "act"} <= kinds  # the union was read, not two empty sets compared
    assert set(RUNNERS) == kinds


@pytest.mark.usefixtures("prefect_harness")
def test_a_step_kind_without_a_runner_is_refused_before_anything_runs(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(RUNNERS, "close")
    incident_id = _mykings(store)

    # The default playbook contains before it closes: the refusal comes before either.
    with pytest.raises(PlaybookError, match=r"^playbook default: no runner for step kind close$"):
        respond(RespondRequest(incident_id=incident_id, playbook="default"))

    incident = _incident(store, incident_id)
    assert incident.actions == [] and not _isolated(store)
    assert incident.verdict is None and incident.notifications == []
    assert not {"playbook", "enrich", "classify", "act"} & {t.step for t in incident.timeline}


# -- a tenant's own playbooks ----------------------------------------------------------------------------


def _tenants_naming(tmp_path: Path, playbook: str) -> Path:
    data = yaml.safe_load(DEFAULT_TENANTS.read_text(encoding="utf-8"))
    data["tenants"][0]["playbooks"] = ["gray-default", playbook]
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_tenants_playbook_that_does_not_exist_is_refused_when_the_tenants_file_loads(
    tmp_path: Path,
) -> None:
    missing = str(tmp_path / "playbooks" / "acme-ransomware.yaml")
    tenants = _tenants_naming(tmp_path, missing)

    with pytest.raises(TenantConfigError) as refused:
        load_tenants(tenants)

    message = str(refused.value)
    assert message.startswith(f"{tenants}: tenants.0.playbooks: ")
    assert f"no playbook {missing!r}" in message and "\n" not in message


def test_a_tenants_playbook_that_does_not_validate_is_refused_with_the_playbooks_error(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "acme-broken.yaml"
    broken.write_text(
        yaml.safe_dump(
            {
                "id": "acme-broken",
                "name": "acme broken",
                "steps": [{"id": "enrich", "kind": "enrich"}, {"id": "pray", "kind": "pray"}],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(PlaybookError) as playbook_error:
        load_playbook(str(broken))
    tenants = _tenants_naming(tmp_path, str(broken))

    with pytest.raises(TenantConfigError) as refused:
        tenants_from(tenants)

    said = str(playbook_error.value)
    assert said.startswith(f"{broken}: steps.1") and "(step pray)" in said
    assert str(refused.value) == f"{tenants}: tenants.0.playbooks: {said}"


def test_a_tenants_valid_playbook_loads_with_the_tenants_file(tmp_path: Path) -> None:
    own = tmp_path / "acme-own.yaml"
    own.write_text(
        yaml.safe_dump({"id": "acme-own", "name": "acme own", "steps": [{"id": "close", "kind": "close"}]}),
        encoding="utf-8",
    )

    demo = load_tenants(_tenants_naming(tmp_path, str(own))).get("demo")

    assert demo is not None and demo.playbooks == ["gray-default", str(own)]
