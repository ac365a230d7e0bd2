"""Standing decisions in triage: what an analyst already decided about exactly this pattern of alerts.

A decision covers an alert when the product and rule are the same, the host is among its hosts, and every
command line and destination the alert names is among those it names: a new command line, a new
destination or a new host is new evidence, and triage answers it afresh. An incident is covered only when
every one of its alerts is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from flows.models import Alert
from flows.store import StandingDecision, StandingScope

from ._alert_evidence import processes_in
from ._destinations import destinations
from ._findings import STANDING, Answers, Finding


def scopes_of(alerts: Sequence[Alert]) -> list[StandingScope]:
    """What a standing decision made on these alerts covers: one scope per product and rule, naming the
    hosts, command lines and destinations those alerts show."""
    grouped: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        grouped.setdefault((alert.source, alert.rule), []).append(alert)
    scopes = []
    for (source, rule), members in grouped.items():
        hosts = sorted({_host(a) for a in members})  # "" for an alert that names no host
        commands = sorted({c for a in members for c in _commands(a)})
        where = sorted({d for a in members for d in _destinations(a)})
        scopes.append(StandingScope(source, rule, tuple(hosts), tuple(commands), tuple(where)))
    return scopes


def covers(scope: StandingScope, alert: Alert) -> bool:
    if (alert.source, alert.rule) != (scope.source, scope.rule):
        return False
    if _host(alert) not in scope.hosts:
        return False
    return _commands(alert) <= set(scope.command_lines) and _destinations(alert) <= set(scope.destinations)


def standing_answers(
    answers: Answers,
    alerts: Sequence[Alert],
    decisions: Sequence[StandingDecision],
    now: datetime | None = None,
) -> None:
    """A finding when the tenant's standing decisions cover every alert: a malicious one if any covering
    decision says malicious (the stricter word wins), else the benign one."""
    now = now or datetime.now(UTC)
    live = [d for d in decisions if d.in_force(now) and (not alerts or d.tenant == alerts[0].tenant)]
    if not alerts or not live:
        return
    covering: list[StandingDecision] = []
    for alert in alerts:
        found = [d for d in live if covers(d.scope, alert)]
        if not found:
            return
        covering.append(max(found, key=lambda d: (d.verdict == "malicious", d.created_at)))
    decision = max(covering, key=lambda d: (d.verdict == "malicious", d.created_at))
    until = decision.expires_at.date().isoformat()
    text = (
        f"analyst {decision.analyst} decided on {decision.created_at.date().isoformat()} that alerts of "
        f"rule {decision.scope.rule!r} like these are {decision.verdict} until {until}: {decision.comment}"
    )
    answers.features["standing_decision"] = decision.id
    answers.add(
        Finding(
            STANDING,
            text,
            0,
            code=f"standing_{decision.verdict}",
            params={
                "analyst": decision.analyst,
                "rule": decision.scope.rule,
                "since": decision.created_at.date().isoformat(),
                "until": until,
                "comment": decision.comment,
                "decision": decision.id,
            },
            clears=decision.verdict == "benign",
            sources=[f"standing decision {decision.id}"],
        )
    )


def _host(alert: Alert) -> str:
    return (alert.hostname or "").lower()


def _commands(alert: Alert) -> set[str]:
    return {p.command for p in processes_in(alert) if p.command}


def _destinations(alert: Alert) -> set[str]:
    return {d.lower() for d in destinations(alert.indicators())}
