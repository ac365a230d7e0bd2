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
from ._windows import account, event_ip, file_hashes, registry_value, undoubled, windows_path


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

    data: dict[str, Any] = document["data"] if isinstance(document.get("data"), dict) else {}
    windows = _windows_event(data)
    finding.evidence(windows)
    syscheck = document.get("syscheck") or {}
    if syscheck.get("path"):
        finding.evidence({"file": {"path": syscheck["path"]}})
        finding.observe_value(syscheck["path"], "syscheck.path", IndicatorType.FILE_PATH)
    for algorithm in ("sha256", "sha1", "md5"):
        finding.observe_value(syscheck.get(f"{algorithm}_after"), f"syscheck.{algorithm}_after")
    source_ip = text(data, "srcip") or get(windows, "src_endpoint.ip")
    for ip, name in (
        (source_ip, "data.srcip"),
        (text(data, "dstip") or get(windows, "dst_endpoint.ip"), "data.dstip"),
    ):
        if ip and not is_internal(ip):
            finding.observe_value(ip, name)
    finding.observe_value(text(data, "srcuser", "dstuser"), "data.user", IndicatorType.ACCOUNT)
    target = account(get(windows, "user.name"), get(windows, "user.domain"))
    finding.observe_value(target, "win.eventdata.targetUserName", IndicatorType.ACCOUNT)
    finding.observe_value(
        get(windows, "dst_endpoint.hostname"), "win.eventdata.destinationHostname", IndicatorType.DOMAIN
    )
    finding.observe_value(get(windows, "query.hostname"), "win.eventdata.queryName", IndicatorType.DOMAIN)
    for path, name in (
        (get(windows, "process.file.path"), "win.eventdata.image"),
        (get(windows, "file.path"), "win.eventdata.targetFilename"),
    ):
        finding.observe_value(path, name, IndicatorType.FILE_PATH)
    for digest in get(windows, "process.file.hashes") or []:
        finding.observe_value(digest["value"], "win.eventdata.hashes")
    finding.observe_text(get(windows, "process.cmd_line"), "win.eventdata.commandLine")
    finding.observe_text(text(data, "url"), "data.url")
    return finding.build()


def _windows_event(data: dict[str, Any]) -> dict[str, Any]:
    """OCSF evidence from ``data.win.eventdata`` (Wazuh's eventchannel decoder: camelCase Sysmon, Security
    and Defender fields, every backslash doubled)."""
    raw = get(data, "win.eventdata")
    event = {key: undoubled(value) for key, value in raw.items()} if isinstance(raw, dict) else {}
    image, command = text(event, "image", "Image"), text(event, "commandLine", "CommandLine")
    hashes = file_hashes(text(event, "hashes", "Hashes"))
    defender_path = windows_path(text(event, "path", "Path"))
    threat = text(event, "threat Name", "threatName")
    return {
        "process": {
            "file": {"path": image, "hashes": hashes},
            "cmd_line": command,
            "user": {"name": text(event, "user", "User")},
            "parent_process": {
                "file": {"path": text(event, "parentImage", "ParentImage")},
                "cmd_line": text(event, "parentCommandLine", "ParentCommandLine"),
            },
        }
        if image or command
        else None,
        # Logons (4624, 4625, 4648): the account and the address it came from (pass-the-hash evidence).
        "user": {
            "name": text(event, "targetUserName", "TargetUserName"),
            "domain": text(event, "targetDomainName", "TargetDomainName"),
        },
        "src_endpoint": {
            "ip": event_ip(text(event, "ipAddress", "IpAddress", "sourceIp", "SourceIp"))
            or text(data, "srcip"),
            "hostname": text(event, "workstationName", "WorkstationName"),
        },
        "dst_endpoint": {
            "ip": text(event, "destinationIp", "DestinationIp") or text(data, "dstip"),
            "hostname": text(event, "destinationHostname", "DestinationHostname"),
        },
        "query": {"hostname": text(event, "queryName", "QueryName")},
        # OCSF evidence ``data``: how the logon was made (type 3 network + NTLM is the pass-the-hash shape).
        "data": {
            "logon_type": text(event, "logonType", "LogonType"),
            "logon_process": text(event, "logonProcessName", "LogonProcessName"),
            "authentication_package": text(event, "authenticationPackageName", "AuthenticationPackageName"),
            "event_id": text(get(data, "win.system") or {}, "eventID", "EventID"),
        },
        "file": {"path": text(event, "targetFilename", "TargetFilename") or defender_path},
        "malware": [{"name": threat, "path": defender_path}] if threat else None,
        "reg_value": registry_value(
            text(event, "targetObject", "TargetObject"), text(event, "details", "Details")
        ),
    }
