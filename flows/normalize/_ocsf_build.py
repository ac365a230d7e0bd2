"""Build OCSF Detection Finding documents from other tools' fields."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime
from typing import Any

from flows.models import (
    MAX_ATTACKS,
    Indicator,
    IndicatorType,
    attack_name,
    iocs_in_text,
    tactic_uid,
    technique_uid,
)

# OCSF observable type ids (objects/observable.json, dictionary types).
OBSERVABLE_TYPE = {
    IndicatorType.DOMAIN: 1,
    IndicatorType.IPV4: 2,
    IndicatorType.IPV6: 2,
    IndicatorType.ACCOUNT: 4,
    IndicatorType.URL: 6,
    IndicatorType.MD5: 8,
    IndicatorType.SHA1: 8,
    IndicatorType.SHA256: 8,
    IndicatorType.FILE_PATH: 45,
}


# ATT&CK Enterprise tactics (https://attack.mitre.org/tactics/enterprise/), for sensors that name a tactic
# without its id (Wazuh) or its id without a name.
ENTERPRISE_TACTICS = {
    "TA0043": "Reconnaissance",
    "TA0042": "Resource Development",
    "TA0001": "Initial Access",
    "TA0002": "Execution",
    "TA0003": "Persistence",
    "TA0004": "Privilege Escalation",
    "TA0005": "Defense Evasion",
    "TA0006": "Credential Access",
    "TA0007": "Discovery",
    "TA0008": "Lateral Movement",
    "TA0009": "Collection",
    "TA0011": "Command and Control",
    "TA0010": "Exfiltration",
    "TA0040": "Impact",
}
_TACTIC_BY_NAME = {name.casefold(): uid for uid, name in ENTERPRISE_TACTICS.items()}

# OCSF captions (dictionary.json) of the ids the normalizers write.
CONFIDENCE = {1: "Low", 2: "Medium", 3: "High"}
DISPOSITION = {1: "Allowed", 2: "Blocked"}


def attack_object(
    *,
    technique: Any = None,
    technique_name: Any = None,
    sub_technique: Any = None,
    sub_technique_name: Any = None,
    tactic: Any = None,
    tactic_name: Any = None,
) -> dict[str, Any] | None:
    """One OCSF Attack object from what a sensor says, or None if it names no valid tactic or technique.

    Ids must be ATT&CK ids and names must look like names; the rest is dropped. A sub-technique id given as
    the technique (Wazuh, Emerging Threats) moves to ``sub_technique`` under its parent technique.
    """
    tech, tech_name = technique_uid(technique), attack_name(technique_name)
    sub, sub_name = technique_uid(sub_technique), attack_name(sub_technique_name)
    if tech and "." in tech:
        if sub is None:
            sub, sub_name = tech, tech_name
        tech, tech_name = tech.partition(".")[0], None
    if sub and "." not in sub:  # a technique given as the sub-technique
        if tech is None:
            tech, tech_name = sub, sub_name
        sub, sub_name = None, None
    if sub and tech != sub.partition(".")[0]:
        tech, tech_name = sub.partition(".")[0], None
    tac, tac_name = tactic_uid(tactic), attack_name(tactic_name)
    if tac is None and tac_name:
        tac = _TACTIC_BY_NAME.get(tac_name.casefold())
    if tac_name is None and tac:
        tac_name = ENTERPRISE_TACTICS.get(tac)
    found: dict[str, Any] = {}
    for key, uid, name in (("technique", tech, tech_name), ("sub_technique", sub, sub_name)):
        if uid:
            found[key] = {"uid": uid, "name": name} if name else {"uid": uid}
    if tac or tac_name:
        found["tactic"] = {key: value for key, value in (("uid", tac), ("name", tac_name)) if value}
    return found or None


def attacks_unpaired(
    techniques: list[tuple[Any, Any]], tactics: list[tuple[Any, Any]]
) -> list[dict[str, Any]]:
    """Attack objects from (id, name) lists of techniques and tactics whose pairing the sensor does not say.

    One technique is paired with each tactic; several techniques and tactics are listed apart rather than
    paired by guess. The same technique or tactic named twice is one, with the names either time gave; a
    technique is folded into its own sub-technique when both are named.
    """
    techs: dict[tuple[str, str | None], dict[str, Any]] = {}
    for uid, name in techniques:
        attack = attack_object(technique=uid, technique_name=name)
        if attack and "technique" in attack:
            key = (attack["technique"]["uid"], attack.get("sub_technique", {}).get("uid"))
            techs[key] = _merged(techs.get(key), attack)
    names = {tech: a["technique"] for (tech, _), a in techs.items() if "name" in a["technique"]}
    parents = {tech for tech, sub in techs if sub}
    kept = [
        {**attack, "technique": names.get(tech, attack["technique"])}
        for (tech, sub), attack in techs.items()
        if sub or tech not in parents
    ]
    tacs: dict[str, dict[str, Any]] = {}
    for uid, name in tactics:
        attack = attack_object(tactic=uid, tactic_name=name)
        if attack and "tactic" in attack:
            key = attack["tactic"].get("uid") or attack["tactic"]["name"].casefold()
            tacs[key] = _merged(tacs.get(key), attack)
    if len(kept) == 1 and tacs:
        return [{**kept[0], **tactic} for tactic in tacs.values()][:MAX_ATTACKS]
    return [*kept, *tacs.values()][:MAX_ATTACKS]


def _merged(held: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    # The same attack named twice: keep what came first, add a name it lacked.
    if held is None:
        return new
    merged = dict(held)
    for part, value in new.items():
        if part not in merged or ("name" not in merged[part] and "name" in value):
            merged[part] = value
    return merged


def listed(value: Any) -> list[Any]:
    """A sensor field that may be one value or a list, as a bounded list."""
    if isinstance(value, list):
        return value[: MAX_ATTACKS * 4]
    return [] if value is None else [value]


def paired(ids: Any, names: Any) -> list[tuple[Any, Any]]:
    """(id, name) pairs from parallel lists; names are trusted to the ids only when the counts agree."""
    ids, names = listed(ids), listed(names)
    if not ids:
        return [(None, name) for name in names]
    if len(ids) == len(names):
        return list(zip(ids, names, strict=True))
    return [(uid, None) for uid in ids]


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {key: _pruned(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, "", {}, [])}
    if isinstance(value, list):
        return [item for item in (_pruned(v) for v in value) if item not in (None, "", {}, [])]
    return value


def _unique(items: Any) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        if item:
            found.setdefault(json.dumps(item, sort_keys=True), item)
    return list(found.values())


def epoch_ms(value: Any) -> int | None:
    """OCSF time (ms since the epoch) from ISO 8601 text or epoch seconds/ms; None if unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value if value > 10**11 else value * 1000)
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        # Suricata writes +0000; fromisoformat wants +00:00.
        if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
            text = f"{text[:-2]}:{text[-2:]}"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return None


