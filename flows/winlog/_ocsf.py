"""Both directions of the mapping table: a Windows event as an OCSF activity event (``to_ocsf``), and any
stored event as the native Windows fields Sigma rules are written for (``sigma_view``)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from flows.normalize import get

from ._mapping import PRODUCTS, SERVICES, TABLE, Mapping, mapping_for, source_of
from ._shapes import WindowsEvent, WindowsEventError, kept_event

OCSF_VERSION = "1.5.0"
_INTEGERS = re.compile(r"(^|\.)(pid|port)$|_id$")
_TASK_COMMAND = re.compile(r"<Command>([^<]{1,4096})</Command>")
_TASK_ARGUMENTS = re.compile(r"<Arguments>([^<]{1,8192})</Arguments>")
_SIGNATURE_STATES = {"valid": 1, "expired": 2, "revoked": 3}
_LOADED = {1005: "module", 1002: "driver"}  # what a module or driver load names its file under


@dataclass(frozen=True)
class SigmaView:
    """What Sigma rules see of one event: its log sources (``product:windows``, ``service:sysmon``,
    ``category:process_creation``) and its fields under their native Windows names."""

    sources: frozenset[str]
    fields: dict[str, Any]


def to_ocsf(event: WindowsEvent) -> dict[str, Any]:
    """The OCSF activity event for a Windows event the table maps; WindowsEventError for any other."""
    source = source_of(event.provider, event.channel)
    found = mapping_for(source, event.event_id, event.data.get("EventType")) if source else None
    if source is None or found is None:
        where = event.channel or event.provider or "an unknown log"
        raise WindowsEventError("EventID", f"{where} event {event.event_id} is not one Garrison maps to OCSF")
    document: dict[str, Any] = {
        "class_uid": found.class_uid,
        "activity_id": found.activity_id,
        "category_uid": found.class_uid // 1000 % 100,
        "type_uid": found.class_uid * 100 + found.activity_id,
        "time": event.time,
        "severity_id": 1,
        "metadata": {
            "version": OCSF_VERSION,
            "product": dict(zip(("name", "vendor_name"), PRODUCTS[source], strict=True)),
            "log_name": event.channel,
            "event_code": str(event.event_id),
            **({"uid": str(event.record_id)} if event.record_id is not None else {}),
        },
        "device": {"hostname": event.computer} if event.computer else {},
        "unmapped": {"windows": event.kept()},
    }
    for path, value in found.constants:
        _put(document, path, value)
    for name, path in found.fields:
        value = event.data.get(name)
        if value is None or value == "":
            continue
        if "|" in path:
            _put_split(document, path, value)
        else:
            _put(document, path, _typed(path, value))
    _derived(document, found, event.data)
    return document


def _typed(path: str, value: Any) -> Any:
    if _INTEGERS.search(path) and isinstance(value, str):
        digits = value.strip()
        if digits.isdigit():
            return int(digits)
        if digits.lower().startswith("0x"):  # Security writes process ids in hex
            try:
                return int(digits, 16)
            except ValueError:
                return value
    return value


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    holder = document
    for part in parents:
        holder = holder.setdefault(part, {})
        if not isinstance(holder, dict):
            return
    holder[last] = value


def _put_split(document: dict[str, Any], path: str, value: Any) -> None:
    key_path, name = path.split("|")
    key, _, leaf = str(value).rpartition("\\")
    _put(document, key_path, key)
    _put(document, f"{key_path.rsplit('.', 1)[0]}.{name}", leaf)


def _derived(document: dict[str, Any], found: Mapping, data: dict[str, Any]) -> None:
    """Fields that are no copy of one Windows field: a module's or driver's signature, a task's command."""
    if found.class_uid in _LOADED:
        holder = _LOADED[found.class_uid]
        signed = str(data.get("Signed", "")).lower()
        signature = get(document, f"{holder}.file.signature")
        if signed == "false":
            document.get(holder, {}).get("file", {}).pop("signature", None)
        elif isinstance(signature, dict):
            state = str(signature.get("state", "")).lower()
            signature["state_id"] = _SIGNATURE_STATES.get(state, 99)
    if found.class_uid == 1006:
        content = str(data.get("TaskContent") or data.get("TaskContentNew") or "")
        command = _TASK_COMMAND.search(content)
        if command:
            arguments = _TASK_ARGUMENTS.search(content)
            line = html.unescape(command.group(1).strip())
            if arguments:
                line += " " + html.unescape(arguments.group(1).strip())
            _put(document, "job.cmd_line", line)


def sigma_view(document: Any) -> SigmaView | None:
    """The event as Sigma rules see it, or None if no rule could apply to it.

    A Windows event stored by ``to_ocsf`` is seen as it was sent (every EventData field). An event that
    arrived as OCSF is read back through the table's pairs; its product is Windows unless it says otherwise
    (or its paths are not Windows paths).
    """
    if not isinstance(document, dict):
        return None
    event = kept_event(get(document, "unmapped.windows"))
    if event is not None:
        return _native_view(event)
    return _ocsf_view(document)


def _native_view(event: WindowsEvent) -> SigmaView | None:
    source = source_of(event.provider, event.channel)
    if source is None:
        return None
    found = mapping_for(source, event.event_id, event.data.get("EventType"))
    fields = dict(event.data)
    fields.update(EventID=event.event_id, Provider_Name=event.provider, Channel=event.channel)
    if event.computer:
        fields["Computer"] = event.computer
    sources = {"product:windows", f"service:{SERVICES[source]}"}
    if found is not None:
        sources.update(f"category:{c}" for c in found.categories)
        for alias, name in found.sigma:
            if name in event.data:
                fields[alias] = event.data[name]
    return SigmaView(frozenset(sources), fields)


def _reverse_order() -> list[Mapping]:
    # Rows with constants (named pipes are files of type 6) are tried first; Sysmon rows before others.
    return sorted(TABLE, key=lambda m: (not m.constants, m.source != "sysmon"))


_REVERSE = _reverse_order()


def _ocsf_view(document: dict[str, Any]) -> SigmaView | None:
    class_uid, activity = document.get("class_uid"), document.get("activity_id")
    for candidate in _REVERSE:
        if candidate.class_uid != class_uid or (activity is not None and candidate.activity_id != activity):
            continue
        if all(get(document, path) == value for path, value in candidate.constants):
            found = candidate
            break
    else:
        return None
    fields: dict[str, Any] = {}
    for name, path in found.fields:
        if "|" in path:
            key_path, leaf = path.split("|")
            key, value = get(document, key_path), get(document, f"{key_path.rsplit('.', 1)[0]}.{leaf}")
            if isinstance(key, str) and isinstance(value, str):
                fields[name] = f"{key}\\{value}"
            elif isinstance(key, str):
                fields[name] = key
            continue
        value = get(document, path)
        if isinstance(value, str | int | float | bool) or (isinstance(value, list) and value):
            fields[name] = value
    if not fields or not _windows(document, fields):
        return None
    for alias, name in found.sigma:
        if name in fields:
            fields[alias] = fields[name]
    sources = {"product:windows", *(f"category:{c}" for c in found.categories)}
    return SigmaView(frozenset(sources), fields)


def _windows(document: dict[str, Any], fields: dict[str, Any]) -> bool:
    os_type = str(get(document, "device.os.type") or "").lower()
    if os_type:
        return os_type == "windows"
    type_id = get(document, "device.os.type_id")
    if type_id is not None:
        return bool(type_id == 100)
    paths = [v for v in fields.values() if isinstance(v, str) and ("/" in v or "\\" in v)]
    return not paths or any("\\" in v for v in paths)
