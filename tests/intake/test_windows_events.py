"""``POST /v1/events`` takes Windows events as they are forwarded (one per line: ``evtx_dump -o jsonl``,
Winlogbeat documents) beside OCSF; an event the mapping table does not map is refused by name."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.store import EventRow, Store

from .conftest import key_headers, ndjson

NDJSON = "application/x-ndjson"


def _sysmon(event_id: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "Event": {
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
                "EventID": event_id,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": "WS-ACC-01",
                "TimeCreated": {"#attributes": {"SystemTime": "2026-11-14T08:52:01Z"}},
            },
            "EventData": data,
        }
    }


def test_windows_events_are_stored_as_ocsf_with_the_original_kept(client: TestClient, store: Store) -> None:
    winlogbeat = {
        "@timestamp": "2026-11-14T08:53:00Z",
        "winlog": {
            "event_id": "7045",
            "provider_name": "Service Control Manager",
            "channel": "System",
            "computer_name": "WS-ACC-01",
            "event_data": {
                "ServiceName": "Software Update",
                "ImagePath": "C:\\Users\\bob\\AppData\\Roaming\\u.exe",
            },
        },
    }
    lines = [
        _sysmon(
            3,
            {
                "Image": "C:\\Windows\\System32\\msiexec.exe",
                "DestinationIp": "203.0.113.45",
                "DestinationPort": 443,
            },
        ),
        winlogbeat,
        _sysmon(255, {"ID": "x"}),
    ]

    response = client.post("/v1/events", content=ndjson(lines), headers=key_headers(content_type=NDJSON))

    body = response.json()
    assert response.status_code == 200 and body["stored"] == 2
    assert [(r["line"], r["error"]["field"]) for r in body["rejected"]] == [(3, "EventID")]
    assert "event 255 is not one Garrison maps" in body["rejected"][0]["error"]["message"]
    with Session(store.engine) as session:
        rows = session.scalars(select(EventRow).order_by(EventRow.id)).all()
    assert [(r.class_uid, r.hostname, r.dst_ip, r.dst_port, r.process_path) for r in rows] == [
        (4001, "WS-ACC-01", "203.0.113.45", 443, "C:\\Windows\\System32\\msiexec.exe"),
        (201004, "WS-ACC-01", None, None, None),
    ]
    assert rows[1].document["win_service"]["name"] == "Software Update"
    assert rows[1].document["unmapped"]["windows"]["shape"] == "winlogbeat"
    assert rows[0].tenant == "demo"
