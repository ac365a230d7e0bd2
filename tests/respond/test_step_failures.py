"""A playbook step that fails for real, on the MyKings demo incident through a real Prefect API: its
``on_failure`` decides whether the playbook goes on (continue), hands the incident to an analyst and ends
the run (escalate, the default) or ends the run failed (stop); a ``timeout`` that expires is a failure too.

No Garrison function is replaced: a notify step whose event has no template, an intel feed that is a
directory (enrich cannot read it), an intel feed that is a FIFO nobody writes to (enrich waits on it; the
step's timeout cuts the wait because the flow runs its enrich task in this, the main, thread, where Prefect
times out with SIGALRM), and a Falcon faked at the HTTP boundary that never confirms a containment (an act
step's jobs run in worker threads, where Prefect's timeout lands between Python instructions).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import respx
import yaml
from fastapi.testclient import TestClient
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State

from actions.lab import LabFleet
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.demo._run import demo_headers
from flows.intake import create_app
from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.settings import Settings, get_settings
from flows.store import IncidentView, Store
from flows.tenants import generate_missing_secrets, tenants_from
from tests.actions.edr.test_crowdstrike import FakeFalcon

pytestmark = pytest.mark.usefixtures("prefect_harness")

DEFAULT_FEED = Path(__file__).parents[2] / "flows" / "defaults" / "intel-feed.csv"
NO_TEMPLATE = "'no_such_event' is not a valid Event"


class NoDispatch:
    async def dispatch(self, incident_id: str) -> str | None:
        return None


@pytest.fixture
def mykings(settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> str:
    """The MyKings alert posted to the intake for the demo tenant, whose lab fleet holds the host."""
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    LabFleet(store.engine).seed(mykings_host())
    client = TestClient(create_app(settings, dispatcher=NoDispatch(), sweep=False))
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    response = client.post("/v1/alerts", json=mykings_alert(), headers=demo_headers(settings))
    assert response.status_code == 202, response.text
    return str(response.json()["incident_id"])


def _feeds(monkeypatch: pytest.MonkeyPatch, *extra: Path) -> None:
    monkeypatch.setenv("GARRISON_INTEL_FEEDS", json.dumps([str(DEFAULT_FEED), *map(str, extra)]))
    get_settings.cache_clear()


def _playbook(tmp_path: Path, failing: dict[str, Any], replace: str = "") -> str:
    """enrich, classify, contain, report, with ``failing`` in place of the step ``replace`` names, or else
    after classify."""
    contain = {"when": {"verdict": ["malicious"]}, "capabilities": ["isolate_host"]}
    steps: list[dict[str, Any]] = [
        {"id": "enrich", "kind": "enrich"},
        {"id": "classify", "kind": "classify"},
        {"id": "contain", "kind": "act", **contain},
        {"id": "tell-customer", "kind": "notify", "event": "incident_report"},
    ]
    if replace:
        steps = [failing if step["id"] == replace else step for step in steps]
    else:
        steps.insert(2, failing)
    path = tmp_path / "failing.yaml"
    path.write_text(yaml.safe_dump({"id": "failing", "name": "failing", "steps": steps}), encoding="utf-8")
    return str(path)


def _bad_notify(**extra: Any) -> dict[str, Any]:
    return {"id": "tell-soc", "kind": "notify", "event": "no_such_event", **extra}


def _bad_enrich(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> dict[str, Any]:
    unreadable = tmp_path / "feed-is-a-directory.csv"
    unreadable.mkdir()
    _feeds(monkeypatch, unreadable)
    return {"id": "enrich", "kind": "enrich", **extra}


def _incident(store: Store, incident_id: str) -> IncidentView:
    incident = store.incident(incident_id)
    assert incident is not None
    return incident


def _isolated(store: Store) -> bool:
    return bool(LabFleet(store.engine).show("demo", DEMO_HOST)[0]["isolated"])


def _failed_notes(incident: IncidentView, step: str) -> list[str]:
    return [t.message for t in incident.timeline if t.step == step and f"step {step} failed" in t.message]


async def _read_state(flow_run_id: str) -> State:
    async with get_client() as client:
        run = await client.read_flow_run(UUID(flow_run_id))
    assert run.state is not None
    return run.state


def _state(incident: IncidentView) -> State:
    assert incident.flow_run_id
    return asyncio.run(_read_state(incident.flow_run_id))


def test_continue_notes_the_failure_and_the_playbook_goes_on(
    settings: Settings, store: Store, mykings: str, tmp_path: Path
) -> None:
    playbook = _playbook(tmp_path, _bad_notify(on_failure="continue"))

    result = respond(RespondRequest(incident_id=mykings, playbook=playbook))

    incident = _incident(store, mykings)
    [note] = _failed_notes(incident, "tell-soc")
    assert NO_TEMPLATE in note and note.endswith("; the playbook goes on")
    # The steps after it ran: the host is isolated and the customer got the report.
    assert result["status"] == incident.status == "contained"
    assert [(a.key, a.status) for a in incident.actions] == [("lab.isolate_host", "succeeded")]
    assert _isolated(store)
    assert [n.event for n in incident.notifications] == ["containment_done", "incident_report"]
    assert not (settings.outbox_dir / "_analysts").exists()  # nobody was called for it
    assert _state(incident).is_completed()


@pytest.mark.parametrize("failing", ["notify-without-template", "enrich-unreadable-feed"])
def test_escalate_is_the_default_the_analysts_are_told_and_the_run_ends_completed(
    failing: str,
    settings: Settings,
    store: Store,
    mykings: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if failing == "notify-without-template":
        step, why, replace = _bad_notify(), NO_TEMPLATE, ""
    else:
        step, why, replace = _bad_enrich(tmp_path, monkeypatch), "FeedError", "enrich"
    playbook = _playbook(tmp_path, step, replace)

    result = respond(RespondRequest(incident_id=mykings, playbook=playbook))

    incident = _incident(store, mykings)
    assert result["status"] == incident.status == "awaiting_approval"
    failure = next(t.message for t in incident.timeline if t.step == "escalate")
    assert f"step {step['id']} failed" in failure and why in failure
    # The analysts hear why; nothing after the failed step ran.
    [escalation] = (settings.outbox_dir / "_analysts").iterdir()
    assert f"step {step['id']} failed" in escalation.read_text(encoding="utf-8")
    assert [n.event for n in incident.notifications] == ["escalation"]
    assert incident.actions == [] and not _isolated(store)
    assert not (settings.outbox_dir / "demo").exists()
    if failing == "enrich-unreadable-feed":
        assert incident.verdict is None  # classify came after it
    assert _state(incident).is_completed()


def test_stop_ends_the_run_failed_and_nothing_after_it_runs(
    settings: Settings, store: Store, mykings: str, tmp_path: Path
) -> None:
    playbook = _playbook(tmp_path, _bad_notify(on_failure="stop"))

    with pytest.raises(ValueError, match=NO_TEMPLATE):
        respond(RespondRequest(incident_id=mykings, playbook=playbook))

    incident = _incident(store, mykings)
    [note] = _failed_notes(incident, "tell-soc")
    assert note.endswith("; the run stops")
    assert incident.verdict == "malicious"  # the steps before it ran
    assert incident.actions == [] and not _isolated(store)
    assert incident.notifications == []
    assert not (settings.outbox_dir / "_analysts").exists()
    assert _state(incident).is_failed()


@pytest.fixture
def silent_feed(tmp_path: Path) -> Iterator[Path]:
    """An intel feed that is a FIFO nobody writes to: reading it waits for ever. Should the step's timeout
    not interrupt the read, a writer opens it after a while so the test fails instead of hanging."""
    fifo = tmp_path / "silent-feed.csv"
    os.mkfifo(fifo)

    def unblock() -> None:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the reader then sees an empty feed
        except OSError as error:
            assert error.errno == errno.ENXIO  # nobody is reading: nothing to unblock

    failsafe = threading.Timer(30.0, unblock)
    failsafe.start()
    yield fifo
    failsafe.cancel()
    unblock()


def test_a_step_timeout_that_expires_is_a_failure(
    store: Store, mykings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, silent_feed: Path
) -> None:
    _feeds(monkeypatch, silent_feed)
    slow = {"id": "enrich", "kind": "enrich", "timeout": 1, "on_failure": "continue"}
    playbook = _playbook(tmp_path, slow, replace="enrich")

    started = time.monotonic()
    result = respond(RespondRequest(incident_id=mykings, playbook=playbook))
    took = time.monotonic() - started

    incident = _incident(store, mykings)
    [note] = _failed_notes(incident, "enrich")
    assert "took longer than its timeout (1 s)" in note and note.endswith("; the playbook goes on")
    assert took < 25  # the read was cut at the timeout, not ended by the fixture's writer
    # The playbook went on without the intel: classified, contained, reported.
    assert incident.verdict is not None and result["playbook"] == "failing"
    assert "incident_report" in [n.event for n in incident.notifications]
    assert _state(incident).is_completed()


# -- a timeout on an act step ---------------------------------------------------------------------------

FALCON = "https://falcon.test"
ACME = f"""
tenants:
  - id: acme
    name: Acme Corp
    notify: [{{url: 'outbox://acme'}}]
    adapters:
      crowdstrike:
        settings: {{base_url: '{FALCON}', verify_timeout: 30, poll_interval: 0.05}}
        secrets:
          crowdstrike_client_id: {{env: ACME_FALCON_CLIENT_ID}}
          crowdstrike_client_secret: {{env: ACME_FALCON_CLIENT_SECRET}}
