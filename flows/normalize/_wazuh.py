"""Wazuh ``alerts.json`` records → OCSF Detection Finding.

Alert format: https://documentation.wazuh.com/current/user-manual/ruleset/ (rule, agent, data, syscheck).
ATT&CK: ``rule.mitre`` = ``{"id": [...], "tactic": [...], "technique": [...]}``: ids (techniques or
sub-techniques such as T1547.001) parallel to technique names, tactics by name only. Wazuh alerts state no
confidence and no disposition.
"""

from __future__ import annotations

from typing import Any

from flows.models import IndicatorType

from ._ocsf_build import FindingBuilder, attacks_unpaired, epoch_ms, is_internal, listed, paired
from ._paths import get, text


def looks_like(document: dict[str, Any]) -> bool:
    rule, agent = document.get("rule"), document.get("agent")
    return isinstance(rule, dict) and "level" in rule and isinstance(agent, dict)


def _severity(level: Any) -> int:
    # Wazuh levels 0-15 → OCSF: 12+ critical, 10+ high, 7+ medium, 4+ low, else informational.
    if not isinstance(level, int):
        return 0
    return 5 if level >= 12 else 4 if level >= 10 else 3 if level >= 7 else 2 if level >= 4 else 1


def normalize(document: dict[str, Any], tenant: str) -> dict[str, Any]:
    rule, agent = document["rule"], document["agent"]
    uid = str(
        document.get("id") or f"{agent.get('id', '-')}:{rule.get('id', '-')}:{document.get('timestamp', '')}"
    )
    finding = FindingBuilder(
        tenant=tenant,
        product="Wazuh",
        vendor="Wazuh",
        uid=uid,
        title=str(rule.get("description") or f"Wazuh rule {rule.get('id')}"),
    )
    finding.set("time", epoch_ms(document.get("timestamp")))
    finding.set("severity_id", _severity(rule.get("level")))
    finding.set("finding_info.types", [str(g) for g in rule.get("groups") or []][:64])
    finding.set("finding_info.analytic", {"uid": str(rule.get("id", "")), "name": rule.get("description")})
    mitre = rule.get("mitre") if isinstance(rule.get("mitre"), dict) else {}
    finding.attacks(
        attacks_unpaired(
            paired(mitre.get("id"), mitre.get("technique")),
            [(tactic, tactic) for tactic in listed(mitre.get("tactic"))],  # a name, or an id if one is sent
        )
    )
    finding.set("device", {"hostname": agent.get("name"), "ip": agent.get("ip"), "uid": agent.get("id")})
    finding.set("message", (document.get("full_log") or "")[:65536] or None)

    data = document.get("data") or {}
    event = get(data, "win.eventdata") or {}
    command = text(event, "commandLine", "CommandLine")
    image = text(event, "image", "Image")
    parent = text(event, "parentImage", "ParentImage")
    target_object = text(event, "targetObject", "TargetObject")
    evidence: dict[str, Any] = {
        "process": {
            "file": {"path": image},
            "cmd_line": command,
            "parent_process": {"file": {"path": parent}},
        }
        if image or command
        else None,
        "src_endpoint": {"ip": text(data, "srcip")} if text(data, "srcip") else None,
        "dst_endpoint": {"ip": text(data, "dstip"), "hostname": text(event, "destinationHostname")}
        if text(data, "dstip") or text(event, "destinationHostname")
        else None,
    }
    if target_object and target_object.upper().startswith(("HKLM", "HKU", "HKCU", "HKCR", "HKEY_")):
        key, _, name = target_object.rpartition("\\")
        evidence["reg_value"] = {"path": key, "name": name, "data": text(event, "details", "Details")}
    finding.evidence(evidence)

    syscheck = document.get("syscheck") or {}
    if syscheck.get("path"):
        finding.evidence({"file": {"path": syscheck["path"]}})
        finding.observe_value(syscheck["path"], "syscheck.path", IndicatorType.FILE_PATH)
    for algorithm in ("sha256", "sha1", "md5"):
        finding.observe_value(syscheck.get(f"{algorithm}_after"), f"syscheck.{algorithm}_after")
    for ip, name in ((text(data, "srcip"), "data.srcip"), (text(data, "dstip"), "data.dstip")):
        if ip and not is_internal(ip):
            finding.observe_value(ip, name)
    finding.observe_value(text(data, "srcuser", "dstuser"), "data.user", IndicatorType.ACCOUNT)
    finding.observe_value(
        text(event, "destinationHostname"), "win.eventdata.destinationHostname", IndicatorType.DOMAIN
    )
    finding.observe_value(image, "win.eventdata.image", IndicatorType.FILE_PATH)
    finding.observe_text(command, "win.eventdata.commandLine")
    finding.observe_text(text(data, "url"), "data.url")
    return finding.build()
