"""A Windows event in any of the JSON shapes it travels in, read into one form (``WindowsEvent``).

- ``evtx``: what ``evtx_dump -o json`` and the ``evtx`` Python package print: ``{"Event": {"System": …,
  "EventData": …}}``; attributes under ``#attributes`` (or ``<name>_attributes`` with
  ``--separate-json-attributes``); ``UserData`` (e.g. Security 1102) read like ``EventData``.
- ``winlogbeat``: Winlogbeat and Elastic Agent documents (``winlog.event_data``). Their Sysmon and Security
  processors *move* some fields out of ``event_data`` into ECS fields (``Image`` becomes
  ``process.executable``); ``_ECS_MOVED`` moves them back, so the event has its native field names again.
- ``wazuh``: Wazuh's ``data.win`` records, whose field names start lower-case (``commandLine``).

Field values stay as sent: the original event is kept whole under the OCSF document's ``unmapped.windows``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flows.normalize import get

MAX_FIELDS = 256  # an EventData block with more names than any Windows event has is not read past this
MAX_VALUE = 65_536  # characters kept of one field (a script block can be long; a 10 MB one is an attack)


class WindowsEventError(ValueError):
    """A Windows event that cannot be read; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class WindowsEvent:
    """One Windows event log record, whatever shape it came in."""

    provider: str
    channel: str
    event_id: int
    computer: str
    time: int  # ms since the epoch
    data: dict[str, Any]  # EventData (or UserData), native field names
    shape: str
    record_id: int | None = None
    user_sid: str | None = None
    system: dict[str, Any] = field(default_factory=dict)  # the rest of System (Level, Task, Keywords, …)

    def kept(self) -> dict[str, Any]:
        """The event as the OCSF document keeps it (``unmapped.windows``)."""
        return {
            "shape": self.shape,
            "provider": self.provider,
            "channel": self.channel,
            "event_id": self.event_id,
            "computer": self.computer,
            "record_id": self.record_id,
            "user_sid": self.user_sid,
            "time": self.time,
            "event_data": self.data,
            "system": self.system,
        }


def shape_of(document: Any) -> str | None:
    """Which Windows shape ``document`` is in, or None for anything else (an OCSF event, say)."""
    if not isinstance(document, dict) or "class_uid" in document:
        return None
    if isinstance(document.get("Event"), dict) and isinstance(document["Event"].get("System"), dict):
        return "evtx"
    if isinstance(get(document, "winlog"), dict) or get(document, "winlog.event_id") is not None:
        return "winlogbeat"
    if isinstance(get(document, "data.win.system"), dict):
        return "wazuh"
    return None


def read_windows(document: Any) -> WindowsEvent | None:
    """The Windows event in ``document``, None if it is no Windows shape; WindowsEventError if it is one
    but lacks what every event has (an event id, a time)."""
    shape = shape_of(document)
    if shape == "evtx":
        return _evtx(document["Event"])
    if shape == "winlogbeat":
        return _winlogbeat(document)
    if shape == "wazuh":
        return _wazuh(document)
    return None


def kept_event(kept: Any) -> WindowsEvent | None:
    """A ``WindowsEvent`` back from what ``WindowsEvent.kept`` stored; None if it is not one."""
    if not isinstance(kept, dict) or not isinstance(kept.get("event_data"), dict):
        return None
    event_id, stamp = kept.get("event_id"), kept.get("time")
    if not isinstance(event_id, int) or not isinstance(stamp, int):
        return None
    return WindowsEvent(
        provider=str(kept.get("provider") or ""),
        channel=str(kept.get("channel") or ""),
        event_id=event_id,
        computer=str(kept.get("computer") or ""),
        time=stamp,
        data=kept["event_data"],
        shape=str(kept.get("shape") or ""),
    )


def _attribute(holder: Any, element: str, name: str) -> Any:
    # evtx_dump writes attributes as {"Provider": {"#attributes": {"Name": …}}}, or with
    # --separate-json-attributes as {"Provider_attributes": {"Name": …}}.
    return get(holder, f"{element}.#attributes.{name}", get(holder, f"{element}_attributes.{name}"))


def _evtx(event: dict[str, Any]) -> WindowsEvent:
    system = event["System"]
    data = event.get("EventData")
    if not isinstance(data, dict):
        user_data = event.get("UserData")
        # UserData holds one element named after the event (<LogFileCleared>…): its children are the fields.
        inner = next(iter(user_data.values()), None) if isinstance(user_data, dict) and user_data else None
        data = inner if isinstance(inner, dict) else {}
    rest = {
        k: v
        for k, v in system.items()
        if k not in ("Provider", "EventID", "Channel", "Computer", "TimeCreated", "EventRecordID", "Security")
        and not k.endswith("_attributes")
    }
    return WindowsEvent(
        provider=_string(_attribute(system, "Provider", "Name")),
        channel=_string(system.get("Channel")),
        event_id=_event_id(system.get("EventID"), "Event.System.EventID"),
        computer=_string(system.get("Computer")),
        time=_moment(_attribute(system, "TimeCreated", "SystemTime"), "Event.System.TimeCreated"),
        data=_fields(data),
        shape="evtx",
        record_id=_number(system.get("EventRecordID")),
        user_sid=_optional(_attribute(system, "Security", "UserID")),
        system=rest,
    )


