"""Which targets an action acts on, taken from the incident.

Block actions only ever take indicators that intel calls malicious: an attacker can put any domain in
an alert (``google.com``), and blocking whatever an alert names would hand them our firewall. Objects on
a host (registry values, services, scheduled tasks, processes, files) and accounts come from the alert's
OCSF evidences, on the host the alert is about.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from actions import Capability, TargetKind, registry
from flows.models import Alert, IndicatorType
from flows.store import IncidentView


@dataclass(frozen=True)
class Target:
    label: str  # what the ledger and people see; part of the idempotency key
    inputs: dict[str, Any]
    # The host's groups/labels in its alerts (lower-case): guardrails match protected-asset tags on them.
    tags: frozenset[str] = field(default_factory=frozenset)


def acts_on(wanted: str) -> TargetKind:
    """The kind of target a capability (or an action key) acts on, whether or not a tenant binds it."""
    return registry.get(wanted).target if "." in wanted else Capability(wanted).target


def targets_for(kind: TargetKind, incident: IncidentView, alerts: list[Alert]) -> list[Target]:
    tags = host_tags(alerts)
    if kind is TargetKind.HOST:
        return [
            Target(label=host, inputs={"hostname": host}, tags=tags.get(host.lower(), frozenset()))
            for host in incident.hosts
        ]
    from_evidence = _EVIDENCE.get(kind)
    if from_evidence is not None:
        found: dict[str, Target] = {}
        for alert in alerts:
            for target in from_evidence(alert):
                if "hostname" in target.inputs:
                    target = Target(
                        target.label, target.inputs, tags.get(target.inputs["hostname"].lower(), frozenset())
                    )
                found.setdefault(target.label.lower(), target)
        return list(found.values())
    wanted = {
        TargetKind.DOMAIN: ({IndicatorType.DOMAIN}, "domain"),
        TargetKind.IP: ({IndicatorType.IPV4, IndicatorType.IPV6}, "ip"),
        TargetKind.URL: ({IndicatorType.URL}, "url"),
        # A hash is blocked everywhere in the tenant: only one intel calls malicious, never one an alert
        # merely names (an attacker could name a system file's hash).
        TargetKind.FILE_HASH: ({IndicatorType.SHA256}, "sha256"),
    }.get(kind)
    if wanted is None:
        return []
    types, name = wanted
    return [
        Target(label=indicator.value, inputs={name: indicator.value})
        for indicator in incident.indicators
        if indicator.type in types and any(p.get("verdict") == "malicious" for p in indicator.provenance)
    ]


def host_tags(alerts: Iterable[Alert]) -> dict[str, frozenset[str]]:
    """Each host's groups, labels and type as its alerts give them (OCSF ``device.groups[].name``,
    ``device.labels``, ``device.type``), by lower-case hostname. Only ever used to *add* protection."""
    found: dict[str, set[str]] = {}
    for alert in alerts:
        if not alert.hostname or alert.device is None:
            continue
        extra = alert.device.model_extra or {}
        names: list[Any] = [extra.get("type")]
        names += [g.get("name") for g in _list(extra.get("groups")) if isinstance(g, dict)]
        names += _list(extra.get("labels"))
        found.setdefault(alert.hostname.lower(), set()).update(
            n.strip().lower()[:128] for n in names if isinstance(n, str) and n.strip()
        )
    return {host: frozenset(names) for host, names in found.items()}


def _registry_values(alert: Alert) -> list[Target]:
    if not alert.hostname:
        return []
    return [
        Target(
            label=f"{alert.hostname}:{ref.key}\\{ref.name}",
            inputs={"hostname": alert.hostname, "key": ref.key, "name": ref.name},
        )
        for ref in alert.registry_values()
    ]


def _services(alert: Alert) -> list[Target]:
    return _on_host(
        alert,
        "service:",
        "name",
        lambda e: _text(_dict(e.get("win_service") or e.get("service")).get("name"), 256),
    )


def _tasks(alert: Alert) -> list[Target]:
    return _on_host(alert, "task:", "name", lambda e: _text(_dict(e.get("job")).get("name"), 512))


def _processes(alert: Alert) -> list[Target]:
    found = []
    for evidence in _evidences(alert):
        process = _dict(evidence.get("process"))
        pid = process.get("pid")
        if not alert.hostname or not isinstance(pid, int) or isinstance(pid, bool) or pid < 0:
            continue
        name = _text(process.get("name"), 260) or _basename(
            _text(_dict(process.get("file")).get("path"), 1024)
        )
        # The image name travels with the pid: the adapter refuses if the pid now belongs to another image.
        inputs: dict[str, Any] = {"hostname": alert.hostname, "pid": pid, **({"name": name} if name else {})}
        found.append(Target(f"{alert.hostname}:pid:{pid}" + (f" ({name})" if name else ""), inputs))
    return found


def _files(alert: Alert) -> list[Target]:
    found = []
    for target in _on_host(alert, "", "path", lambda e: _text(_dict(e.get("file")).get("path"), 1024)):
        # The file's SHA-1 travels with it when the evidence names one: Defender quarantines by SHA-1.
        sha1 = _sha1_of(alert, target.inputs["path"])
        found.append(Target(target.label, {**target.inputs, **({"sha1": sha1} if sha1 else {})}))
    return found


_SHA1_ID = 2  # OCSF file.hashes[].algorithm_id: 2 is SHA-1


def _sha1_of(alert: Alert, path: str) -> str | None:
    for evidence in _evidences(alert):
        file = _dict(evidence.get("file"))
        if file.get("path") != path:
            continue
        for digest in _list(file.get("hashes")):
            value = _text(_dict(digest).get("value"), 40).lower()
            if _dict(digest).get("algorithm_id") == _SHA1_ID and re.fullmatch(r"[0-9a-f]{40}", value):
                return value
    return None


def _on_host(
    alert: Alert, kind: str, input_name: str, named: Callable[[dict[str, Any]], str]
) -> list[Target]:
    """One target per evidence that ``named`` finds an object in, on the alert's host:
    ``<host>:<kind><name>``, acted on as ``{"hostname": <host>, <input_name>: <name>}``."""
    if not alert.hostname:
        return []
    names = (named(evidence) for evidence in _evidences(alert))
    return [
        Target(f"{alert.hostname}:{kind}{name}", {"hostname": alert.hostname, input_name: name})
        for name in names
        if name
    ]


def _accounts(alert: Alert) -> list[Target]:
    # The account the malicious activity ran as (evidence user, or the process's user): never any name
    # an alert merely mentions. Protected accounts (krbtgt, admins) need approval like protected hosts.
    found = []
    for evidence in _evidences(alert):
        for holder in (evidence.get("user"), _dict(evidence.get("process")).get("user")):
            name = _text(_dict(holder).get("name"), 256)
            if name:
                found.append(Target(name, {"account": name}))
    return found


_EVIDENCE: dict[TargetKind, Callable[[Alert], list[Target]]] = {
    TargetKind.REGISTRY_VALUE: _registry_values,
    TargetKind.SERVICE: _services,
    TargetKind.SCHEDULED_TASK: _tasks,
    TargetKind.PROCESS: _processes,
    TargetKind.FILE: _files,
    TargetKind.ACCOUNT: _accounts,
}


def _evidences(alert: Alert) -> list[dict[str, Any]]:
    return [e for e in alert.evidences if isinstance(e, dict)]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any, limit: int) -> str:
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else ""


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path)[-1] if path else ""
