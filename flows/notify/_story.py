"""The incident told as a story: summary sentences, the verdict's reasons and the timeline's milestones,
in the reader's language. Values are made inert here (``inert``, ``defang``) before they are placed."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flows.models import Alert
from flows.store import ActionView, IncidentView, TimelineEntry

from ._i18n import Catalog
from ._rounds import Round
from ._text import defanged, inert, when

_HACKTOOL_WORDS = ("hacktool", "hack tool", "attack tool", "mimikatz", "cobalt strike")

# The analyst's questions (DESIGN §2) as the classifier words them → catalog keys.
_QUESTIONS = {
    "why are we watching this indicator": "why_watched",
    "how long has it been watched / seen": "how_long",
    "how long has it been watched": "how_long",
    "how prevalent is it": "how_prevalent",
    "how often, in what rhythm": "rhythm",
    "how much data, which direction": "data_volume",
    "which process talks, from where": "which_process",
    "how does it persist": "how_persist",
    "how did it get there": "how_got_there",
    "is it a tool, not a virus": "tool_or_virus",
    "how severe does the sensor rate it": "how_severe",
    "what does the command line do": "command",
    "which program started it": "ancestry",
    "which attack techniques does it show": "technique",
    "what kind of threat does the sensor name": "threat",
    "what could not be answered": "unanswered",
    "can it close without an analyst": "gate",
    "what did the analyst decide": "decided",
    "what did an analyst decide before": "standing",
}

# Finding values that name a catalog entry (the knowledge tables' ids): told in the reader's language,
# or shown as the id when a language lacks it.
_CATALOG_VALUES = {
    "behaviour": "behaviour",
    "group": "ancestry_group",
    "category": "threat_kind",
    "action": "disposition",
    "verdict": "verdict",
}

# The classifier's findings, recognised so they can be told in the reader's language. A finding that
# matches none is shown as written (English), never dropped.
Teller = Callable[[Catalog, "re.Match[str]"], str]


def _listed(t: Catalog, m: re.Match[str]) -> str:
    more = m.groupdict().get("more")
    reason = m.groupdict().get("reason")
    if reason:
        key = "finding.listed_more" if more else "finding.listed"
    else:
        key = "finding.listed_by_more" if more else "finding.listed_by"
    values = {"ioc": m["ioc"], "more": more or "", "source": m["source"], "reason": reason or ""}
    told = t(key, **{name: inert(value) for name, value in values.items()})
    since = m.groupdict().get("since")
    return told + (t("finding.since", since=inert(since)) if since else "")


def _severity(t: Catalog, m: re.Match[str]) -> str:
    level = m["level"]
    return t("finding.severity", level=t(f"severity.{level}") if t.has(f"severity.{level}") else inert(level))


_AUTOSTART = r'(?:Run-key value [^,]+|service "[^"]+"|scheduled task [^,]+?)'
_AUTOSTART_ITEM = re.compile(
    r'^Run-key value (?P<run>.+)$|^service "(?P<service>.+)"$|^scheduled task (?P<task>.+)$'
)


def _persistence(t: Catalog, m: re.Match[str]) -> str:
    items = []
    for item in m["items"].split(", "):
        part = _AUTOSTART_ITEM.match(item)
        assert part is not None  # the pattern below only lets these through
        kind = next(name for name in ("run", "service", "task") if part[name])
        items.append(t(f"finding.item_{kind}", name=inert(part[kind])))
    if m["near"]:
        return t("finding.persistence_near", items=t.join(items))
    if m["days"]:
        return t("finding.persistence_long_lived", items=t.join(items), days=m["days"])
    return t("finding.persistence", items=t.join(items))


def _watched(t: Catalog, m: re.Match[str]) -> str:
    days = int(m["n"]) * (365 if m["unit"].startswith("year") else 1)
    age = t.duration(timedelta(days=days))
    if m["confirmed"]:
        return t("finding.watched_confirmed", age=age, confirmed=inert(m["confirmed"]))
    return t("finding.watched", age=age)


_FINDINGS: list[tuple[re.Pattern[str], Teller]] = [
    # the walking skeleton's classifier, and the triage one (both wordings are in stored incidents)
    (
        re.compile(
            r"^(?P<ioc>\S+?)(?: and (?P<more>\d+) more)? listed by (?P<source>[^:]+): (?P<reason>.*?)"
            r"(?:, first seen (?P<since>[\w:.+-]+))?$"
        ),
        _listed,
    ),
    (
        re.compile(
            r"^(?P<ioc>\S+?)(?: \(\+(?P<more>\d+) more\))? is listed by (?P<source>[^:]+?)"
            r"(?:: (?P<reason>.*))?$"
        ),
        _listed,
    ),
    (
        re.compile(r"^autorun registry values \((?P<names>.*)\) written$"),
        lambda t, m: t("finding.autorun", names=inert(m["names"])),
    ),
    (
        re.compile(r"^(?:the )?sensor rates it low(?:/| or )informational$"),
        lambda t, m: t("finding.severity_low"),
    ),
    (re.compile(r"^sensor severity (?P<level>\w+)$"), _severity),
    (re.compile(r"^the sensor rates it (?P<level>\w+)$"), _severity),
    (
        re.compile(
            rf"^(?P<items>{_AUTOSTART}(?:, {_AUTOSTART})*)"
            r"(?:(?P<near> created around the first activity)"
            r"| written (?P<days>\d+) days before the traffic we see: long-lived)?$"
        ),
        _persistence,
    ),
    (
        re.compile(
            r"^watched for (?P<n>\d+) (?P<unit>days?|years)(?:, last confirmed (?P<confirmed>[\d-]+))?"
            r": still current$"
        ),
        _watched,
    ),
    (re.compile(r"^an attack tool was detected\b"), lambda t, m: t("finding.hacktool")),
    (re.compile(r"^the detection is a tool \([^)]*\), not a virus\b"), lambda t, m: t("finding.hacktool")),
]


def reasons(t: Catalog, incident: IncidentView) -> list[dict[str, Any]]:
    rows = []
    for reason in incident.reasons:
        question = str(reason.get("question", ""))
        key = _QUESTIONS.get(question.strip().rstrip("?").lower())
        finding = str(reason.get("finding", ""))
        told = _coded(t, reason.get("code"), reason.get("params") or {})
        rows.append(
            {
                "question": t(f"question.{key}") if key else inert(question),
                "finding": told if told is not None else _finding(t, finding),
                "effect": int(reason.get("effect", 0)),
                "effect_text": f"{int(reason.get('effect', 0)):+d}",
            }
        )
    return rows


def _coded(t: Catalog, code: Any, params: dict[str, Any]) -> str | None:
    """A finding triage gave as data (``code`` + ``params``), told from the catalog; None if unknown."""
    if not isinstance(code, str) or not t.has(f"finding.{code}"):
        return None
    values = {name: inert(", ".join(v) if isinstance(v, list) else str(v)) for name, v in params.items()}
    if code.startswith("persistence"):
        items = [
            t(f"finding.item_{kind}", name=inert(name))
            for kind, field in (("run", "runs"), ("service", "services"), ("task", "tasks"))
            for name in params.get(field) or []
        ]
        values["items"] = t.join(items)
    if "days" in params and code in ("watched", "watched_confirmed", "stale", "long_dwell"):
        values["age"] = t.duration(timedelta(days=int(params["days"])))
    if "period_seconds" in params:
        values["period"] = t.duration(timedelta(seconds=int(params["period_seconds"])))
    if code == "severity":
        level = str(params.get("level", ""))
        values["level"] = t(f"severity.{level}") if t.has(f"severity.{level}") else inert(level)
    for name, section in _CATALOG_VALUES.items():
        key = f"{section}.{params.get(name)}"
        if name in params and t.has(key):
            values[name] = t(key)
    if "missing" in params:
        told = [t(f"missing.{m}") for m in params["missing"] if t.has(f"missing.{m}")]
        values["missing"] = t.join(told) if told else t("missing.none")
    if code == "analyst_decision" and not params.get("comment"):
        code = "analyst_decision_plain"
    if code == "behaviour" and params.get("decoded"):
        code = "behaviour_decoded"
    if code == "threat_name" and str(params.get("word", "")).lower() == str(params.get("category", "")):
        code = "threat_name_plain"  # "ransomware (ransomware)" says it twice
    try:
        return t(f"finding.{code}", **values)
    except KeyError:  # a catalog phrase naming a value this finding lacks: tell it in English instead
        return None


def _finding(t: Catalog, finding: str) -> str:
    for pattern, tell in _FINDINGS:
        match = pattern.match(finding.strip())
        if match:
            return tell(t, match)
    return inert(finding)


def hacktool_in(incident: IncidentView, alerts: Sequence[Alert]) -> bool:
    """An attack tool was found: a person put it there (DESIGN §1, the ignored precursor)."""
    if any(
        _QUESTIONS.get(str(r.get("question", "")).rstrip("?").lower()) == "tool_or_virus"
        for r in incident.reasons
    ):
        return True
    text = " ".join([incident.title, *(a.finding_info.title for a in alerts)]).lower()
    return any(word in text for word in _HACKTOOL_WORDS)


def summary(
    t: Catalog,
    incident: IncidentView,
    alerts: Sequence[Alert],
    dwell: timedelta | None,
    first: datetime | None,
    reopened: int = 0,
) -> list[str]:
    """The summary's sentences. ``incident.actions`` holds one row per action and target (``_rounds``);
    ``reopened``: how many response rounds followed the first."""
    hosts = t.join([inert(h) for h in incident.hosts]) if incident.hosts else t("none_named")
    sources = t.join(sorted({inert(a.source) for a in alerts}))
    detected = when(incident.detected_at or incident.created_at)
    title = inert(incident.title)
    sentences = [
        t("summary.detected", date=detected, source=sources, hosts=hosts, title=title)
        if sources
        else t("summary.detected_nosource", date=detected, hosts=hosts, title=title)
    ]
    if dwell is not None and first is not None:
        sentences.append(t("summary.dwell", first=when(first), dwell=t.duration(dwell)))
    verdict = incident.verdict or "undecided"
    sentences.append(t(f"summary.verdict.{verdict}", score=incident.score or 0))
    if reopened:
        sentences.append(t.plural("summary.reopened", reopened))
    done = done_phrases(t, [a for a in incident.actions if a.status == "succeeded"])
    failed = [a for a in incident.actions if a.status == "failed"]
    if done:
        sentences.append(t("summary.done", actions=t.clauses(done)))
    elif verdict == "malicious" and not failed:  # actions that failed were taken: the next sentence says so
        sentences.append(t("summary.nothing_done"))
    if failed:
        sentences.append(t.plural("summary.failed", len(failed)))
    if t.has(f"summary.status.{incident.status}"):
        sentences.append(t(f"summary.status.{incident.status}"))
    return sentences


def done_phrases(t: Catalog, actions: Sequence[ActionView]) -> list[str]:
    """``isolated WS-1 from the network``, ``removed 3 autorun registry values``: one phrase per verb,
    counting each target once (two vendors' isolate_host on one host is one host isolated)."""
    by_verb: dict[str, dict[str, None]] = {}
    for action in actions:
        by_verb.setdefault(action.key.rsplit(".", 1)[-1], {})[action.target] = None
    phrases = []
    for verb, named in by_verb.items():
        targets = list(named)
        if not t.has(f"done.{verb}"):
            continue
        shown = [defanged(x) if verb.startswith(("block_", "unblock_")) else inert(x) for x in targets]
        phrases.append(t.plural(f"done.{verb}", len(targets), targets=t.join(shown)))
    return phrases


def milestones(
    t: Catalog,
    incident: IncidentView,
    alerts: Sequence[Alert],
    first: datetime | None,
    in_rounds: Sequence[Round] = (),
) -> list[dict[str, str]]:
    """The moments that matter, in time order. A reopened incident's rounds each tell their own verdict
    and containment once, marked with the round (a status set twice in one round is one moment)."""
    events: list[tuple[datetime, str]] = []
    dates: list[tuple[date, str]] = []  # day-precise events (intel dates) are shown without a time
    if first is not None:
        events.append((first, t("milestone.first_evidence")))
    intel = _earliest_intel(incident)
    if intel is not None:
        seen, source, ioc = intel
        dates.append((seen, t("milestone.intel", source=inert(source), ioc=defanged(ioc))))
    sources = t.join(sorted({inert(a.source) for a in alerts}))
    detected = incident.detected_at or incident.created_at
    events.append(
        (detected, t("milestone.detected", source=sources) if sources else t("milestone.detected_plain"))
    )
    events.append((incident.created_at, t("milestone.received")))
    rounds_told = list(in_rounds) or [Round(1, incident.created_at, timeline=list(incident.timeline))]
    for told in rounds_told:
        labels: set[str] = set()
        # An earlier round's containment and closing are its own (the incident's fields hold the last).
        ended = told.number != rounds_told[-1].number
        for index, entry in enumerate(told.timeline):
            # A round starts reopened whoever started it (the intake and a decision say so by the round).
            label = t("milestone.reopened") if index == 0 and told.number > 1 else _milestone(t, entry, ended)
            if label is None or label in labels:
                continue
            labels.add(label)
            if len(rounds_told) > 1 and told.number > 1:
                label = t("milestone.in_round", what=label, n=told.number)
            events.append((entry.at, label))
    last = rounds_told[-1].number if len(rounds_told) > 1 else 1
    for moment, key in (
        (incident.contained_at, "milestone.contained"),
        (incident.closed_at, "milestone.closed"),
    ):
        if moment:
            events.append((moment, t(key) if last == 1 else t("milestone.in_round", what=t(key), n=last)))
    shown = [(moment, when(moment), label) for moment, label in events]
    shown += [(datetime(d.year, d.month, d.day, tzinfo=UTC), when(d), label) for d, label in dates]
    shown.sort(key=lambda event: event[0])
    return [{"at": at, "label": label} for _, at, label in shown]


def _milestone(t: Catalog, entry: TimelineEntry, ended: bool) -> str | None:
    status = str(entry.data.get("status", "")) if isinstance(entry.data, dict) else ""
    if entry.step == "classify" and entry.data.get("verdict"):
        verdict = str(entry.data["verdict"])
        label = t(f"verdict.{verdict}") if t.has(f"verdict.{verdict}") else inert(verdict)
        return t("milestone.verdict", verdict=label)
    if status in ("awaiting_approval", "responding", "reopened") or (
        ended and status in ("contained", "closed")
    ):
        return t(f"milestone.{status}")
    return None


def _earliest_intel(incident: IncidentView) -> tuple[date, str, str] | None:
    found = []
    for indicator in incident.indicators:
        for p in indicator.provenance:
            if p.get("verdict") != "malicious" or not p.get("first_seen"):
                continue
            try:
                seen = date.fromisoformat(str(p["first_seen"])[:10])
            except ValueError:
                continue
            found.append((seen, str(p.get("source", "")), indicator.value))
    return min(found) if found else None
