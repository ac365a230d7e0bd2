"""Online triage reads the telemetry the intake stored, and reaches the same answers as offline triage."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from flows.intake._service import Intake
from flows.models import Alert
from flows.settings import Settings
from flows.store import Store
from flows.tenants import Policy, Tenant
from flows.triage import MemoryTelemetry, StoreTelemetry, triage
from flows.triage._offline import read_events

CASE = Path(__file__).parent / "corpus" / "pcastle"


def test_store_and_memory_telemetry_give_the_same_verdict(settings: Settings, store: Store) -> None:
    lines = [json.loads(line) for line in (CASE / "events.ndjson").read_text().splitlines()]
    report = Intake(store).accept_events(Tenant(id="acme", name="ACME"), list(enumerate(lines, start=1)))
    alert = Alert.model_validate(json.loads((CASE / "alert.json").read_text()))
    now = datetime.fromisoformat("2026-11-15T09:00:00+00:00")

    online = triage([alert], alert.indicators(), Policy(), StoreTelemetry(store.engine), now)
    offline = triage(
        [alert],
        alert.indicators(),
        Policy(),
        MemoryTelemetry(read_events(CASE / "events.ndjson", "acme")),
        now,
    )

    assert report.events_stored == len(lines) and not report.rejected
    assert online.verdict == offline.verdict
    assert online.verdict.verdict.value == "malicious"
    assert online.features["network"]["beacons"] == offline.features["network"]["beacons"]


def test_the_triage_benchmark_runs(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["bench", "triage", "--events", "400", "--repeat", "1", "--json"])

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["events"] == 400 and figures["memory_ms_median"] > 0 and figures["store_ms_median"] > 0
