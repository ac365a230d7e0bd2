"""What the hosts' own telemetry shows, in time order: the events SigmaHQ rules matched, told as steps.

Triage runs the SigmaHQ rules over the incident hosts' Windows events and keeps each rule that matched as
a reason (``code: sigma``): the rule (title, id, level), the hosts it matched on (``hosts``, the first
matched event's first), that event's time (``first``, ISO) and up to three of its key fields (``fields``:
``["Image=…", "CommandLine=…"]``, defanged). A reason stored by an older Garrison has only ``host``,
``when`` (to the second) and the fields joined in ``detail`` (``Image=…; CommandLine=…``), split here where
a key field's name starts. Rules past the reasons' cap are in the triage features (``sigma.matched``: id,
title, host, precise time) without key fields. This module turns both into steps: one per event (two rules
on the same event are one step that credits both), ordered by time. Everything here is attacker-influenced
text; it is only sorted and split, and made inert where the report context is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from flows.models import refang
from flows.store import IncidentView

from ._evidence import LOLBINS, ChainStep

# The key fields triage shows of a matched event (``flows/triage/_sigma.py`` ``_KEY_FIELDS``), so that
# ``detail`` splits only where one of them starts: a command line's own "; " stays in the command line.
KEY_FIELDS = (
    "Image", "CommandLine", "ParentImage", "ParentCommandLine", "TargetFilename", "ImageLoaded",
    "TargetObject", "Details", "PipeName", "QueryName", "DestinationHostname", "DestinationIp",
    "DestinationPort", "ServiceName", "ServiceFileName", "ImagePath", "TaskName", "ScriptBlockText",
    "TargetUserName", "SourceImage", "TargetImage",
)  # fmt: skip
_FIELD_START = re.compile(r"; (?=(?:" + "|".join(KEY_FIELDS) + r")=)")
_LEVELS = ("critical", "high", "medium", "low", "informational")
_REASON_TIME = "%Y-%m-%d %H:%M:%S UTC"
_RUN_KEY = re.compile(r"\\currentversion\\(run|runonce|policies\\explorer\\run)\\[^\\]+$", re.I)
MAX_STEPS = 40  # a report tells the story, not every match: the rest is counted


@dataclass(frozen=True)
class RuleMatch:
    """A SigmaHQ rule as published: its title is never translated."""

    title: str
    id: str
    level: str


@dataclass(frozen=True)
class TelemetryStep:
    """One matched event: ``kind`` names its phrase (``sequence.<kind>``), ``params`` fill it (raw)."""

    at: datetime | None
    host: str
    kind: str
    stage: str
    params: dict[str, str]
    rules: tuple[RuleMatch, ...]
    count: int = 1  # events the (first) rule matched, e.g. every beacon of one process to one address
    fields: dict[str, str] = field(default_factory=dict, compare=False)
    # Every host the rule matched on, ``host`` (the first matched event's) first.
    hosts: tuple[str, ...] = field(default=(), compare=False)

    @property
    def identity(self) -> tuple[str, ...]:
        """What makes two matches one step: the same kind of event on the same object on the same host
        (System 7045 and Security 4697 of one service; two rules on one file written)."""
        if self.kind == "matched":
            return (self.host.lower(), self.kind, self.rules[0].id)
        return (self.host.lower(), self.kind, *(_norm(value) for _, value in sorted(self.params.items())))


def telemetry_steps(incident: IncidentView) -> tuple[list[TelemetryStep], int]:
    """The steps the hosts' telemetry shows, in time order (undated last), and how many more there were
    than a report tells (``MAX_STEPS``)."""
    precise = _precise_times(incident)
    told: set[str] = set()
    steps: list[TelemetryStep] = []
    for reason in incident.reasons:
        params = reason.get("params") if isinstance(reason, dict) else None
        if not isinstance(params, dict) or reason.get("code") != "sigma":
            continue  # a routine match (``sigma_routine``) is not part of how it happened
        rule = RuleMatch(_text(params.get("title")), _text(params.get("rule")), _text(params.get("level")))
        if not rule.id:
            continue
        told.add(rule.id)
        hosts = _texts(params.get("hosts")) or _texts([_text(params.get("host")).removeprefix("?")])
        host = hosts[0] if hosts else ""
        at = _iso_time(params.get("first")) or precise.get((rule.id, host.lower()))
        at = at or _reason_time(params.get("when"))
        fields = _fields(params)
        kind, stage, values = _told(fields)
        steps.append(
            TelemetryStep(
                at, host, kind, stage, values, (rule,), _count(params.get("count")), fields, tuple(hosts)
            )
        )
    for item in _features_matched(incident):
        rule = RuleMatch(_text(item.get("title")), _text(item.get("id")), _text(item.get("level")))
        if not rule.id or rule.id in told or item.get("in_alert"):
            continue
        told.add(rule.id)
        host = _text(item.get("host"))
        at = _iso_time(item.get("first"))
        count = _count(item.get("events"))
        steps.append(
            TelemetryStep(at, host, "matched", "execution", {}, (rule,), count, {}, (host,) if host else ())
        )
    merged = _merged(steps)
    merged.sort(key=lambda step: (step.at is None, step.at or datetime.min.replace(tzinfo=UTC)))
    return merged[:MAX_STEPS], max(0, len(merged) - MAX_STEPS)


def _fields(params: dict[str, Any]) -> dict[str, str]:
    """The matched event's key fields: ``fields`` (one ``Name=value`` item each), or for a reason stored
    before triage gave them as data, its ``detail`` split where a key field starts."""
    items = params.get("fields")
    if not isinstance(items, list):
        return parse_detail(_text(params.get("detail")))
    fields: dict[str, str] = {}
    for item in items[: len(KEY_FIELDS)]:
        name, sep, value = _text(item).partition("=")
        if sep and name in KEY_FIELDS and name not in fields:
            fields[name] = value.strip()
    return fields


def parse_detail(detail: str) -> dict[str, str]:
    """``Image=C:\\x.exe; CommandLine=x -a; b`` → ``{"Image": "C:\\x.exe", "CommandLine": "x -a; b"}``."""
    fields: dict[str, str] = {}
    for part in _FIELD_START.split(detail):
        name, sep, value = part.partition("=")
        if sep and name in KEY_FIELDS and name not in fields:
            fields[name] = value.strip()
    return fields


def _told(fields: dict[str, str]) -> tuple[str, str, dict[str, str]]:
    """The step's phrase, its stage and the values it names, from the matched event's key fields."""
    get = fields.get
    process = _basename(get("Image", "") or get("SourceImage", ""))
    if get("ImageLoaded"):
        return "module", "execution", {"process": process, "module": get("ImageLoaded", "")}
    if get("ServiceName") or get("ServiceFileName") or get("ImagePath"):
        command = get("ImagePath") or get("ServiceFileName") or ""
        name = get("ServiceName", "")
        if name:
            return ("service" if command else "service_plain"), "persistence", {"name": name, "cmd": command}
        return "service_path", "persistence", {"cmd": command}
    if get("TaskName"):
        return "task", "persistence", {"name": get("TaskName", "")}
    if get("TargetObject"):
        key = get("TargetObject", "")
        stage = "persistence" if _RUN_KEY.search(key) else "execution"
        if get("Details"):
            return "registry", stage, {"process": process, "key": key, "data": get("Details", "")}
        return "registry_plain", stage, {"process": process, "key": key}
    if get("DestinationHostname") or get("DestinationIp"):
        host = get("DestinationHostname") or get("DestinationIp") or ""
        values = {"process": process, "host": host, "port": get("DestinationPort", "")}
        if get("DestinationHostname") and get("DestinationIp"):
            values["ip"] = get("DestinationIp", "")
            return ("connection_ip_port" if values["port"] else "connection_ip"), "network", values
        return ("connection_port" if values["port"] else "connection"), "network", values
    if get("QueryName"):
        return "dns", "network", {"process": process, "host": get("QueryName", "")}
    if get("TargetFilename"):
        path = get("TargetFilename", "")
        stage = "entry" if _norm(path).endswith(".lnk") else "download"
        return ("file" if process else "file_plain"), stage, {"process": process, "path": path}
    if get("PipeName"):
        return "pipe", "execution", {"process": process, "name": get("PipeName", "")}
    if get("ScriptBlockText"):
        return "script", "execution", {"text": get("ScriptBlockText", "")}
    if get("TargetImage"):
        return "access", "execution", {"process": process, "target": get("TargetImage", "")}
    if get("CommandLine") or process:
        values = {
            "process": process,
            "cmd": get("CommandLine", ""),
            "parent": _basename(get("ParentImage", "")),
        }
        entry = ".lnk" in _norm(get("ParentCommandLine", "") + " " + get("ParentImage", ""))
        kind = "process_parent" if values["parent"] else "process_cmd" if values["cmd"] else "process"
        return kind, ("entry" if entry else "execution"), values
    if get("TargetUserName"):
        return "account", "entry", {"account": get("TargetUserName", "")}
    return "matched", "execution", {}


def _merged(steps: Iterable[TelemetryStep]) -> list[TelemetryStep]:
    """One step per event: rules that matched the same event are credited together, the most severe
    first; the earliest time and the largest count stand."""
    by_identity: dict[tuple[str, ...], TelemetryStep] = {}
    for step in steps:
        seen = by_identity.get(step.identity)
        if seen is None:
            by_identity[step.identity] = step
            continue
        rules = sorted({*seen.rules, *step.rules}, key=lambda r: (_rank(r.level), r.title, r.id))
        moments = [m for m in (seen.at, step.at) if m is not None]
        hosts: dict[str, str] = {}
        for host in (*seen.hosts, *step.hosts):
            hosts.setdefault(host.lower(), host)
        by_identity[step.identity] = replace(
            seen,
            rules=tuple(rules),
            count=max(seen.count, step.count),
            at=min(moments) if moments else None,
            hosts=tuple(hosts.values()),
        )
    return list(by_identity.values())


def advice_steps(steps: Sequence[TelemetryStep]) -> list[ChainStep]:
    """The telemetry's autostarts and LOLBins as chain steps, for the recommendations (``_advice``)."""
    found: list[ChainStep] = []
    for step in steps:
        if step.kind in ("service", "service_plain"):
            found.append(ChainStep("persistence", step.kind, {"name": step.params["name"]}))
        elif step.kind.startswith("registry") and step.stage == "persistence":
            key, _, name = step.params["key"].rpartition("\\")
            found.append(ChainStep("persistence", "autorun_plain", {"key": key, "name": name}))
        elif step.kind == "task":
            found.append(ChainStep("persistence", "task_plain", {"name": step.params["name"]}))
        process = step.params.get("process", "")
        if process.lower() in LOLBINS and step.stage == "network":
            found.append(ChainStep("execution", "lolbin", {"process": process}))
    return found


