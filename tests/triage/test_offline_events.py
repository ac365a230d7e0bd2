"""Offline telemetry that does not break: unknown or malformed lines are skipped, counted and said, never
fatal; a destination is found by its name or its IP and counted once, as the alert named it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.store import event_row
from flows.triage import MemoryTelemetry
from flows.triage._findings import Answers
from flows.triage._network import network_answers
from flows.triage._offline import MAX_WARNINGS, read_events

DUOBEAN = Path(__file__).parent / "corpus" / "duobean"
runner = CliRunner()

# A valid OCSF event of a class triage does not read: Registry Value Query (Windows extension, Discovery).
REGISTRY_VALUE_QUERY = {
    "class_uid": 205005,
    "class_name": "Registry Value Query",
    "category_uid": 5,
    "category_name": "Discovery",
    "activity_id": 1,
    "activity_name": "Query",
    "type_uid": 20500501,
    "severity_id": 1,
    "time": 1794560401000,
    "metadata": {
        "version": "1.3.0",
        "product": {"name": "Sysmon", "vendor_name": "Microsoft"},
        "tenant_uid": "acme",
    },
    "device": {"hostname": "WS-ACC-01", "os": {"name": "Windows 11", "type_id": 100}},
    "actor": {"process": {"pid": 4412, "file": {"path": "C:\\Windows\\System32\\reg.exe"}}},
    "reg_value": {
        "path": "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
        "name": "Software Update",
        "type_id": 1,
    },
    "query_result_id": 1,
}
GARBAGE = b"\x00\xffgarbage{not json"


def _with_bad_lines(tmp_path: Path) -> Path:
    """DUOBEAN's events with the unknown class as line 3 and garbage as line 10."""
    lines = (DUOBEAN / "events.ndjson").read_bytes().splitlines()
    lines.insert(2, json.dumps(REGISTRY_VALUE_QUERY).encode())
    lines.insert(9, GARBAGE)
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _skip_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "flows.triage._offline"]


def test_unknown_and_malformed_lines_are_skipped_counted_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text(
        "\n".join(
            [
                json.dumps({"class_uid": 4001, "time": 1, "dst_endpoint": {"ip": "203.0.113.45"}}),
                json.dumps(REGISTRY_VALUE_QUERY),
                "[1, 2]",
                json.dumps({"class_uid": 1007, "time": "yesterday"}),
                json.dumps({"class_uid": 1007, "time": 10**20}),
                "",
                "{truncated",
                json.dumps({"class_uid": 1007, "time": 2, "metadata": "not an object"}),
            ]
        )
    )

    with caplog.at_level(logging.WARNING, logger="flows.triage._offline"):
        read = read_events(path, "acme")

    assert read.skipped == 5 and [r["class_uid"] for r in read.rows] == [4001, 1007]
    assert list(read) == read.rows  # iterable as its rows
    assert _skip_warnings(caplog) == [
        f"{path}:2: event skipped: class_uid 205005 is not a class triage reads",
        f"{path}:3: event skipped: (line): an event must be a JSON object",
        f"{path}:4: event skipped: time: required: milliseconds since the epoch",
        f"{path}:5: event skipped: time: required: milliseconds since the epoch",
        f"{path}:7: event skipped: not JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
    ]


def test_a_flood_of_unknown_lines_is_summed_up_not_logged_line_by_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(REGISTRY_VALUE_QUERY) for _ in range(MAX_WARNINGS + 500)))

    with caplog.at_level(logging.WARNING, logger="flows.triage._offline"):
        read = read_events(path, "acme")

    warnings = _skip_warnings(caplog)
    assert read.skipped == MAX_WARNINGS + 500 and read.rows == []
    assert len(warnings) == MAX_WARNINGS + 1
    assert (
        warnings[-1]
        == f"{path}: 500 more lines skipped ({MAX_WARNINGS + 500} in all): only the first 20 are named"
    )


def _triage(*args: str) -> Any:
    return runner.invoke(
        app,
        ["triage", str(DUOBEAN / "alert.json"), "--now", "2026-11-15T09:00:00+00:00", *args],
        env={"COLUMNS": "200"},
    )