def is_internal(ip: str | None) -> bool:
    try:
        return ip is not None and not ipaddress.ip_address(ip).is_global
    except ValueError:
        return False


class FindingBuilder:
    """Collects what a normalizer finds and writes one OCSF Detection Finding."""

    def __init__(self, *, tenant: str, product: str, vendor: str, uid: str, title: str) -> None:
        self.doc: dict[str, Any] = {
            "class_uid": 2004,
            "category_uid": 2,
            "activity_id": 1,
            "type_uid": 200401,
            "severity_id": 0,
            "metadata": {
                "version": "1.3.0",
                "tenant_uid": tenant,
                "product": {"name": product, "vendor_name": vendor},
                "uid": uid,
            },
            "finding_info": {"uid": uid, "title": title[:4096] or "(untitled)", "types": []},
            "evidences": [],
            "observables": [],
        }
        self._seen: set[tuple[str, str]] = set()

    def set(self, path: str, value: Any) -> None:
        if value is None or value == "" or value == []:
            return
        holder = self.doc
        *parents, leaf = path.split(".")
        for part in parents:
            holder = holder.setdefault(part, {})
        holder[leaf] = value

    def evidence(self, item: dict[str, Any]) -> None:
        """One OCSF evidence object; empty values are left out at every level."""
        cleaned = _pruned(item)
        if cleaned:
            self.doc["evidences"].append(cleaned)

    def attacks(self, items: list[dict[str, Any]]) -> None:
        """``finding_info.attacks``: unique OCSF Attack objects, at most ``MAX_ATTACKS``."""
        self.set("finding_info.attacks", _unique(items)[:MAX_ATTACKS])

    def disposition(self, disposition_id: int | None) -> None:
        """What the sensor did (``disposition_id``, a Security Control profile attribute in OCSF)."""
        if disposition_id in DISPOSITION:
            self.set("disposition_id", disposition_id)
            self.set("disposition", DISPOSITION[disposition_id])
            profiles = self.doc["metadata"].setdefault("profiles", [])
            if "security_control" not in profiles:
                profiles.append("security_control")

    def observe(self, indicator: Indicator | None, name: str) -> None:
        if indicator is None or indicator.type not in OBSERVABLE_TYPE:
            return
        key = (indicator.type, indicator.value)
        if key in self._seen:
            return
        self._seen.add(key)
        self.doc["observables"].append(
            {"name": name, "type_id": OBSERVABLE_TYPE[indicator.type], "value": indicator.value}
        )

    def observe_value(self, raw: Any, name: str, hint: IndicatorType | None = None) -> None:
        if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw).strip():
            self.observe(Indicator.parse(str(raw), field=name, hint=hint), name)

    def observe_text(self, text: Any, name: str) -> None:
        if isinstance(text, str) and text:
            for indicator in iocs_in_text(text[:65536], name):
                self.observe(indicator, name)

    def build(self) -> dict[str, Any]:
        return self.doc