def covered(chain: Iterable[ChainStep], steps: Sequence[TelemetryStep]) -> list[ChainStep]:
    """The alert-evidence chain without the steps the telemetry already tells (the same command line,
    file, autostart or destination), so no step is told twice."""
    seen = _told_values(steps)
    kept = []
    for step in chain:
        p = step.params
        if step.kind == "process_cmd":
            same = any(_norm(p["cmd"]).startswith(cmd) for cmd in seen["cmd"] if cmd)
        elif step.kind in ("process", "lolbin"):
            same = step.kind == "process" and _norm(p["process"]) in seen["process"]
        elif step.kind == "parent":
            same = (_norm(p["process"]), _norm(p["parent"])) in seen["launch"]
        elif step.kind in ("file", "user_path"):
            same = _norm(p["path"]) in seen["path"]
        elif step.kind.startswith(("autorun", "registry")):
            same = _norm(f"{p['key']}\\{p['name']}") in seen["path"]
        elif step.kind.startswith(("service", "task")):
            same = _norm(p["name"]) in seen["name"]
        elif step.kind in ("connection", "connection_port", "dns"):
            same = _norm(p["host"]) in seen["host"]
        else:
            same = False
        if not same:
            kept.append(step)
    return kept


def _told_values(steps: Sequence[TelemetryStep]) -> dict[str, set[Any]]:
    seen: dict[str, set[Any]] = {key: set() for key in ("cmd", "process", "launch", "path", "name", "host")}
    for step in steps:
        p = step.params
        if step.kind.startswith("process"):
            seen["cmd"].add(_norm(p.get("cmd", "")).rstrip("…"))
            seen["process"].add(_norm(p.get("process", "")))
            seen["launch"].add((_norm(p.get("process", "")), _norm(p.get("parent", ""))))
        for name in ("path", "module", "key"):
            if p.get(name):
                seen["path"].add(_norm(p[name]))
        if p.get("name"):
            seen["name"].add(_norm(p["name"]))
        for name in ("host", "ip"):
            if p.get(name):
                seen["host"].add(_norm(p[name]))
    return seen


