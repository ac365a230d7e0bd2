"""Generic JSON alerts through a per-source field mapping declared in the tenant configuration."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flows.models import IndicatorType

from ._ocsf_build import FindingBuilder, epoch_ms
from ._paths import get, text


class FieldMapping(BaseModel):
    """Where a source keeps each alert field (dotted paths; flattened keys work too).

    Example for Sysmon events exported as JSON::

        title: {const: "Sysmon process creation"}
        uid: Event.System.EventRecordID
        hostname: Event.System.Computer
        time: Event.System.TimeCreated.#attributes.SystemTime
    """

    model_config = ConfigDict(extra="forbid")

    product: str = Field(default="generic", description="Source product name (part of the dedup key).")
    title: str | dict[str, str] = Field(description="Path of the title, or {const: 'fixed title'}.")
    uid: str | None = Field(default=None, description="Path of the sender's alert id.")
    hostname: str | None = Field(default=None, description="Path of the affected host's name.")
    host_ip: str | None = None
    time: str | None = Field(default=None, description="Path of the detection time (ISO 8601 or epoch).")
    severity: str | None = Field(default=None, description="Path of a severity word or 0-5 number.")
    rule: str | None = Field(default=None, description="Path of the detection rule id.")
    command_line: str | None = None
    process_path: str | None = None
    indicators: dict[str, IndicatorType | None] = Field(
        default_factory=dict, description="Extra paths holding indicators, with their type (null: guess)."
    )


_SEVERITY_WORDS = {"informational": 1, "info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


def normalize(document: dict[str, Any], tenant: str, mapping: FieldMapping) -> dict[str, Any]:
    title = mapping.title["const"] if isinstance(mapping.title, dict) else text(document, mapping.title)
    uid = text(document, mapping.uid) if mapping.uid else None
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
        raw = text(document, mapping.severity) or ""
        severity = _SEVERITY_WORDS.get(raw.lower()) or (int(raw) if raw.isdigit() and int(raw) <= 6 else 0)
        finding.set("severity_id", severity)
    if mapping.rule:
        finding.set("finding_info.analytic", {"uid": text(document, mapping.rule)})
    finding.set(
        "device",
        {
            "hostname": text(document, mapping.hostname) if mapping.hostname else None,
            "ip": text(document, mapping.host_ip) if mapping.host_ip else None,
        },
    )
    command = text(document, mapping.command_line) if mapping.command_line else None
    image = text(document, mapping.process_path) if mapping.process_path else None
    finding.evidence(
        {"process": {"cmd_line": command, "file": {"path": image}} if command or image else None}
    )
    finding.observe_text(command, mapping.command_line or "")
    finding.observe_value(image, mapping.process_path or "", IndicatorType.FILE_PATH)
    for path, kind in mapping.indicators.items():
        finding.observe_value(text(document, path), path, kind)
    return finding.build()
