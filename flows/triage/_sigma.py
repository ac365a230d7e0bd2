"""What the SigmaHQ rule corpus says: its rules run over the alert's own evidence and over the incident
hosts' telemetry around the alert, and every rule that matches is a reason (``flows.sigma``).

A match is host evidence. Sigma's level says how much: ``critical`` and ``high`` are malicious host
evidence (risky: never benign, never closed without an analyst); ``medium`` and ``low`` make the verdict
at least suspicious unless something positively clears the activity; ``informational`` is listed only.
One exception, for the issue-9 twins: a match on exactly the command that ``_clearing`` found routine (the
same command, from the same signed parent, for days on many hosts before the alert) is told, as routine,
and weighs nothing: the routine already explains that activity, as SigmaHQ's own ``falsepositives``
foresee (administrators and backup agents do what attackers do). A match on anything else still counts.

Every reason names the rule as published (title, id, level, author, ATT&CK ids, references): the Detection
Rule License asks that what is shown of a match credit the rule's author.

A tenant may disable SigmaHQ rules and add its own (``rules:`` in the tenants file, ``sigma.rules_for``).
A match on a tenant's own rule weighs as any other and is told as that tenant's rule, never as SigmaHQ's.
Its rules can only add to what the corpus sees: a folder that cannot be read costs those rules (said in the
features), never the verdict.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flows.models import Alert, defang_text
from flows.sigma import CREDIT, Match, Rule, RuleChoice, RuleSet, rules_for
from flows.winlog import sigma_view

from ._alert_evidence import processes_in
from ._clearing import _command_key
from ._findings import TECHNIQUE, Answers, Finding

BEFORE, AFTER = timedelta(days=7), timedelta(days=1)  # the telemetry read around the alert
# medium: the host-evidence floor (``_decide``): at least suspicious unless something clears it.
EFFECTS = {"critical": 70, "high": 40, "medium": 40, "low": 20, "informational": 0}
CAP = 40  # what matches add up to without a critical one: they corroborate, a verdict needs more
MAX_FINDINGS = 12  # rules told one by one; the rest in one reason that names them
_KEY_FIELDS = (
    "Image", "CommandLine", "ParentImage", "ParentCommandLine", "TargetFilename", "ImageLoaded",
    "TargetObject", "Details", "PipeName", "QueryName", "DestinationHostname", "DestinationIp",
    "DestinationPort", "ServiceName", "ServiceFileName", "ImagePath", "TaskName", "ScriptBlockText",
    "TargetUserName", "SourceImage", "TargetImage",
)  # fmt: skip
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Seen:
    """An event shown to the rules: where it came from, when, on which host."""

    where: str  # "alert" or "telemetry"
    time: datetime | None
    host: str
    fields: dict[str, Any]


def sigma_answers(
    answers: Answers,
    alerts: Sequence[Alert],
    host_rows: Sequence[dict[str, Any]],
    now: datetime,
    rules: RuleSet | None = None,
    choice: RuleChoice | None = None,
) -> None:
    """Run the rules (``rules``, else the tenant's set for ``choice``, else the corpus) and add a finding
    per match."""
    problem = ""
    try:
        if rules is None:
            rules, problem = _tenant_rules(choice)
    except (OSError, ImportError, ValueError) as error:  # triage goes on without the corpus, and says so
        _log.warning("the Sigma rule set could not be loaded: %s", error)
        answers.features["sigma"] = {"error": str(error)[:300]}
        return
    seen, events = _events(alerts, host_rows, now)
    matches = rules.match(events)
    routine = _routine_commands(answers, alerts)
    answers.features["sigma"] = {
        "rule_set": rules.key,
        "rules": len(rules.rules),
        "events": len(events),
        "matched": [_summary(m, seen) for m in matches][:50],
    }
    if rules.owner:
        answers.features["sigma"]["tenant"] = {
            "id": rules.owner,
            "disabled": len(rules.disabled),
            "own_rules": sum(1 for rule in rules.rules if rule.owner),
            "own_failed": sum(1 for failure in rules.failed if failure.owner),
        }
    if problem:
        answers.features["sigma"]["tenant_rules_error"] = problem
    budget = EFFECTS["critical"] if any(m.rule.level == "critical" for m in matches) else CAP
    for match in matches[:MAX_FINDINGS]:
        finding = _finding(match, seen, routine, budget)
        budget -= finding.effect
        answers.add(finding)
    rest = matches[MAX_FINDINGS:]
    if rest:
        ids = [m.rule.id for m in rest][:20]
        owners = sorted({m.rule.owner for m in rest if m.rule.owner})
        whose = "SigmaHQ" if not owners else f"Sigma ({', '.join(['SigmaHQ', *owners])})"
        answers.add(
            Finding(
                TECHNIQUE,
                f"{len(rest)} more {whose} rules matched: {', '.join(ids)}",
                0,
                code="sigma_more" if not owners else "tenant_rule_more",
                params={"count": len(rest), "rules": ids, **({"tenant": owners[0]} if owners else {})},
                sources=[CREDIT] if any(not m.rule.owner for m in rest) else [],
            )
        )


def _tenant_rules(choice: RuleChoice | None) -> tuple[RuleSet, str]:
    """The rule set for the tenant's choice, and what went wrong with its own folders ("" if nothing)."""
    if choice is None or not choice.folders:
        return rules_for(choice), ""
    try:
        return rules_for(choice), ""
    except Exception as error:  # noqa: BLE001 — the tenant's files must never cost the verdict
        said = f"tenant {choice.owner}: its rule folders could not be read: {error}"[:300]
        _log.warning("%s", said)
        return rules_for(RuleChoice(choice.owner, choice.disable)), said


def _events(
    alerts: Sequence[Alert], host_rows: Sequence[dict[str, Any]], now: datetime
) -> tuple[list[_Seen], list[tuple[frozenset[str], dict[str, Any]]]]:
    seen: list[_Seen] = []
    events: list[tuple[frozenset[str], dict[str, Any]]] = []

    def add(document: Any, where: str, time: datetime | None, host: str) -> None:
        view = sigma_view(document)
        if view is not None:
            seen.append(_Seen(where, time, host, view.fields))
            events.append((view.sources, view.fields))

    for alert in alerts:
        when = datetime.fromtimestamp(alert.time / 1000, UTC) if alert.time else None
        for document in _evidence_documents(alert):
            add(document, "alert", when, alert.hostname or "")
    moments = [datetime.fromtimestamp(a.time / 1000, UTC) for a in alerts if a.time] or [now]
    first, last = min(moments) - BEFORE, max(moments) + AFTER
    for row in host_rows:
        if first <= row["time"] <= last:
            add(row.get("document"), "telemetry", row["time"], row.get("hostname") or "")
    return seen, events


def _evidence_documents(alert: Alert) -> list[dict[str, Any]]:
    """The alert's evidences as the OCSF activity events they describe (a process launch, a file written,
    a registry value set …), so that rules read them as they read telemetry."""
    holders: list[Any] = list(alert.evidences[:100])
    extra = alert.model_extra or {}
    if isinstance(extra.get("process"), dict):
        holders.append({"process": extra["process"], "actor": extra.get("actor")})
    documents = []
    for evidence in holders:
        if not isinstance(evidence, dict):
            continue
        actor: dict[str, Any] = evidence["actor"] if isinstance(evidence.get("actor"), dict) else {}
        process = evidence.get("process")
        if isinstance(process, dict):
            parent = process.get("parent_process") or actor.get("process")
            launched = {**process, "parent_process": parent} if isinstance(parent, dict) else process
            documents.append({"class_uid": 1007, "activity_id": 1, "process": launched})
            actor = {**actor, "process": process}  # what else this evidence shows, this process did
        for key, class_uid, activity in _EVIDENCE_CLASSES:
            if isinstance(evidence.get(key), dict):
                documents.append(
                    {"class_uid": class_uid, "activity_id": activity, key: evidence[key], "actor": actor}
                )
    return documents


_EVIDENCE_CLASSES = (
    ("file", 1001, 1),
    ("module", 1005, 1),
    ("reg_value", 201002, 2),
    ("reg_key", 201001, 1),
    ("query", 4003, 1),
    ("dst_endpoint", 4001, 1),
    ("script", 1009, 1),
)


def _routine_commands(answers: Answers, alerts: Sequence[Alert]) -> set[str]:
    if not answers.has("routine"):
        return set()
    return {_command_key(p.command) for a in alerts for p in processes_in(a) if p.command}


def _finding(match: Match, seen: Sequence[_Seen], routine: set[str], budget: int) -> Finding:
    rule = match.rule
    first = seen[match.events[0]]
    explained = bool(routine) and all(
        _command_key(str(seen[i].fields.get("CommandLine", ""))) in routine for i in match.events
    )
    effect = 0 if explained else max(0, min(EFFECTS.get(rule.level, 0), budget))
    # The first matched event's host leads: the time and the key fields told are that event's.
    others = sorted({seen[i].host for i in match.events if seen[i].host} - {first.host})
    hosts = [first.host, *others] if first.host else others
    host = hosts[0] if hosts else "?"
    when = first.time.strftime("%Y-%m-%d %H:%M:%S UTC") if first.time else "?"
    shown = _key_fields(first.fields)
    detail = defang_text("; ".join(f"{name}={value}" for name, value in shown)) or "(no key fields)"
    techniques = rule.techniques
    where = "the alert's evidence" if all(seen[i].where == "alert" for i in match.events) else "telemetry"
    text = (
        f'{_whose(rule)} "{rule.title}" ({rule.level}, {rule.id}, by {rule.author or "?"}) matched '
        f"{len(match.events)} event(s) in {where} on {host}, first at {when}: {detail}"
    )
    if techniques:
        text += f" [{', '.join(techniques)}]"
    if explained:
        text += " — the same command is routine here (see the routine finding)"
    return Finding(
        TECHNIQUE,
        text,
        effect,
        host_evidence=rule.level != "informational" and not explained,
        code=("tenant_rule" if rule.owner else "sigma") + ("_routine" if explained else ""),
        params={
            **({"tenant": rule.owner} if rule.owner else {}),
            "title": rule.title,
            "rule": rule.id,
            "level": rule.level,
            "author": rule.author or "?",
            "count": len(match.events),
            "host": host,
            "when": when,
            "detail": detail,
            "techniques": techniques,
            # ``detail`` as data: one item per field, so a value holding "; Image=" stays one value.
            "fields": [f"{name}={defang_text(value)}" for name, value in shown],
            "first": first.time.isoformat() if first.time else "",
            "hosts": hosts[:10],
        },
        risky=rule.level in ("critical", "high") and not explained,
        sources=[*techniques, *_credited(rule)],
    )


def _whose(rule: Rule) -> str:
    return f"Tenant {rule.owner}'s own rule" if rule.owner else "SigmaHQ rule"


def _credited(rule: Rule) -> list[str]:
    # A tenant's rule is the tenant's: it is named under the tenant, and SigmaHQ is not credited for it.
    if rule.owner:
        return [f"tenant-rule:{rule.owner}:{rule.id}", *rule.references[:4]]
    return [f"sigma:{rule.id}", *rule.references[:4], CREDIT]


def _key_fields(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """Up to three of the event's key fields, each value on one line and cut at 200 characters."""
    shown: list[tuple[str, str]] = []
    for name in _KEY_FIELDS:
        value = fields.get(name)
        if value is not None and value != "":
            text = " ".join(str(value).split())
            shown.append((name, f"{text[:200]}{'…' if len(text) > 200 else ''}"))
        if len(shown) == 3:
            break
    return shown


def _summary(match: Match, seen: Sequence[_Seen]) -> dict[str, Any]:
    first = seen[match.events[0]]
    return {
        "id": match.rule.id,
        "title": match.rule.title,
        "level": match.rule.level,
        "author": match.rule.author,
        "owner": match.rule.owner or "SigmaHQ",
        "techniques": match.rule.techniques,
        "events": len(match.events),
        "first": first.time.isoformat() if first.time else None,
        "host": first.host,
        "in_alert": any(seen[i].where == "alert" for i in match.events),
    }