def _precise_times(incident: IncidentView) -> dict[tuple[str, str], datetime]:
    """The first matched event's time to the microsecond, by (rule id, host), from the triage features;
    the reason itself says it to the second, which cannot order events of the same second."""
    times: dict[tuple[str, str], datetime] = {}
    for item in _features_matched(incident):
        at = _iso_time(item.get("first"))
        if at is not None:
            times.setdefault((_text(item.get("id")), _text(item.get("host")).lower()), at)
    return times


def _features_matched(incident: IncidentView) -> list[dict[str, Any]]:
    """``sigma.matched`` of the latest triage (the classify step's "triage features" timeline line)."""
    for entry in reversed(incident.timeline):
        features = entry.data.get("features") if entry.step == "classify" else None
        if isinstance(features, dict):
            sigma = features.get("sigma")
            matched = sigma.get("matched") if isinstance(sigma, dict) else None
            return [m for m in matched if isinstance(m, dict)] if isinstance(matched, list) else []
    return []


def _reason_time(value: Any) -> datetime | None:
    try:
        return datetime.strptime(_text(value), _REASON_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


def _iso_time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(_text(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


def _rank(level: str) -> int:
    return _LEVELS.index(level) if level in _LEVELS else len(_LEVELS)


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path)[-1] if path else ""


def _norm(value: str) -> str:
    """Values compared as the same: refanged (triage defangs its detail), case-folded."""
    return refang(value).strip().casefold()


def _text(value: Any) -> str:
    return value.strip()[:2048] if isinstance(value, str) else ""


def _texts(value: Any) -> list[str]:
    return [text for item in value[:10] if (text := _text(item))] if isinstance(value, list) else []
