"""Elastic Security detection alerts (``kibana.alert.*`` + ECS) → OCSF Detection Finding.

Fields: https://www.elastic.co/guide/en/security/current/alert-schema.html and ECS.

- ATT&CK: the rule's ``kibana.alert.rule.threat`` (``[{framework, tactic: {id, name}, technique: [{id,
  name, subtechnique: [{id, name}]}]}]``), or its flattened form (``kibana.alert.rule.threat.tactic.id:
  [...]``, as the search API's ``fields`` option gives it), the legacy ``signal.rule.threat``, and ECS
  ``threat.*`` (which Elastic Defend fills from its own rule).
- ``kibana.alert.risk_score`` (0-100, after the rule's risk score mapping) → ``risk_score``; Elastic states no
  confidence.
- Disposition from the source event's ECS ``event.type`` (``kibana.alert.original_event.type``): ``denied``
  is Blocked unless ``event.outcome`` is ``failure``, ``allowed`` is Allowed — as Elastic's own "Prevented" /
  "Detected" rules for Elastic Defend alerts read them (``event.type: denied and event.outcome: success``).
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any

from flows.models import MAX_ATTACKS, IndicatorType

from ._ocsf_build import (
    ENTERPRISE_TACTICS,
    FindingBuilder,
    attack_object,
    attacks_unpaired,
    epoch_ms,
    is_internal,
    listed,
    paired,
)
from ._paths import get, text
from ._windows import account, event_ip, file_hashes

_SEVERITY = {"low": 2, "medium": 3, "high": 4, "critical": 5}
# Sigma's ATT&CK tags (``attack.t1558``, ``attack.credential_access``), which rules converted from Sigma and
# many custom rules carry instead of a ``threat`` block.
_TAG_TECHNIQUE = re.compile(r"\battack\.(t\d{4}(?:\.\d{3})?)\b", re.IGNORECASE)
_TAG_TACTIC = re.compile(r"\battack\.([a-z]+(?:_[a-z]+)*)\b", re.IGNORECASE)
_TACTICS = {name.casefold(): uid for uid, name in ENTERPRISE_TACTICS.items()}
_ENRICHMENTS = 32


def looks_like(document: dict[str, Any]) -> bool:
    # 8.x alerts carry ``kibana.alert.*``; 7.x detection signals (``.siem-signals-*``) carry ``signal.rule``.
    return (
        any(key.startswith(("kibana.alert.", "signal.rule.")) for key in document)
        or isinstance(get(document, "kibana.alert"), dict)
        or isinstance(get(document, "signal.rule"), dict)
    )


def normalize(document: dict[str, Any], tenant: str) -> dict[str, Any]:
    rule_name = text(document, "kibana.alert.rule.name", "signal.rule.name") or "Elastic Security alert"
    uid = text(document, "kibana.alert.uuid", "_id") or ""
    finding = FindingBuilder(
        tenant=tenant, product="Elastic Security", vendor="Elastic", uid=uid, title=rule_name
    )
    if not uid:
        del finding.doc["metadata"]["uid"], finding.doc["finding_info"]["uid"]  # content hash instead
    severity = (
        text(document, "kibana.alert.severity", "kibana.alert.rule.severity", "signal.rule.severity") or ""
    ).lower()
    finding.set("severity_id", _SEVERITY.get(severity, 0))
    finding.set(
        "time", epoch_ms(text(document, "kibana.alert.original_time", "signal.original_time", "@timestamp"))
    )
    finding.set(
        "finding_info.desc",
        text(document, "kibana.alert.reason", "kibana.alert.rule.description", "signal.reason"),
    )
    finding.set(
        "finding_info.analytic",
        {
            "uid": text(
                document, "kibana.alert.rule.rule_id", "kibana.alert.rule.uuid", "signal.rule.rule_id"
            ),
            "name": rule_name,
        },
    )
    tactics = get(document, "kibana.alert.rule.threat") or []
    finding.set(
        "finding_info.types",
        [str(get(t, "tactic.name")) for t in tactics if isinstance(t, dict) and get(t, "tactic.name")][:64],
    )
    finding.attacks(_attacks(document) or _tagged_attacks(document))
    risk = _score(get(document, "kibana.alert.risk_score"))
    finding.set(
        "risk_score",
        risk
        if risk is not None
        else _score(get(document, "kibana.alert.rule.risk_score") or get(document, "signal.rule.risk_score")),
    )
    finding.disposition(_disposition(document))
    finding.set(
        "device",
        {
            "hostname": text(document, "host.hostname", "host.name"),
            "ip": _host_address(get(document, "host.ip")),
            "uid": text(document, "host.id", "agent.id"),
        },
    )
    # Rules over Winlogbeat / Windows integration data keep the event's own fields under winlog.event_data.
    command = text(document, "process.command_line", "winlog.event_data.CommandLine")
    executable = text(
        document, "process.executable", "winlog.event_data.Image", "winlog.event_data.NewProcessName"
    )
    source_ip = event_ip(text(document, "source.ip", "winlog.event_data.IpAddress"))
    # Logon and Kerberos events (4624, 4625, 4768…) name the account in TargetUserName, not in ECS user.*.
    target_name = _named(text(document, "winlog.event_data.TargetUserName"))
    target_domain = _named(text(document, "winlog.event_data.TargetDomainName"))
    process_hashes = _hashes(document, "process.hash") or file_hashes(
        text(document, "winlog.event_data.Hashes")
    )
    file_path = text(document, "file.path", "winlog.event_data.TargetFilename")
    finding.evidence(
        {
            "process": {
                "name": text(document, "process.name"),
                "pid": get(document, "process.pid") or None,
                "cmd_line": command,
                "file": {"path": executable, "hashes": process_hashes},
                "user": {"name": text(document, "winlog.event_data.User")},
                "parent_process": {
                    "name": text(document, "process.parent.name"),
                    "cmd_line": text(
                        document, "process.parent.command_line", "winlog.event_data.ParentCommandLine"
                    ),
                    "file": {
                        "path": text(document, "process.parent.executable", "winlog.event_data.ParentImage")
                    },
                },
            },
            "src_endpoint": {
                "ip": source_ip,
                "port": get(document, "source.port"),
                "hostname": _named(text(document, "source.domain", "winlog.event_data.WorkstationName")),
            },
            "dst_endpoint": {
                "ip": text(document, "destination.ip"),
                "port": get(document, "destination.port"),
                "hostname": text(document, "destination.domain", "dns.question.name"),
            },
            "user": {
                "name": text(document, "user.name") or target_name,
                "domain": text(document, "user.domain") or target_domain,
            },
            "file": {"path": file_path, "hashes": _hashes(document, "file.hash")},
            "url": {"url_string": text(document, "url.full", "url.original")},
            "reg_value": _registry_value(document),
        }
    )
    for ip, name in ((text(document, "destination.ip"), "destination.ip"), (source_ip, "source.ip")):
        if ip and not is_internal(ip):
            finding.observe_value(ip, name)
    finding.observe_value(text(document, "destination.domain"), "destination.domain", IndicatorType.DOMAIN)
    finding.observe_value(text(document, "dns.question.name"), "dns.question.name", IndicatorType.DOMAIN)
    finding.observe_value(text(document, "url.full", "url.original"), "url.full", IndicatorType.URL)
    for algorithm in ("sha256", "sha1", "md5"):
        finding.observe_value(
            text(document, f"file.hash.{algorithm}", f"process.hash.{algorithm}"), f"hash.{algorithm}"
        )
    for digest in process_hashes:
        finding.observe_value(digest["value"], "process.hash")
    finding.observe_value(text(document, "user.name"), "user.name", IndicatorType.ACCOUNT)
    finding.observe_value(
        account(target_name, target_domain), "winlog.event_data.TargetUserName", IndicatorType.ACCOUNT
    )
    finding.observe_value(executable, "process.executable", IndicatorType.FILE_PATH)
    finding.observe_value(file_path, "file.path", IndicatorType.FILE_PATH)
    finding.observe_text(command, "process.command_line")
    finding.set("message", text(document, "kibana.alert.reason", "signal.reason"))
    finding.set("enrichments", _enrichments(document))
    return finding.build()


def _named(value: str | None) -> str | None:
    return None if value is None or value.strip() in ("-", "") else value


def _enrichments(document: dict[str, Any]) -> list[dict[str, Any]]:
    """OCSF ``enrichments`` from what an indicator-match rule found: the event's field and value that matched
    and the intel it matched (``threat.enrichments[]``, or ``threat.indicator[]`` of 7.x CTI signals).

    Context for the analyst, never indicators: the matched value may be the alert's own host name.
    """
    entries = listed(get(document, "threat.enrichments")) or listed(get(document, "threat.indicator"))
    found: list[dict[str, Any]] = []
    for entry in entries[:_ENRICHMENTS]:
        if not isinstance(entry, dict):
            continue
        nested = entry.get("indicator")
        indicator: dict[str, Any] = nested if isinstance(nested, dict) else entry
        name, value = text(entry, "matched.field"), text(entry, "matched.atomic")
        if not name or not value:
            continue
        intel = {
            key: item
            for key, item in indicator.items()
            if key not in ("matched", "event") and item not in (None, "", {}, [])
        }
        reference = text(indicator, "reference", "event.reference")
        found.append(
            {
                "name": name,
                "value": value,
                "type": text(indicator, "type"),
                "provider": text(indicator, "provider", "feed.name") or text(entry, "feed.name"),
                "data": {**intel, **({"reference": reference} if reference else {})} or None,
            }
        )
    return [{key: item for key, item in e.items() if item is not None} for e in found]


def _tagged_attacks(document: dict[str, Any]) -> list[dict[str, Any]]:
    tags = " ".join(
        str(tag)
        for tag in listed(get(document, "kibana.alert.rule.tags") or get(document, "signal.rule.tags"))[:64]
        if isinstance(tag, str)
    )[:4096]
    techniques = [(uid.upper(), None) for uid in _TAG_TECHNIQUE.findall(tags)]
    tactics = [
        (_TACTICS[key], None)
        for key in (name.replace("_", " ").casefold() for name in _TAG_TACTIC.findall(tags))
        if key in _TACTICS
    ]
    return attacks_unpaired(techniques, tactics) if techniques or tactics else []


def _host_address(value: Any) -> str | None:
    # host.ip lists every address of the host, often a link-local IPv6 first: that never reaches it.
    for candidate in listed(value):
        try:
            address = ipaddress.ip_address(str(candidate).split("%")[0])
        except ValueError:
            continue
        if not (
            address.is_link_local or address.is_loopback or address.is_unspecified or address.is_multicast
        ):
            return str(address)
    return None


def _hashes(document: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    # ECS file.hash.* / process.hash.* → OCSF fingerprints (1 MD5, 2 SHA-1, 3 SHA-256).
    found = []
    for algorithm_id, key, caption in ((3, "sha256", "SHA-256"), (2, "sha1", "SHA-1"), (1, "md5", "MD5")):
        value = text(document, f"{prefix}.{key}")
        if value:
            found.append({"algorithm_id": algorithm_id, "algorithm": caption, "value": value.lower()})
    return found


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


def _attacks(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for prefix in ("kibana.alert.rule.threat", "signal.rule.threat", "threat"):
        if prefix == "signal.rule.threat" and found:
            continue  # the pre-8.0 copy of the same rule's threat
        value = get(document, prefix)
        if isinstance(value, list):
            found.extend(_nested(value))
        elif _is_attack(get(document, f"{prefix}.framework")):
            found.extend(
                attacks_unpaired(
                    [
                        *paired(
                            get(document, f"{prefix}.technique.id"), get(document, f"{prefix}.technique.name")
                        ),
                        *paired(
                            get(document, f"{prefix}.technique.subtechnique.id"),
                            get(document, f"{prefix}.technique.subtechnique.name"),
                        ),
                    ],
                    paired(get(document, f"{prefix}.tactic.id"), get(document, f"{prefix}.tactic.name")),
                )
            )
    return found


def _nested(entries: list[Any]) -> list[dict[str, Any]]:
    # Each entry pairs one tactic with its techniques, and each technique with its sub-techniques.
    found: list[dict[str, Any]] = []
    tries = MAX_ATTACKS * 8  # hostile nesting (32 × 128 × 128 empty shells) costs a bounded amount of work
    for entry in entries[:MAX_ATTACKS]:
        if not isinstance(entry, dict) or not _is_attack(get(entry, "framework")):
            continue
        tactic = {"tactic": get(entry, "tactic.id"), "tactic_name": get(entry, "tactic.name")}
        techniques = [t for t in listed(get(entry, "technique")) if isinstance(t, dict)] or [{}]
        for technique in techniques:
            subs = [s for s in listed(get(technique, "subtechnique")) if isinstance(s, dict)] or [{}]
            for sub in subs:
                attack = attack_object(
                    technique=get(technique, "id"),
                    technique_name=get(technique, "name"),
                    sub_technique=get(sub, "id"),
                    sub_technique_name=get(sub, "name"),
                    **tactic,
                )
                found.extend([attack] if attack else [])
                tries -= 1
                if len(found) >= MAX_ATTACKS or tries <= 0:
                    return found
    return found


def _is_attack(framework: Any) -> bool:
    frameworks = [f for f in listed(framework) if isinstance(f, str) and f.strip()]
    return not frameworks or any("att&ck" in f.casefold() for f in frameworks)


def _score(value: Any) -> int | None:
    value = next(iter(listed(value)), None)  # the search API's ``fields`` give every value as a list
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return round(value) if 0 <= value <= 100 else None
    return None


def _disposition(document: dict[str, Any]) -> int | None:
    kinds = listed(get(document, "kibana.alert.original_event.type") or get(document, "event.type"))
    types = {kind.strip().lower() for kind in kinds if isinstance(kind, str)}
    outcome = (text(document, "kibana.alert.original_event.outcome", "event.outcome") or "").strip().lower()
    if "denied" in types:
        return 1 if outcome == "failure" else 2  # a prevention that failed let the activity run
    if "allowed" in types:
        return 1
    return None
