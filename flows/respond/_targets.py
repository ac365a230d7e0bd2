"""Which targets an action acts on, taken from the incident.

Block actions only ever take indicators that intel calls malicious: an attacker can put any domain in
an alert (``google.com``), and blocking whatever an alert names would hand them our firewall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actions import TargetKind
from flows.models import Alert, IndicatorType
from flows.store import IncidentView


@dataclass(frozen=True)
class Target:
    label: str  # what the ledger and people see; part of the idempotency key
    inputs: dict[str, Any]


def targets_for(kind: TargetKind, incident: IncidentView, alerts: list[Alert]) -> list[Target]:
    if kind is TargetKind.HOST:
        return [Target(label=host, inputs={"hostname": host}) for host in incident.hosts]
    if kind is TargetKind.REGISTRY_VALUE:
        found: dict[str, Target] = {}
        for alert in alerts:
            if not alert.hostname:
                continue
            for ref in alert.registry_values():
                label = f"{alert.hostname}:{ref.key}\\{ref.name}"
                found.setdefault(
                    label.lower(),
                    Target(
                        label=label, inputs={"hostname": alert.hostname, "key": ref.key, "name": ref.name}
                    ),
                )
        return list(found.values())
    wanted = {
        TargetKind.DOMAIN: ({IndicatorType.DOMAIN}, "domain"),
        TargetKind.IP: ({IndicatorType.IPV4, IndicatorType.IPV6}, "ip"),
        TargetKind.URL: ({IndicatorType.URL}, "url"),
    }.get(kind)
    if wanted is None:
        return []
    types, field = wanted
    return [
        Target(label=indicator.value, inputs={field: indicator.value})
        for indicator in incident.indicators
        if indicator.type in types and any(p.get("verdict") == "malicious" for p in indicator.provenance)
    ]
