"""Recommended mitigations, derived from what the incident shows and what was done about it.

Each one is a phrase key (``mitigation.<code>`` in the catalogs) with its values; the order is the
order a customer should act in: what failed or needs a person first, then what to keep in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from flows.store import IncidentView

from ._evidence import ChainStep

_LONG_DWELL = timedelta(days=30)
# An autostart found in the evidence, and the action verb that removes it.
_REMOVED_BY = {
    "autorun": "delete_registry_value",
    "task": "delete_scheduled_task",
    "service": "delete_service",
}
_NETWORK_TYPES = ("url", "domain", "ipv4", "ipv6")


@dataclass(frozen=True)
class Advice:
    code: str
    params: dict[str, str] = field(default_factory=dict)
    values: list[str] = field(default_factory=list)  # raw values the phrase lists (made inert by the caller)


@dataclass(frozen=True)
class Situation:
    """What the mitigations are derived from (everything raw; the caller makes it inert)."""

    incident: IncidentView
    chain: list[ChainStep]
    hacktool: bool
    text: str  # titles, types and intel reasons, lower-cased: to recognise families like MyKings
    dwell: timedelta | None


def mitigations(situation: Situation) -> list[Advice]:
    incident = situation.incident
    verdict = incident.verdict
    done = _succeeded(incident)
    advice: list[Advice] = []
    failed = [f"{a.key} → {a.target}" for a in incident.actions if a.status == "failed"]
    if failed:
        advice.append(Advice("failed_actions", values=failed))
    if situation.hacktool:
        advice.append(Advice("hacktool"))
    if verdict == "suspicious":
        advice.append(Advice("gray"))
    if verdict == "benign" and not incident.actions:
        advice.append(Advice("benign"))
        return advice
    if "isolate_host" in done:
        advice.append(Advice("isolated", values=done["isolate_host"]))
    # An autostart the alerts and the telemetry both show is one autostart (two keys' "start" are two).
    left = {
        f"{s.params.get('key', '')}\\{s.params['name']}".casefold(): s.params["name"]
        for s in situation.chain
        if _REMOVED_BY.get(s.kind.removesuffix("_plain")) not in (None, *done)
    }
    if left:
        advice.append(Advice("persistence_left", values=list(left.values())))
    if verdict == "malicious" or situation.hacktool:
        advice.append(Advice("credentials", values=list(incident.hosts)))
    blocked = [target for verb in ("block_domain", "block_ip", "block_url") for target in done.get(verb, [])]
    if blocked:
        advice.append(Advice("keep_blocked", values=blocked))
    listed = [i.value for i in incident.indicators if i.type in _NETWORK_TYPES and _listed(i.provenance)]
    if listed:
        advice.append(Advice("hunt", values=listed))
    if "delete_registry_value" in done:
        names = [target.rsplit("\\", 1)[-1] for target in done["delete_registry_value"]]
        advice.append(Advice("watch_persistence", values=sorted(set(names), key=names.index)))
    lolbins = sorted({s.params["process"] for s in situation.chain if s.kind == "lolbin"})
    if lolbins:
        advice.append(Advice("lolbin", values=lolbins))
    kinds = {s.kind for s in situation.chain}
    if "exploit_smb" in kinds or "mykings" in situation.text or "eternalblue" in situation.text:
        advice.append(Advice("patch_smb"))
    if "mykings" in situation.text:
        advice.append(Advice("mssql"))
    if "phishing" in kinds:
        advice.append(Advice("phishing"))
    if "bruteforce" in kinds:
        advice.append(Advice("bruteforce"))
    if situation.dwell is not None and situation.dwell >= _LONG_DWELL:
        advice.append(Advice("long_dwell"))
    return advice


def _succeeded(incident: IncidentView) -> dict[str, list[str]]:
    """Targets of succeeded actions by verb (``lab.isolate_host`` → ``isolate_host``), each once."""
    done: dict[str, dict[str, None]] = {}
    for action in incident.actions:
        if action.status == "succeeded":
            verb = action.key.rsplit(".", 1)[-1]
            target = action.target.split(":", 1)[-1] if verb == "delete_registry_value" else action.target
            done.setdefault(verb, {})[target] = None  # each target once, in the order first done
    return {verb: list(targets) for verb, targets in done.items()}


def _listed(provenance: Iterable[dict[str, object]]) -> bool:
    return any(p.get("verdict") == "malicious" for p in provenance)
