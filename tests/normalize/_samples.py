"""Loading the real alert samples of tests/fixtures/alerts/<format>/ (each folder's ORIGIN.txt says where
they come from) and reading an alert's evidence the way an analyst looks for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flows.models import Alert
from flows.normalize import FieldMapping

ALERTS = Path(__file__).parents[1] / "fixtures" / "alerts"

# A tenant's mapping for Sysmon events exported in the evtx_dump layout (SigmaHQ regression data).
SYSMON = FieldMapping(
    product="sysmon",
    title={"const": "Sysmon event"},
    uid="Event.System.EventRecordID",
    hostname="Event.System.Computer",
    time="Event.System.TimeCreated.#attributes.SystemTime",
    command_line="Event.EventData.CommandLine",
    process_path="Event.EventData.Image",
    parent_process_path="Event.EventData.ParentImage",
    parent_command_line="Event.EventData.ParentCommandLine",
    user="Event.EventData.User",
    hashes="Event.EventData.Hashes",
    file_path=["Event.EventData.TargetFilename", "Event.EventData.ImageLoaded"],
    registry_path="Event.EventData.TargetObject",
    registry_data="Event.EventData.Details",
    src_ip="Event.EventData.SourceIp",
    dst_ip="Event.EventData.DestinationIp",
    dst_port="Event.EventData.DestinationPort",
    dst_hostname="Event.EventData.DestinationHostname",
    dns_query="Event.EventData.QueryName",
)


def sample(name: str, line: int = 1) -> Any:
    """Record ``line`` (1-based) of an NDJSON fixture, item ``line`` of a JSON array, or a JSON file."""
    path = ALERTS / name
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ndjson":
        return json.loads(text.splitlines()[line - 1])
    document = json.loads(text)
    return document[line - 1] if isinstance(document, list) else document


def indicators(alert: Alert) -> set[tuple[str, str]]:
    return {(i.type.value, i.value) for i in alert.indicators()}


def evidence(alert: Alert, path: str) -> list[Any]:
    """Every value at a dotted path in the alert's evidences (lists are looked into)."""
    found: list[Any] = []
    for item in alert.evidences:
        holders: list[Any] = [item]
        for part in path.split("."):
            holders = [h.get(part) for h in holders if isinstance(h, dict)]
            holders = [x for h in holders for x in (h if isinstance(h, list) else [h])]
        found += [h for h in holders if h is not None]
    return found