# Winlogbeat's Sysmon and Security modules move these out of winlog.event_data (mode "rename"): put back.
# https://github.com/elastic/beats/blob/main/x-pack/winlogbeat/module/sysmon/config/winlogbeat-sysmon.js
_ECS_MOVED: dict[str, tuple[tuple[str, str], ...]] = {
    "process": (
        ("process.executable", "Image"),
        ("process.command_line", "CommandLine"),
        ("process.working_directory", "CurrentDirectory"),
        ("process.entity_id", "ProcessGuid"),
        ("process.pid", "ProcessId"),
        ("process.parent.executable", "ParentImage"),
        ("process.parent.command_line", "ParentCommandLine"),
        ("process.parent.entity_id", "ParentProcessGuid"),
        ("process.parent.pid", "ParentProcessId"),
        ("process.pe.original_file_name", "OriginalFileName"),
    ),
    "file": (("file.path", "TargetFilename"),),
    "module": (("file.path", "ImageLoaded"),),
    "network": (
        ("network.transport", "Protocol"),
        ("source.ip", "SourceIp"),
        ("source.domain", "SourceHostname"),
        ("source.port", "SourcePort"),
        ("destination.ip", "DestinationIp"),
        ("destination.domain", "DestinationHostname"),
        ("destination.port", "DestinationPort"),
        ("network.protocol", "DestinationPortName"),
    ),
    "dns": (("dns.question.name", "QueryName"),),
    "pipe": (("file.name", "PipeName"),),
}
_SYSMON_MOVED = {
    1: ("process",),
    2: ("process", "file"),
    3: ("process", "network"),
    5: ("process",),
    7: ("process", "module"),
    11: ("process", "file"),
    12: ("process",),
    13: ("process",),
    14: ("process",),
    15: ("process", "file"),
    17: ("process", "pipe"),
    18: ("process", "pipe"),
    22: ("process", "dns"),
    23: ("process", "file"),
    26: ("process", "file"),
    29: ("process", "file"),
}


def _winlogbeat(document: dict[str, Any]) -> WindowsEvent:
    event_id = _event_id(get(document, "winlog.event_id", get(document, "event.code")), "winlog.event_id")
    provider = _string(get(document, "winlog.provider_name"))
    data = dict(_fields(get(document, "winlog.event_data") or get(document, "winlog.user_data") or {}))
    if "sysmon" in provider.lower():
        for group in _SYSMON_MOVED.get(event_id, ()):
            for ecs, native in _ECS_MOVED[group]:
                value = get(document, ecs)
                if native not in data and isinstance(value, str | int | float | bool):
                    data[native] = value
    winlog = get(document, "winlog")
    rest = {
        k: v
        for k, v in (winlog.items() if isinstance(winlog, dict) else ())
        if k not in ("event_data", "user_data", "event_id", "provider_name", "channel", "computer_name")
    }
    return WindowsEvent(
        provider=provider,
        channel=_string(get(document, "winlog.channel")),
        event_id=event_id,
        computer=_string(get(document, "winlog.computer_name", get(document, "host.name"))),
        time=_moment(get(document, "@timestamp"), "@timestamp"),
        data=data,
        shape="winlogbeat",
        record_id=_number(get(document, "winlog.record_id")),
        user_sid=_optional(get(document, "winlog.user.identifier")),
        system=rest,
    )


def _wazuh(document: dict[str, Any]) -> WindowsEvent:
    system = get(document, "data.win.system")
    # Wazuh writes EventData names with a lower-case first letter (commandLine): the native name is back
    # with the first letter raised.
    raw = get(document, "data.win.eventdata")
    data = {k[:1].upper() + k[1:]: v for k, v in _fields(raw if isinstance(raw, dict) else {}).items()}
    return WindowsEvent(
        provider=_string(system.get("providerName")),
        channel=_string(system.get("channel")),
        event_id=_event_id(system.get("eventID"), "data.win.system.eventID"),
        computer=_string(system.get("computer") or get(document, "agent.name")),
        time=_moment(system.get("systemTime") or get(document, "timestamp"), "data.win.system.systemTime"),
        data=data,
        shape="wazuh",
        record_id=_number(system.get("eventRecordID")),
        user_sid=_optional(system.get("securityUserID")),
        system={
            k: v
            for k, v in system.items()
            if k not in ("providerName", "channel", "eventID", "computer", "systemTime", "eventRecordID")
        },
    )


def _fields(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    fields: dict[str, Any] = {}
    for name, value in list(data.items())[:MAX_FIELDS]:
        if not isinstance(name, str) or name.startswith("#"):
            continue
        if isinstance(value, dict) and "#text" in value:  # an element with attributes: its text is the value
            value = value["#text"]
        if isinstance(value, str):
            value = value[:MAX_VALUE]
        fields[name] = value
    return fields


def _event_id(value: Any, where: str) -> int:
    if isinstance(value, dict):  # <EventID Qualifiers="16384">7045</EventID>
        value = value.get("#text")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        raise WindowsEventError(where, "required: the event id, a number")
    return value


def _moment(value: Any, where: str) -> int:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace(" UTC", "").replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return int(moment.timestamp() * 1000)
    raise WindowsEventError(where, "required: when it happened, an ISO 8601 time")


def _string(value: Any) -> str:
    return value[:1024] if isinstance(value, str) else ""


def _optional(value: Any) -> str | None:
    return value[:256] if isinstance(value, str) and value else None


def _number(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62 else None
