"""Build OCSF Detection Finding documents from other tools' fields."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from flows.models import Indicator, IndicatorType, iocs_in_text

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
        cleaned = {k: v for k, v in item.items() if v not in (None, "", {}, [])}
        if cleaned:
            self.doc["evidences"].append(cleaned)

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
