"""The alert: a subset of the OCSF Detection Finding (class 2004); unknown fields are kept as sent."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._cloud import CloudAccount, CloudResource, affected_resources, cloud_account
from ._indicator import Indicator, IndicatorType, host_of
from ._text_iocs import iocs_in_text

# Every string from a sensor is attacker-influenced: length caps keep one alert from bloating the store,
# and nothing here interprets the values beyond typing them.
_Text = Field(default=None, max_length=4096)

# MITRE ATT&CK ids (https://attack.mitre.org): techniques T1059, sub-techniques T1059.001, tactics TA0002.
_TECHNIQUE_UID = re.compile(r"T\d{4}(?:\.\d{3})?")
_TACTIC_UID = re.compile(r"TA\d{4}")
# Names as ATT&CK writes them ("Command and Control", "OS Credential Dumping: LSASS Memory",
# "/etc/passwd and /etc/shadow"); anything else from a sensor is dropped, not repaired.
_ATTACK_NAME = re.compile(r"[A-Za-z0-9./][A-Za-z0-9 &/:()'.,+-]{0,127}")
MAX_ATTACKS = 32  # attack objects read per alert, and ids returned: a finding names a handful, not hundreds

# OCSF confidence_id (1 Low, 2 Medium, 3 High) as a 0-100 score; 0 Unknown and 99 Other have none.
_CONFIDENCE_SCORE = {1: 30, 2: 60, 3: 90}


def technique_uid(value: Any) -> str | None:
    """An ATT&CK technique or sub-technique id (``T1059``, ``T1059.001``), or None if ``value`` is not one.

    >>> technique_uid(" t1059.001 "), technique_uid("T1059; rm -rf /")
    ('T1059.001', None)
    """
    if not isinstance(value, str) or len(value) > 16:
        return None
    uid = value.strip().upper()
    return uid if _TECHNIQUE_UID.fullmatch(uid) else None


def tactic_uid(value: Any) -> str | None:
    """An ATT&CK tactic id (``TA0002``), or None if ``value`` is not one.

    >>> tactic_uid("TA0011"), tactic_uid("Command and Control")
    ('TA0011', None)
    """
    if not isinstance(value, str) or len(value) > 16:
        return None
    uid = value.strip().upper()
    return uid if _TACTIC_UID.fullmatch(uid) else None


def attack_name(value: Any) -> str | None:
    """An ATT&CK tactic or technique name, tidied (underscores to spaces), or None.

    Sensors write names their own way (Emerging Threats rules use underscores); a name that does not look
    like an ATT&CK name is dropped.

    >>> attack_name("Command_And_Control"), attack_name("<script>")
    ('Command And Control', None)
    """
    if not isinstance(value, str) or len(value) > 256:
        return None
    name = " ".join(value.replace("_", " ").split())
    return name if _ATTACK_NAME.fullmatch(name) else None


class _Ocsf(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Product(_Ocsf):
    name: str | None = _Text
    vendor_name: str | None = _Text


class Metadata(_Ocsf):
    tenant_uid: str = Field(min_length=1, max_length=128, description="The tenant this alert belongs to.")
    product: Product | None = None
    uid: str | None = _Text
    version: str | None = Field(default=None, max_length=32)


class Analytic(_Ocsf):
    name: str | None = _Text
    uid: str | None = _Text


class FindingInfo(_Ocsf):
    uid: str | None = _Text
    title: str = Field(min_length=1, max_length=4096)
    desc: str | None = Field(default=None, max_length=65536)
    types: list[str] = Field(default_factory=list, max_length=64)
    analytic: Analytic | None = None


class Device(_Ocsf):
    hostname: str | None = Field(default=None, max_length=255)
    ip: str | None = Field(default=None, max_length=64)
    uid: str | None = _Text


class Observable(_Ocsf):
    name: str | None = _Text
    type_id: int = Field(ge=0, description="OCSF observable type id (1 hostname, 2 IP, 6 URL, 8 hash …).")
    value: str | None = _Text


class Alert(_Ocsf):
    """An OCSF Detection Finding as Garrison reads it.

    Only the fields triage needs are typed; everything else a sensor sends is kept in the model's extras
    and in the stored raw document.
    """

    class_uid: Literal[2004] = Field(description="OCSF class: Detection Finding.")
    time: int | None = Field(default=None, ge=0, description="Detection time, ms since the epoch.")
    severity_id: int = Field(default=0, ge=0, le=99, description="OCSF severity (0 unknown … 5 critical).")
    message: str | None = Field(default=None, max_length=65536)
    metadata: Metadata
    finding_info: FindingInfo
    device: Device | None = None
    evidences: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    observables: list[Observable] = Field(default_factory=list, max_length=1000)

    @property
    def tenant(self) -> str:
        return self.metadata.tenant_uid

    @property
    def source(self) -> str:
        product = self.metadata.product
        return (product.name if product and product.name else "ocsf")[:128]

    @property
    def source_uid(self) -> str:
        """The sender's id for this alert; a content hash when the sender gave none."""
        given = self.finding_info.uid or self.metadata.uid
        if given:
            return given
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def hostname(self) -> str | None:
        return self.device.hostname if self.device else None

    @property
    def rule(self) -> str:
        """The detection rule that fired: the analytic's uid, else its name, else the finding's title."""
        analytic = self.finding_info.analytic
        return ((analytic.uid or analytic.name) if analytic else None) or self.finding_info.title

    def indicators(self) -> list[Indicator]:
        """Indicators named by the alert's observables and evidences, de-duplicated by (type, value)."""
        found: dict[tuple[str, str], Indicator] = {}
        # The affected host is a target, not an indicator, wherever the evidence names its address (a
        # sensor between two public addresses puts the customer's own one in an endpoint).
        own = Indicator.parse(self.device.ip, field="device.ip") if self.device and self.device.ip else None

        def add(raw: Any, field: str, hint: IndicatorType | None = None) -> None:
            if not isinstance(raw, str) or not raw.strip():
                return
            indicator = Indicator.parse(raw, field=field, hint=hint)
            if (
                own is not None
                and indicator is not None
                and (indicator.type, indicator.value)
                == (
                    own.type,
                    own.value,
                )
            ):
                return
            if indicator is not None:
                found.setdefault((indicator.type, indicator.value), indicator)
                if indicator.type is IndicatorType.URL:
                    add(host_of(indicator.value), field + "#host")

        for observable in self.observables:
            name = observable.name or ""
            if name.startswith("device."):
                continue  # the affected host itself is a target, not an indicator
            hint = _OBSERVABLE_HINTS.get(observable.type_id)
            if observable.type_id in _OBSERVABLE_HINTS or observable.type_id in (1, 2, 6):
                add(observable.value, f"observables[{name}]", hint)
        for index, evidence in enumerate(self.evidences):
            _evidence_indicators(evidence, f"evidences[{index}]", add)
        return list(found.values())

    def techniques(self) -> list[str]:
        """ATT&CK technique and sub-technique ids the finding carries, unique, in the order given.

        Read from ``finding_info.attacks`` (OCSF 1.1+: ``technique`` and ``sub_technique``) and from a
        top-level ``attacks`` (OCSF 1.0 and the Security Control profile). Ids that are not ATT&CK ids are
        dropped; a sub-technique also names its parent technique, just before it. At most ``MAX_ATTACKS``
        attack objects are read from each place, and at most ``MAX_ATTACKS`` ids returned.

        For example ``finding_info.attacks = [{"sub_technique": {"uid": "T1059.001"}}]`` gives
        ``["T1059", "T1059.001"]``.
        """
        found: dict[str, None] = {}
        for attack in _attacks(self):
            for key in ("technique", "sub_technique"):
                held = attack.get(key)
                uid = technique_uid(held.get("uid")) if isinstance(held, dict) else None
                if uid:
                    found.setdefault(uid.partition(".")[0])
                    found.setdefault(uid)
        return list(found)[:MAX_ATTACKS]

    def tactics(self) -> list[str]:
        """ATT&CK tactics the finding carries: their ids and their names, unique, in the order given.

        Read from the same attack objects as ``techniques()``: ``tactic`` (OCSF 1.1+) and the ``tactics``
        list of OCSF 1.0. Names are tidied by ``attack_name`` and compared without case; ids that are not
        ATT&CK tactic ids and names that do not look like names are dropped.

        For example ``finding_info.attacks = [{"tactic": {"uid": "TA0002", "name": "Execution"}}]`` gives
        ``["TA0002", "Execution"]``.
        """
        found: dict[str, str] = {}
        for attack in _attacks(self):
            listed = attack.get("tactics")
            for tactic in [attack.get("tactic"), *(listed[:MAX_ATTACKS] if isinstance(listed, list) else [])]:
                if not isinstance(tactic, dict):
                    continue
                for value in (tactic_uid(tactic.get("uid")), attack_name(tactic.get("name"))):
                    if value:
                        found.setdefault(value.casefold(), value)
        return list(found.values())[:MAX_ATTACKS]

    def confidence(self) -> int | None:
        """The sensor's confidence in its own detection, 0-100, or None when it gave none.

        ``confidence_score`` when it is a number from 0 to 100, else ``confidence_id`` as a score
        (1 Low → 30, 2 Medium → 60, 3 High → 90); 0 Unknown, 99 Other and anything else give None.

        For example a Suricata alert whose rule says ``confidence High`` (``confidence_id`` 3) gives 90.
        """
        score = getattr(self, "confidence_score", None)
        if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score):
            if 0 <= score <= 100:
                return round(score)
        level = getattr(self, "confidence_id", None)
        if isinstance(level, int) and not isinstance(level, bool):
            return _CONFIDENCE_SCORE.get(level)
        return None

    def disposition(self) -> int | None:
        """What the sensor did about it: the OCSF ``disposition_id``, or None when unknown.

        OCSF values (dictionary ``disposition_id``): 1 Allowed, 2 Blocked, 3 Quarantined, 4 Isolated,
        5 Deleted, 6 Dropped, … 15 Detected, 16 No Action, 17 Logged, 19 Alert, … 99 Other. 0 Unknown, a
        missing value and anything that is not an id from 1 to 99 give None.

        For example a Suricata alert with ``alert.action`` ``"blocked"`` gives 2.
        """
        value = getattr(self, "disposition_id", None)
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 99:
            return value
        return None

    def registry_values(self) -> list[RegistryValueRef]:
        """Registry values the evidences point at (persistence), e.g. Run-key values."""
        refs: list[RegistryValueRef] = []
        for evidence in self.evidences:
            value = evidence.get("reg_value")
            if isinstance(value, dict) and isinstance(value.get("path"), str) and value.get("name"):
                refs.append(RegistryValueRef(key=value["path"], name=str(value["name"])))
        return refs

    def affected_resources(self) -> list[CloudResource]:
        """The cloud resources the finding names as affected (OCSF ``resources[]``; ``_cloud``)."""
        return affected_resources((self.model_extra or {}).get("resources"))

    def cloud_account(self) -> CloudAccount | None:
        """Where in the cloud the finding was made (OCSF ``cloud``; ``flows.models._cloud``), or None."""
        return cloud_account((self.model_extra or {}).get("cloud"))


class RegistryValueRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(max_length=1024)
    name: str = Field(max_length=1024)


_OBSERVABLE_HINTS: dict[int, IndicatorType | None] = {
    1: IndicatorType.DOMAIN,
    4: IndicatorType.ACCOUNT,
    6: IndicatorType.URL,
    45: IndicatorType.FILE_PATH,
    8: None,  # hash: typed by its length
    2: None,  # IP: v4 or v6
}


def _attacks(alert: Alert) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for holder in (alert.finding_info, alert):
        listed = (holder.model_extra or {}).get("attacks")
        if isinstance(listed, list):
            found.extend(item for item in listed[:MAX_ATTACKS] if isinstance(item, dict))
    return found


def _evidence_indicators(evidence: dict[str, Any], where: str, add: Any) -> None:
    url = evidence.get("url")
    if isinstance(url, dict):
        add(url.get("url_string"), f"{where}.url.url_string", IndicatorType.URL)
        add(url.get("hostname"), f"{where}.url.hostname")
    # OCSF's DNS and web activity evidence: the name asked for, the URL requested.
    query = evidence.get("query")
    if isinstance(query, dict):
        add(query.get("hostname"), f"{where}.query.hostname", IndicatorType.DOMAIN)
    request = evidence.get("http_request")
    if isinstance(request, dict) and isinstance(request.get("url"), dict):
        add(request["url"].get("url_string"), f"{where}.http_request.url.url_string", IndicatorType.URL)
        add(request["url"].get("hostname"), f"{where}.http_request.url.hostname")
    for side in ("dst_endpoint", "src_endpoint"):
        endpoint = evidence.get(side)
        if isinstance(endpoint, dict):
            add(endpoint.get("hostname"), f"{where}.{side}.hostname")
            add(endpoint.get("domain"), f"{where}.{side}.domain")
            ip = endpoint.get("ip")
            if isinstance(ip, str) and side == "dst_endpoint" and _is_public(ip):
                add(ip, f"{where}.{side}.ip")
    for holder in (evidence.get("file"), (evidence.get("process") or {}).get("file")):
        if isinstance(holder, dict):
            for digest in holder.get("hashes") or []:
                if isinstance(digest, dict):
                    add(digest.get("value"), f"{where}.file.hashes")
    value = evidence.get("reg_value")
    if isinstance(value, dict) and isinstance(value.get("path"), str) and value.get("name"):
        add(f"{value['path']}\\{value['name']}", f"{where}.reg_value", IndicatorType.REGISTRY_VALUE)
    process = evidence.get("process")
    if isinstance(process, dict):
        # Command lines carry what the sensor did not split out: download URLs, C2 hosts, Run keys.
        for command in (process.get("cmd_line"), (process.get("parent_process") or {}).get("cmd_line")):
            if isinstance(command, str):
                for found in iocs_in_text(command[:65536], f"{where}.process.cmd_line"):
                    add(found.value, found.field, found.type)


def _is_public(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_global
    except ValueError:
        return False
