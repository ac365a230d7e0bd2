"""Generic JSON alerts through a per-source field mapping declared in the tenant configuration."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flows.models import IndicatorType

from ._ocsf_build import FindingBuilder, epoch_ms, is_internal
from ._paths import get, text
from ._windows import file_hashes, registry_value

_Path = Field(default=None, max_length=256)


class FieldMapping(BaseModel):
    """Where a source keeps each alert field (dotted paths; flattened keys work too).

    Example for Sysmon events exported as JSON::

        title: {const: "Sysmon process creation"}
        uid: Event.System.EventRecordID        # keyed on the host too: record ids repeat across hosts
        hostname: Event.System.Computer
        time: Event.System.TimeCreated.#attributes.SystemTime
        hashes: Event.EventData.Hashes          # "MD5=…,SHA256=…" or one digest
        registry_path: Event.EventData.TargetObject
        dst_ip: Event.EventData.DestinationIp
        dns_query: Event.EventData.QueryName
    """

    model_config = ConfigDict(extra="forbid")

    product: str = Field(default="generic", description="Source product name (part of the dedup key).")
    title: str | dict[str, str] = Field(description="Path of the title, or {const: 'fixed title'}.")
    uid: str | list[str] | None = Field(
        default=None, description="Path of the sender's alert id, or several paths whose values together are."
    )
    uid_per_host: bool = Field(
        default=True,
        description="Key the id on the host as well: Windows' EventRecordID, for one, repeats across hosts.",
    )
    hostname: str | None = Field(default=None, description="Path of the affected host's name.")
    host_ip: str | None = _Path
    time: str | None = Field(default=None, description="Path of the detection time (ISO 8601 or epoch).")
    severity: str | None = Field(default=None, description="Path of a severity word or 0-5 number.")
    rule: str | None = Field(default=None, description="Path of the detection rule id.")
    command_line: str | None = _Path
    process_path: str | None = _Path
    parent_process_path: str | None = _Path
    parent_command_line: str | None = _Path
    user: str | None = Field(default=None, description="Path of the account the activity ran as.")
    hashes: str | None = Field(
        default=None,
        description="Path of the process or file hashes: Sysmon's 'MD5=…,SHA256=…' or one digest.",
    )
    file_path: str | list[str] | None = Field(
        default=None,
        description="Path of the file the event is about (TargetFilename, ImageLoaded); several: first set.",
    )
    registry_path: str | None = Field(
        default=None, description="Path of a full registry value path (Sysmon TargetObject: key\\value name)."
    )
    registry_data: str | None = Field(default=None, description="Path of the data written to that value.")
    src_ip: str | None = _Path
    dst_ip: str | None = _Path
    dst_port: str | None = _Path
    dst_hostname: str | None = _Path
    dns_query: str | None = Field(default=None, description="Path of a queried DNS name (Sysmon QueryName).")
    indicators: dict[str, IndicatorType | None] = Field(
        default_factory=dict, description="Extra paths holding indicators, with their type (null: guess)."
    )


_SEVERITY_WORDS = {"informational": 1, "info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


def normalize(document: dict[str, Any], tenant: str, mapping: FieldMapping) -> dict[str, Any]:
    def read(path: str | list[str] | None) -> str | None:
        return text(document, *([path] if isinstance(path, str) else path or []))

    title = mapping.title["const"] if isinstance(mapping.title, dict) else read(mapping.title)
    hostname = read(mapping.hostname)
    uid = _uid(document, mapping, hostname)
    finding = FindingBuilder(
        tenant=tenant,
        product=mapping.product,
        vendor="generic",
        uid=uid or "",
        title=title or "(untitled alert)",
    )
    if not uid:
        del finding.doc["metadata"]["uid"], finding.doc["finding_info"]["uid"]  # content hash instead
    if mapping.time:
        finding.set("time", epoch_ms(get(document, mapping.time)))
    if mapping.severity:
        raw = read(mapping.severity) or ""
        severity = _SEVERITY_WORDS.get(raw.lower()) or (int(raw) if raw.isdigit() and int(raw) <= 6 else 0)
        finding.set("severity_id", severity)
    if mapping.rule:
        finding.set("finding_info.analytic", {"uid": read(mapping.rule)})
    finding.set("device", {"hostname": hostname, "ip": read(mapping.host_ip)})
    command, image = read(mapping.command_line), read(mapping.process_path)
    hashes = file_hashes(read(mapping.hashes))
    written = read(mapping.file_path)
    dst_ip, src_ip = read(mapping.dst_ip), read(mapping.src_ip)
    port = read(mapping.dst_port)
    finding.evidence(
        {
            "process": {
                "cmd_line": command,
                "file": {"path": image, "hashes": [] if written else hashes},
                "user": {"name": read(mapping.user)},
                "parent_process": {
                    "cmd_line": read(mapping.parent_command_line),
                    "file": {"path": read(mapping.parent_process_path)},
                },
            },
            # A file-creation event's hashes are the written file's, not the writer's.
            "file": {"path": written, "hashes": hashes if written else []},
            "reg_value": registry_value(read(mapping.registry_path), read(mapping.registry_data)),
            "src_endpoint": {"ip": src_ip},
            "dst_endpoint": {
                "ip": dst_ip,
                "port": int(port) if port and port.isdigit() else None,
                "hostname": read(mapping.dst_hostname),
            },
            "query": {"hostname": read(mapping.dns_query)},
        }
    )
    finding.observe_text(command, mapping.command_line or "")
    finding.observe_value(image, mapping.process_path or "", IndicatorType.FILE_PATH)
    finding.observe_value(written, "file_path", IndicatorType.FILE_PATH)
    for digest in hashes:
        finding.observe_value(digest["value"], mapping.hashes or "")
    for ip, path in ((src_ip, mapping.src_ip), (dst_ip, mapping.dst_ip)):
        if ip and not is_internal(ip):
            finding.observe_value(ip, path or "")
    for name, path in (
        (read(mapping.dst_hostname), mapping.dst_hostname),
        (read(mapping.dns_query), mapping.dns_query),
    ):
        finding.observe_value(name, path or "", IndicatorType.DOMAIN)
    for path, kind in mapping.indicators.items():
        finding.observe_value(text(document, path), path, kind)
    return finding.build()


def _uid(document: dict[str, Any], mapping: FieldMapping, hostname: str | None) -> str | None:
    paths = [mapping.uid] if isinstance(mapping.uid, str) else list(mapping.uid or [])
    parts = [text(document, path) for path in paths]
    if not paths or any(part is None for part in parts):
        return None
    if mapping.uid_per_host and hostname and len(paths) == 1:
        parts.insert(0, hostname)
    return ":".join(str(part) for part in parts)
