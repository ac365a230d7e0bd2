"""The alert: a subset of the OCSF Detection Finding (class 2004); unknown fields are kept as sent."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._indicator import Indicator, IndicatorType, host_of
from ._text_iocs import iocs_in_text

# Every string from a sensor is attacker-influenced: length caps keep one alert from bloating the store,
# and nothing here interprets the values beyond typing them.
_Text = Field(default=None, max_length=4096)


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

    def indicators(self) -> list[Indicator]:
        """Indicators named by the alert's observables and evidences, de-duplicated by (type, value)."""
        found: dict[tuple[str, str], Indicator] = {}

        def add(raw: Any, field: str, hint: IndicatorType | None = None) -> None:
            if not isinstance(raw, str) or not raw.strip():
                return
            indicator = Indicator.parse(raw, field=field, hint=hint)
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

    def registry_values(self) -> list[RegistryValueRef]:
        """Registry values the evidences point at (persistence), e.g. Run-key values."""
        refs: list[RegistryValueRef] = []
        for evidence in self.evidences:
            value = evidence.get("reg_value")
            if isinstance(value, dict) and isinstance(value.get("path"), str) and value.get("name"):
                refs.append(RegistryValueRef(key=value["path"], name=str(value["name"])))
        return refs


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


def _evidence_indicators(evidence: dict[str, Any], where: str, add: Any) -> None:
    url = evidence.get("url")
    if isinstance(url, dict):
        add(url.get("url_string"), f"{where}.url.url_string", IndicatorType.URL)
        add(url.get("hostname"), f"{where}.url.hostname")
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
