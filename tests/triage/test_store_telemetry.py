"""Online triage reads the telemetry the intake stored, and reaches the same answers as offline triage."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from flows.cli import app
from flows.intake._service import Intake
from flows.models import Alert
from flows.settings import Settings
from flows.store import Store, event_row
from flows.tenants import Policy, Tenant
from flows.triage import MemoryTelemetry, StoreTelemetry, triage
from flows.triage._findings import Answers
from flows.triage._network import network_answers
from flows.triage._offline import read_events

CASE = Path(__file__).parent / "corpus" / "pcastle"


def test_store_and_memory_telemetry_give_the_same_verdict(settings: Settings, store: Store) -> None:
    lines = [json.loads(line) for line in (CASE / "events.ndjson").read_text().splitlines()]
    report = Intake(store).accept_events(Tenant(id="acme", name="ACME"), list(enumerate(lines, start=1)))
    alert = Alert.model_validate(json.loads((CASE / "alert.json").read_text()))
    now = datetime.fromisoformat("2026-11-15T09:00:00+00:00")

    read = read_events(CASE / "events.ndjson", "acme")
    online = triage([alert], alert.indicators(), Policy(), StoreTelemetry(store.engine), now)
    offline = triage(
        [alert], alert.indicators(), Policy(), MemoryTelemetry(read.rows, skipped=read.skipped), now
    )

    assert report.events_stored == len(lines) and not report.rejected
    assert online.verdict == offline.verdict
    assert online.verdict.verdict.value == "malicious"
    assert online.features["network"]["beacons"] == offline.features["network"]["beacons"]
    assert online.features["telemetry"] == offline.features["telemetry"] == {"given": True, "skipped": 0}


def test_the_triage_benchmark_runs(settings: Settings) -> None:
    result = CliRunner().invoke(app, ["bench", "triage", "--events", "400", "--repeat", "1", "--json"])

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["events"] == 400 and figures["memory_ms_median"] > 0 and figures["store_ms_median"] > 0


# -- a destination by any of its identities, in the store as in memory ---------------------------------------

START = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)


def _calls(count: int = 16) -> list[dict[str, Any]]:
    """WS-ACC-01 calls 203.0.113.45 every 15 minutes; every other event also names the server."""
    calls = []
    for n in range(count):
        endpoint: dict[str, Any] = {"ip": "203.0.113.45", "port": 443}
        if n % 2 == 0:
            endpoint["hostname"] = "upd.example.net"
        calls.append(
            {
                "class_uid": 4001,
                "time": int((START + timedelta(minutes=15 * n)).timestamp() * 1000),
                "device": {"hostname": "WS-ACC-01"},
                "dst_endpoint": endpoint,
                "traffic": {"bytes_out": 180, "bytes_in": 0},
            }
        )
    return calls


def _stored(store: Store, documents: list[dict[str, Any]], tenant: str = "acme") -> None:
    report = Intake(store).accept_events(Tenant(id=tenant, name=tenant), list(enumerate(documents, start=1)))
    assert report.events_stored == len(documents) and not report.rejected


@pytest.mark.parametrize(
    ("named", "found", "label"),
    [
        (["203.0.113.45"], 16, "203.0.113.45"),
        (["upd.example.net"], 8, "upd.example.net"),
        (["UPD.Example.net"], 8, "upd.example.net"),
        (["upd.example.net", "203.0.113.45"], 16, "upd.example.net"),
    ],
)
def test_the_store_finds_a_destination_by_its_name_or_its_ip_as_memory_does(
    settings: Settings, store: Store, named: list[str], found: int, label: str
) -> None:
    _stored(store, _calls())
    memory = MemoryTelemetry(event_row(document, "acme") for document in _calls())
    online, offline = StoreTelemetry(store.engine).to_destinations(named), memory.to_destinations(named)

    assert len(online) == len(offline) == found
    assert {r["dst"] for r in online} == {r["dst"] for r in offline} == {label}
    answers = {"store": Answers(), "memory": Answers()}
    network_answers(answers["store"], "acme", online)
    network_answers(answers["memory"], "acme", offline)
    assert answers["store"].features["network"] == answers["memory"].features["network"]
    assert [b["destination"] for b in answers["store"].features["network"]["beacons"]] == [label]


def test_rows_the_store_cannot_use_are_skipped_and_counted(settings: Settings, store: Store) -> None:
    _stored(store, [{**call, "class_uid": 1007} for call in _calls(5)])
    with store.engine.begin() as conn:  # what a hand edit or a broken tool could leave behind
        conn.execute(text("UPDATE events SET time = 'not a time' WHERE id = 1"))
        conn.execute(text("UPDATE events SET document = '[1, 2]' WHERE id = 2"))
        conn.execute(text("UPDATE events SET document = '{broken' WHERE id = 3"))
    telemetry = StoreTelemetry(store.engine)

    rows = telemetry.on_hosts("acme", ["WS-ACC-01"])
    telemetry.on_hosts("acme", ["WS-ACC-01"])  # read twice, counted once

    assert len(rows) == 2 and telemetry.skipped == 3
    assert all(isinstance(r["time"], datetime) and r["time"].tzinfo for r in rows)
    assert all(r["document"]["device"] == {"hostname": "WS-ACC-01"} for r in rows)
