"""Elastic Security detection alerts (``kibana.alert.*`` + ECS) → OCSF Detection Finding.

Fields: https://www.elastic.co/guide/en/security/current/alert-schema.html and ECS.
"""

from __future__ import annotations

from typing import Any

from flows.models import IndicatorType

from ._ocsf_build import FindingBuilder, epoch_ms, is_internal
from ._paths import get, text

_SEVERITY = {"low": 2, "medium": 3, "high": 4, "critical": 5}


def looks_like(document: dict[str, Any]) -> bool:
    return any(key.startswith("kibana.alert.") for key in document) or isinstance(
        get(document, "kibana.alert"), dict
    )


def normalize(document: dict[str, Any], tenant: str) -> dict[str, Any]:
    rule_name = text(document, "kibana.alert.rule.name", "signal.rule.name") or "Elastic Security alert"
    uid = text(document, "kibana.alert.uuid", "_id") or ""
    finding = FindingBuilder(
        tenant=tenant, product="Elastic Security", vendor="Elastic", uid=uid, title=rule_name
    )
    if not uid:
        del finding.doc["metadata"]["uid"], finding.doc["finding_info"]["uid"]  # content hash instead
    severity = (text(document, "kibana.alert.severity", "kibana.alert.rule.severity") or "").lower()
    finding.set("severity_id", _SEVERITY.get(severity, 0))
    finding.set("time", epoch_ms(text(document, "kibana.alert.original_time", "@timestamp")))
    finding.set("finding_info.desc", text(document, "kibana.alert.reason", "kibana.alert.rule.description"))
    finding.set(
        "finding_info.analytic",
        {"uid": text(document, "kibana.alert.rule.rule_id", "kibana.alert.rule.uuid"), "name": rule_name},
    )
    tactics = get(document, "kibana.alert.rule.threat") or []
    finding.set(
        "finding_info.types",
        [str(get(t, "tactic.name")) for t in tactics if isinstance(t, dict) and get(t, "tactic.name")][:64],
    )
    finding.set(
        "device",
        {
            "hostname": text(document, "host.hostname", "host.name"),
            "ip": text(document, "host.ip"),
            "uid": text(document, "host.id", "agent.id"),
        },
    )
    command = text(document, "process.command_line")
    finding.evidence(
        {
            "process": {
                "name": text(document, "process.name"),
                "cmd_line": command,
                "file": {"path": text(document, "process.executable")},
                "parent_process": {
                    "name": text(document, "process.parent.name"),
                    "cmd_line": text(document, "process.parent.command_line"),
                },
            },
            "dst_endpoint": {
                "ip": text(document, "destination.ip"),
                "port": get(document, "destination.port"),
                "hostname": text(document, "destination.domain", "dns.question.name"),
            },
            "url": {"url_string": text(document, "url.full", "url.original")},
            "reg_value": _registry_value(document),
        }
    )
    destination = text(document, "destination.ip")
    if destination and not is_internal(destination):
        finding.observe_value(destination, "destination.ip")
    finding.observe_value(text(document, "destination.domain"), "destination.domain", IndicatorType.DOMAIN)
    finding.observe_value(text(document, "dns.question.name"), "dns.question.name", IndicatorType.DOMAIN)
    finding.observe_value(text(document, "url.full", "url.original"), "url.full", IndicatorType.URL)
    for algorithm in ("sha256", "sha1", "md5"):
        finding.observe_value(
            text(document, f"file.hash.{algorithm}", f"process.hash.{algorithm}"), f"hash.{algorithm}"
        )
    finding.observe_value(text(document, "user.name"), "user.name", IndicatorType.ACCOUNT)
    finding.observe_value(text(document, "process.executable"), "process.executable", IndicatorType.FILE_PATH)
    finding.observe_text(command, "process.command_line")
    finding.set("message", text(document, "kibana.alert.reason"))
    return finding.build()


def _registry_value(document: dict[str, Any]) -> dict[str, Any] | None:
    # ECS: registry.path is the full path with the value name; hive + key name the key alone.
    name = text(document, "registry.value")
    hive, key = text(document, "registry.hive"), text(document, "registry.key")
    key_path = f"{hive}\\{key}" if hive and key else key
    full = text(document, "registry.path")
    if not key_path and full and name and full.lower().endswith("\\" + name.lower()):
        key_path = full[: -(len(name) + 1)]
    if not key_path or not name:
        return None
    return {"path": key_path, "name": name, "data": text(document, "registry.data.strings")}