def test_garrison_triage_triages_the_rest_and_says_what_it_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = _with_bad_lines(tmp_path)

    with caplog.at_level(logging.WARNING, logger="flows.triage._offline"):
        shown = _triage("--events", str(events))
    warned = [message.split(": event skipped")[0] for message in _skip_warnings(caplog)]
    as_json = _triage("--events", str(events), "--json")
    clean = _triage("--events", str(DUOBEAN / "events.ndjson"), "--json")

    assert shown.exit_code == 0, shown.output
    assert "skipped: 2 events (unknown class or malformed)" in shown.stdout
    assert warned == [f"{events}:3", f"{events}:10"]
    assert as_json.exit_code == 0, as_json.output
    report, baseline = json.loads(as_json.stdout), json.loads(clean.stdout)
    assert report["features"]["telemetry"] == {"given": True, "skipped": 2}
    assert baseline["features"]["telemetry"] == {"given": True, "skipped": 0}
    assert f"Verdict {baseline['verdict'].upper()}" in shown.stdout
    # The two lines cost nothing else: the same verdict for the same reasons as without them.
    assert (report["verdict"], report["score"], report["reasons"]) == (
        baseline["verdict"],
        baseline["score"],
        baseline["reasons"],
    )
    assert "skipped" not in _triage("--events", str(DUOBEAN / "events.ndjson")).stdout


# -- a destination by any of its identities ------------------------------------------------------------------

START = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)


def _beacon(count: int = 16, *, every_other_named: bool = True) -> list[dict[str, Any]]:
    """One host calling one server every 15 minutes; every other event also carries the server's name."""
    rows = []
    for n in range(count):
        endpoint: dict[str, Any] = {"ip": "203.0.113.45", "port": 443}
        if n % 2 == 0 or not every_other_named:
            endpoint["hostname"] = "upd.example.net"
        document = {
            "class_uid": 4001,
            "time": int((START + timedelta(minutes=15 * n)).timestamp() * 1000),
            "device": {"hostname": "WS-ACC-01"},
            "dst_endpoint": endpoint,
            "traffic": {"bytes_out": 180, "bytes_in": 0},
        }
        rows.append(event_row(document, "acme"))
    return rows


@pytest.mark.parametrize("named", ["203.0.113.45", "upd.example.net", "UPD.example.net"])
def test_an_event_with_an_ip_and_a_name_is_found_by_either(named: str) -> None:
    telemetry = MemoryTelemetry(_beacon(2, every_other_named=False))

    found = telemetry.to_destinations([named])

    assert len(found) == 2
    assert {r["dst"] for r in found} == {named.lower()}  # as the alert named it
    assert {r["dst_ip"] for r in telemetry.rows} == {"203.0.113.45"}  # the held rows are not changed
    assert {r["dst"] for r in telemetry.rows} == {"upd.example.net"}


@pytest.mark.parametrize(
    ("named", "label"),
    [
        (["203.0.113.45"], "203.0.113.45"),
        (["upd.example.net"], "upd.example.net"),
        # Both named: one server, under the identity the alert named first.
        (["upd.example.net", "203.0.113.45"], "upd.example.net"),
        (["203.0.113.45", "upd.example.net"], "203.0.113.45"),
    ],
)
def test_a_beacon_seen_by_name_and_by_ip_is_one_beacon_to_the_named_destination(
    named: list[str], label: str
) -> None:
    answers = Answers()
    rows = MemoryTelemetry(_beacon()).to_destinations(named)

    network_answers(answers, "acme", rows)

    beacons = answers.features["network"]["beacons"]
    if named == ["upd.example.net"]:  # the IP-only half is not to the name the alert gave: not found
        assert len(rows) == 8
    else:
        assert len(rows) == 16
    assert [(b["host"], b["destination"]) for b in beacons] == [("ws-acc-01", label)]
    assert beacons[0]["period_seconds"] == (1800 if named == ["upd.example.net"] else 900)