"""


@pytest.fixture
def slow_falcon(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The MyKings incident of a CrowdStrike tenant whose Falcon (faked at the HTTP boundary) accepts the
    containment but never reports the device contained: the isolation polls for 30 s."""
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(ACME, encoding="utf-8")
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(tenants))
    monkeypatch.setenv("ACME_FALCON_CLIENT_ID", "acme-falcon-id")
    monkeypatch.setenv("ACME_FALCON_CLIENT_SECRET", "acme-falcon-secret")
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    get_settings.cache_clear()
    document = mykings_alert()
    document["metadata"]["tenant_uid"] = "acme"
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    with respx.mock(base_url=FALCON, assert_all_called=False) as mock:
        FakeFalcon(mock).settle = False
        mock.route(host="127.0.0.1").pass_through()  # the Prefect API stays real
        mock.route(host="localhost").pass_through()
        yield incident_id


def test_an_act_step_that_times_out_leaves_the_incident_with_an_analyst(
    store: Store, slow_falcon: str, tmp_path: Path
) -> None:
    slow = {"id": "contain", "kind": "act", "capabilities": ["isolate_host"], "timeout": 1}
    playbook = _playbook(tmp_path, {**slow, "on_failure": "continue"}, replace="contain")

    result = respond(RespondRequest(incident_id=slow_falcon, playbook=playbook))

    incident = _incident(store, slow_falcon)
    [note] = _failed_notes(incident, "contain")
    assert "took longer than its timeout (1 s)" in note and note.endswith("; the playbook goes on")
    assert [a.key for a in incident.actions] == ["crowdstrike.isolate_host"]
    assert _state(incident).is_completed()
    # Containment never goes quiet: an isolation that did not finish is an analyst's to look at.
    assert result["status"] == incident.status == "awaiting_approval"
    assert "escalation" in [n.event for n in incident.notifications]
