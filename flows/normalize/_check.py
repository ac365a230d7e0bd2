"""A conformance report for one alert: what Garrison understood of it and what it left aside.

For onboarding a source before going live (``garrison ingest --check``): nothing is stored. A source
field counts as understood when its value reached the alert Garrison stores (as sent, tidied —
case, Wazuh's escaping, ``_`` for spaces — or as the alert's time), or when it is one Garrison translates
(severities); every other field is listed as ignored. For OCSF, which is stored as sent, the top-level
fields triage does not read are the ignored ones.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ._errors import NormalizeError, TenantMismatch
from ._generic import FieldMapping
from ._normalize import Format, normalize, unwrapped
from ._ocsf import EVIDENCE_PARTS
from ._ocsf_build import epoch_ms
from ._windows import undoubled

# Fields whose value Garrison translates rather than copies (severity scales), or reads to place others
# (Suricata's ``direction`` tells which end is the client).
_TRANSLATED = {
    "direction",
    "rule.level",
    "alert.severity",
    "kibana.alert.severity",
    "kibana.alert.rule.severity",
    "signal.rule.severity",
}
# Top-level OCSF fields that triage reads (the rest is kept, and listed as ignored).
_OCSF_READ = {
    "class_uid",
    "class_name",
    "category_uid",
    "category_name",
    "activity_id",
    "activity_name",
    "type_uid",
    "type_name",
    "severity_id",
    "severity",
    "time",
    "time_dt",
    "message",
    "metadata",
    "finding_info",
    "finding",
    "device",
    "evidences",
    "observables",
    "attacks",
    "confidence",
    "confidence_id",
    "confidence_score",
    "disposition",
    "disposition_id",
    "risk_score",
    "malware",
    "resources",
    "cloud",
    *EVIDENCE_PARTS,  # a Security Finding's top-level evidence, moved into evidences
}
_FREE_TEXT = {"message", "finding_info.desc", "finding_info.title", "finding_info.analytic.name"}
_MAX_LEAVES = 2000


@dataclass
class Conformance:
    """What one record gave: its format, tenant, time, hosts, indicators and evidence, the cloud
    resources it names as affected and the cloud account it was made in, and what was left aside;
    ``error`` when it would be rejected (``field: message``)."""

    format: str | None = None
    tenant: str | None = None
    time: str | None = None
    title: str | None = None
    hosts: list[str] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    cloud: str | None = None
    understood: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def conformance(
    raw: Any,
    tenant: str,
    fmt: Format = Format.AUTO,
    mapping: FieldMapping | None = None,
    other_tenants: Collection[str] | None = None,
) -> Conformance:
    """Normalize ``raw`` as the intake would, store nothing, and say what was read and what was not.
    ``other_tenants``: Garrison's other tenants, as the intake passes them (a payload naming one of them is
    refused; one naming its source's own tenant, an AWS organisation, is kept as such)."""
    try:
        normalized = normalize(raw, tenant, fmt, mapping, other_tenants=other_tenants)
    except NormalizeError as error:
        return Conformance(tenant=tenant, error=f"{error.field}: {error.message}")
    except TenantMismatch as error:
        return Conformance(tenant=tenant, error=f"metadata.tenant_uid: {error}")
    alert = normalized.alert
    report = Conformance(
        format=normalized.format.value,
        tenant=alert.tenant,
        time=_iso(alert.time),
        title=alert.finding_info.title,
        hosts=[h for h in (alert.hostname, alert.device.ip if alert.device else None) if h],
        indicators=[f"{i.type.value} {i.value}" for i in alert.indicators()],
        evidence=sorted({path.partition("[]")[0] for item in alert.evidences for path, _ in _leaves(item)}),
        resources=[_said(r.model_dump()) for r in alert.affected_resources()],
        cloud=_said(account.model_dump()) if (account := alert.cloud_account()) else None,
    )
    source = unwrapped(raw)
    if normalized.format is Format.OCSF:
        report.understood = sorted(key for key in source if key in _OCSF_READ)
        report.ignored = sorted(key for key in source if key not in _OCSF_READ)
        return report
    exact, inside = _values(normalized.document)
    understood: set[str] = set()
    ignored: set[str] = set()
    for path, value in _leaves(source):
        if value is None or isinstance(value, bool) or value == "":
            continue
        read = path in _TRANSLATED or _reached(value, exact, inside) or _same_time(value, alert.time)
        (understood if read else ignored).add(path)
    report.understood = sorted(understood)
    report.ignored = sorted(ignored - understood)
    return report


def _said(values: dict[str, str | None]) -> str:
    """``type=AwsIamRole uid=arn:aws:… region=us-east-2``: the values given, named as the alert names them."""
    return " ".join(f"{name}={value}" for name, value in values.items() if value)


def _leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted path, value) of every leaf; list items share their list's path with ``[]``."""
    found: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack and len(found) < _MAX_LEAVES:
        path, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((f"{path}.{key}" if path else str(key), child) for key, child in item.items())
        elif isinstance(item, list):
            stack.extend((f"{path}[]", child) for child in item[:100])
        else:
            found.append((path, item))
    return found


def _tidy(value: Any) -> str:
    return str(undoubled(value)).casefold().replace("_", " ").strip()


def _values(document: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Every value of the alert (tidied), and those a source value may have been cut from or into: free
    text (the message, which for Wazuh is the whole log line) only counts when matched whole."""
    exact: set[str] = set()
    inside: set[str] = set()
    for path, value in _leaves(document):
        text = _tidy(value)
        parts = {text, *(part for part in text.split(":") if part)}  # analytic ids such as "1:2027392:2"
        exact.update(parts)
        if path not in _FREE_TEXT:
            inside.update(part for part in parts if len(part) >= 8)
    return exact, inside


def _reached(value: Any, exact: set[str], inside: set[str]) -> bool:
    text = _tidy(value)
    if text in exact:
        return True
    # A value that went into a larger one (a URL from host and path) or came out of one (a hash out of
    # Sysmon's "MD5=…,SHA256=…").
    return len(text) >= 4 and any(text in s or (s in text) for s in inside)


def _same_time(value: Any, time: int | None) -> bool:
    return time is not None and isinstance(value, str | int | float) and epoch_ms(value) == time


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
