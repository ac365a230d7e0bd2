"""Golden files: every event in every channel and language, rendered for two fixed incidents, must match
``tests/notify/golden/`` byte for byte. A template or catalog change that alters a message shows up here
as a diff to review; when the change is intended, regenerate with ``GARRISON_UPDATE_GOLDEN=1``.

The incidents are the conftest's MyKings sample (classified, contained, one failed action) and a bare one
(only the alert: no verdict, no action, no indicator, no event details), with ids and times pinned.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.demo import mykings_alert
from flows.models import Alert
from flows.notify import CHANNELS, Event, EventDetails, campaign_context, incident_context, render_channel
from flows.settings import get_settings
from flows.store import IncidentView, Store
from flows.tenants import NotifyTarget, Tenant

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("GARRISON_UPDATE_GOLDEN") == "1"
# The languages the golden files were written for; a new catalog needs no golden files of its own.
LANGUAGES = ("en", "zh-TW", "ja")
SAMPLES = ("full", "bare")
EVENTS = [event.value for event in Event]

INCIDENT_ID = "6b1f3c2e-8d4a-4f0b-9e7c-2a5d8c1e0f3b"
FLOW_RUN_ID = "0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
RECEIVED = datetime(2019, 7, 23, 9, 2, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _console_on_its_default_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Messages link to the Prefect UI; tests run it on a free port, the golden files on the default one.
    monkeypatch.setenv("GARRISON_PREFECT_PORT", "4200")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def pinned(incident: IncidentView, *, flow_run_id: str | None = None) -> IncidentView:
    """The incident with a fixed id and fixed times: the store writes the clock's time and a random id."""

    def at(minutes: int) -> datetime:
        return RECEIVED + timedelta(minutes=minutes)

    return incident.model_copy(
        update={
            "id": INCIDENT_ID,
            "flow_run_id": flow_run_id,
            "created_at": RECEIVED,
            "updated_at": at(30),
            "contained_at": at(17) if incident.contained_at else None,
            "closed_at": at(40) if incident.closed_at else None,
            "timeline": [
                entry.model_copy(update={"at": at(index)}) for index, entry in enumerate(incident.timeline)
            ],
            "actions": [
                action.model_copy(update={"updated_at": at(10 + index)})
                for index, action in enumerate(incident.actions)
            ],
            "notifications": [],
        }
    )


def full_sample(sample: Callable[..., Any]) -> tuple[IncidentView, list[Alert], Tenant, EventDetails]:
    s = sample()
    return pinned(s.incident), s.alerts, s.tenant, s.details


def bare_sample(store: Store) -> tuple[IncidentView, list[Alert], Tenant, EventDetails]:
    document = mykings_alert()
    alert = Alert.model_validate(document)
    incident = store.incident(store.record_alert(alert, document).incident_id)
    assert incident is not None
    tenant = Tenant(id="demo", name="Demo Customer Ltd.", notify=[NotifyTarget(url="outbox://demo")])
    return pinned(incident, flow_run_id=FLOW_RUN_ID), [alert], tenant, EventDetails()


def rendered(
    which: str, sample: Callable[..., Any], store: Store, event: str, channel: str, language: str
) -> str:
    incident, alerts, tenant, details = full_sample(sample) if which == "full" else bare_sample(store)
    if event == Event.CAMPAIGN_WARNING:
        context = campaign_context(incident, tenant, language=language, details=details)
    else:
        context = incident_context(incident, tenant, language=language, alerts=alerts, details=details)
    message = render_channel(event, channel, language, context)
    return f"{message.subject}\n{message.body}"


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("which", SAMPLES)
def test_rendered_messages_match_the_golden_files(
    sample: Callable[..., Any], store: Store, which: str, language: str, event: str, channel: str
) -> None:
    text = rendered(which, sample, store, event, channel, language)
    path = GOLDEN / which / language / f"{event}.{channel}.{CHANNELS[channel]}"

    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.read_bytes() == text.encode("utf-8"), f"{path} differs (GARRISON_UPDATE_GOLDEN=1 rewrites it)"
