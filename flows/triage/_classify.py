"""The classifier: answer the analyst's questions — of the intel, the telemetry and the alert's own
evidence — then decide (``_decide``) and say why.

Rules that hold whatever the points say live in ``_decide``: unknown is gray, benign is earned, risky
findings are never benign and never closed without an analyst, clean intel never outweighs host evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flows.models import Alert, Indicator, Verdict, defang
from flows.store import StandingDecision
from flows.tenants import Policy

from ._alert_evidence import alert_answers, processes_in
from ._clearing import clearing_answers
from ._decide import decide
from ._destinations import destinations
from ._findings import PREVALENCE, PROCESS, SEVERITY, Answers, Finding
from ._host import host_answers
from ._intel import intel_answers
from ._network import network_answers
from ._sigma import sigma_answers
from ._standing import standing_answers
from ._telemetry import Telemetry

_SEVERITY = {4: "high", 5: "critical", 6: "fatal"}


@dataclass
class TriageResult:
    verdict: Verdict
    indicators: list[Indicator]
    features: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.verdict.value,
            "score": self.verdict.score,
            "reasons": [r.model_dump() for r in self.verdict.reasons],
            "indicators": [
                {
                    "type": i.type.value,
                    "value": i.value,
                    "defanged": defang(i.value),
                    "provenance": [p.model_dump() for p in i.provenance],
                }
                for i in self.indicators
            ],
            "features": self.features,
        }


def triage(
    alerts: Sequence[Alert],
    indicators: Sequence[Indicator],
    policy: Policy,
    telemetry: Telemetry | None = None,
    now: datetime | None = None,
    standing: Sequence[StandingDecision] = (),
) -> TriageResult:
    """Answer the analyst's questions about these alerts and decide. ``standing`` are the tenant's
    standing decisions: one that covers every alert decides (``_standing``)."""
    now = now or datetime.now(UTC)
    answers = Answers()
    tenant = alerts[0].tenant if alerts else ""
    intel_answers(answers, indicators, now)
    network: list[dict[str, Any]] = []
    host_rows: list[dict[str, Any]] = []
    if telemetry is not None:
        network = telemetry.to_destinations(destinations(indicators))
        talking_hosts = sorted(
            {r["hostname"] for r in network if r["tenant"] == tenant and r.get("hostname")}
        )
        alert_hosts = [a.hostname for a in alerts if a.hostname]
        host_rows = telemetry.on_hosts(tenant, sorted({*talking_hosts, *alert_hosts})[:500])
    answers.features["telemetry"] = {
        "given": telemetry is not None,
        "skipped": int(getattr(telemetry, "skipped", 0) or 0),
    }
    answers.features["host_events"] = len(host_rows)
    fleet_rows = _launched_by_alert_parents(telemetry, tenant, alerts)
    network_answers(answers, tenant, network)
    host_answers(answers, alerts, [r for r in network if r["tenant"] == tenant], host_rows)
    alert_answers(answers, alerts)
    _severity(answers, alerts)
    _everyday_system_traffic(answers)
    clearing_answers(answers, alerts, fleet_rows)
    sigma_answers(answers, alerts, host_rows, now, choice=policy.rule_choice)
    standing_answers(answers, alerts, standing, now)
    return TriageResult(
        verdict=decide(answers, policy), indicators=list(indicators), features=answers.features
    )


def _launched_by_alert_parents(
    telemetry: Telemetry | None, tenant: str, alerts: Sequence[Alert]
) -> list[dict[str, Any]]:
    """What the alerted processes' parent programs start across the tenant's fleet (routine or not)."""
    parents = sorted({p.parent_path for a in alerts for p in processes_in(a) if p.parent_path})[:20]
    return telemetry.launched_by(tenant, parents) if telemetry is not None and parents else []


def classify(
    alerts: Sequence[Alert],
    indicators: Sequence[Indicator],
    policy: Policy,
    telemetry: Telemetry | None = None,
    now: datetime | None = None,
) -> Verdict:
    """The verdict alone (what the respond flow stores on the incident)."""
    return triage(alerts, indicators, policy, telemetry, now).verdict


def _severity(answers: Answers, alerts: Sequence[Alert]) -> None:
    severity = max((a.severity_id for a in alerts if a.severity_id != 99), default=0)
    if severity >= 4:
        level = _SEVERITY.get(severity, str(severity))
        # The sensor's own rating of high and above is never closed without a person (DESIGN §8).
        answers.add(
            Finding(
                SEVERITY,
                f"the sensor rates it {level}",
                10,
                code="severity",
                params={"level": level},
                risky=True,
            )
        )
    elif severity in (1, 2):
        answers.add(Finding(SEVERITY, "the sensor rates it low or informational", -10, code="severity_low"))


def _everyday_system_traffic(answers: Answers) -> None:
    process = answers.features.get("process", {})
    baseline = any(f.question == PREVALENCE and f.effect < 0 for f in answers.findings)
    if process.get("only_system_binaries") and baseline:
        names = ", ".join(p.rsplit("\\", 1)[-1] for p in process["system_binaries"][:3])
        answers.add(
            Finding(
                PROCESS,
                f"only signed system binaries ({names}) make these connections",
                -15,
                code="system_binaries",
                params={"names": names},
                clears=True,
            )
        )
