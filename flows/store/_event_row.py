"""OCSF activity telemetry (NDJSON), or a Windows event in a native shape (``flows.winlog``): validated,
with the fields triage queries pulled out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flows.models import host_of
from flows.normalize import get, text
from flows.winlog import WindowsEventError, host_key, windows_to_ocsf

# Network 4001, HTTP 4002, DNS 4003, process 1007, file 1001, module 1005, scheduled job 1006,
# Windows registry key/value 201001/201002, Windows service 201004, authentication 3002; and what Windows
# events map to besides (flows/winlog/MAPPING.md): event log 1008, script 1009, account change 3001,
# group management 3006, device configuration state change 5019, kernel extension (driver) 1002, and the
# base event 0 (Sysmon's WMI events: OCSF has no WMI class).
EVENT_CLASSES = {
    *(4001, 4002, 4003, 1007, 1001, 1005, 1006, 201001, 201002, 201004, 3002),
    *(1008, 1009, 3001, 3006, 5019, 1002, 0),
}
LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: later times are no datetime (and were a crash)


class EventError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def event_row(document: Any, tenant: str) -> dict[str, Any]:
    """The ``events`` row for one OCSF activity event, or for a Windows event (stored as the OCSF event the
    mapping table makes of it, the original kept inside); EventError names the field at fault."""
    if not isinstance(document, dict):
        raise EventError("(line)", "an event must be a JSON object")
    if "class_uid" not in document:
        try:
            document = windows_to_ocsf(document) or document
        except WindowsEventError as error:
            raise EventError(error.field, error.message) from None
    class_uid = document.get("class_uid")
    if not isinstance(class_uid, int) or isinstance(class_uid, bool) or class_uid not in EVENT_CLASSES:
        raise EventError("class_uid", f"must be one of {sorted(EVENT_CLASSES)}")
    stamp = document.get("time")
    if not isinstance(stamp, int) or isinstance(stamp, bool) or not 0 <= stamp <= LAST_MS:
        raise EventError("time", "required: milliseconds since the epoch")
    named = get(document, "metadata.tenant_uid")
    if named is not None and named != tenant:
        raise EventError("metadata.tenant_uid", "names another tenant; a tenant writes only its own events")
    return {
        "tenant": tenant,
        "class_uid": class_uid,
        "time": datetime.fromtimestamp(stamp / 1000, UTC),
        "hostname": (hostname := _cap(text(document, "device.hostname", "src_endpoint.hostname"), 255)),
        "host_key": host_key(hostname) if hostname else None,
        "dst": _cap(_destination_name(document) or _lower(text(document, "dst_endpoint.ip")), 2048),
        "dst_ip": _cap(_lower(text(document, "dst_endpoint.ip")), 64),
        "dst_port": _int(get(document, "dst_endpoint.port")),
        "bytes_out": _int(get(document, "traffic.bytes_out")),
        "bytes_in": _int(get(document, "traffic.bytes_in")),
        "process_path": _cap(text(document, "actor.process.file.path", "process.file.path"), 1024),
        "parent_path": _cap(
            text(document, "actor.process.parent_process.file.path", "process.parent_process.file.path"), 1024
        ),
        "document": document,
    }


def _destination_name(document: Any) -> str | None:
    # The name the client asked for comes first (DNS query, URL, TLS SNI); the endpoint's own hostname may be
    # a reverse-DNS name of a shared server. Names are case-insensitive: stored lower-case so the store's
    # exact match agrees with the in-memory one. The IP is kept apart (``dst_ip``), so either identity finds
    # the event.
    name = text(
        document,
        "query.hostname",
        "http_request.url.hostname",
        "tls.sni",
        "tls.server_name",
        "dst_endpoint.hostname",
        "dst_endpoint.domain",
    )
    if name is None and (url := text(document, "http_request.url.url_string")):
        name = host_of(url)
    return _lower(name)


def _lower(value: str | None) -> str | None:
    return value.strip().lower() if value else None


def _cap(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62 else None
