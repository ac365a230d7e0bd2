"""The classifier: answer the analyst's questions, add up their effects, decide, and say why.

Rules that hold whatever the points say: a hacktool or PUA detection is never benign (someone put it
there); clean intel never outweighs malicious host evidence; traffic seen on many tenants' networks
pulls toward benign.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flows.models import Alert, Indicator, IndicatorType, Reason, Verdict, VerdictLabel, defang, host_of
from flows.tenants import Policy

from ._findings import PERSISTENCE, PREVALENCE, PROCESS, SEVERITY, TOOL, Answers, Finding
from ._host import host_answers
from ._intel import intel_answers
from ._network import network_answers
from ._telemetry import Telemetry

_HACKTOOL_WORDS = (
    "hacktool", "hack tool", "attack tool", "pua", "pup", "riskware", "adware", "mimikatz", "cobalt strike",
    "remoteadmin", "psexec", "impacket",
)  # fmt: skip
_SEVERITY = {4: "high", 5: "critical", 6: "fatal"}
HOST_EVIDENCE_FLOOR = 40  # this much host evidence is at least suspicious, and intel cannot argue it down


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


def destinations(indicators: Sequence[Indicator]) -> list[str]:
    """Where the alert's network indicators point: IPs, domains, and the hosts of URLs."""
    found: dict[str, None] = {}
    for indicator in indicators:
        if indicator.type in (IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.DOMAIN):
            found[indicator.value] = None
        elif indicator.type is IndicatorType.URL and (host := host_of(indicator.value)):
            found[host.lower()] = None
    return list(found)


def triage(
    alerts: Sequence[Alert],
    indicators: Sequence[Indicator],
    policy: Policy,
    telemetry: Telemetry | None = None,
    now: datetime | None = None,
) -> TriageResult:
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
    network_answers(answers, tenant, network)
    host_answers(answers, alerts, [r for r in network if r["tenant"] == tenant], host_rows)
    _tool_or_virus(answers, alerts)
    _severity(answers, alerts)
    _everyday_system_traffic(answers)
    return TriageResult(
        verdict=_decide(answers, policy), indicators=list(indicators), features=answers.features
    )


def classify(
    alerts: Sequence[Alert],
    indicators: Sequence[Indicator],
    policy: Policy,
    telemetry: Telemetry | None = None,
    now: datetime | None = None,
) -> Verdict:
    """The verdict alone (what the respond flow stores on the incident)."""
    return triage(alerts, indicators, policy, telemetry, now).verdict


def _tool_or_virus(answers: Answers, alerts: Sequence[Alert]) -> None:
    for alert in alerts:
        text = " ".join([alert.finding_info.title, *alert.finding_info.types]).lower()
        word = next((w for w in _HACKTOOL_WORDS if w in text), None)
        if word:
            answers.hacktool = True
            answers.add(
                Finding(
                    TOOL,
                    f"the detection is a tool ({word}), not a virus: someone put it there, "
                    "so a human must look",
                    20,
                    host_evidence=True,
                    code="hacktool",
                    params={"word": word},
                )
            )
            return


def _severity(answers: Answers, alerts: Sequence[Alert]) -> None:
    severity = max((a.severity_id for a in alerts if a.severity_id != 99), default=0)
    if severity >= 4:
        level = _SEVERITY.get(severity, str(severity))
        answers.add(
            Finding(SEVERITY, f"the sensor rates it {level}", 10, code="severity", params={"level": level})
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
            )
        )


def _decide(answers: Answers, policy: Policy) -> Verdict:
    host_evidence = sum(f.effect for f in answers.findings if f.host_evidence and f.effect > 0)
    reasons = []
    for finding in answers.findings:
        effect = finding.effect
        if finding.intel and effect < 0 and host_evidence >= HOST_EVIDENCE_FLOOR:
            effect = 0  # clean intel never outweighs what the hosts show
            finding.finding += " (outweighed by the host evidence)"
        reasons.append(
            Reason(
                question=finding.question,
                finding=finding.finding,
                effect=effect,
                code=finding.code,
                params=finding.params,
            )
        )
    score = max(0, min(100, sum(r.effect for r in reasons)))
    if score >= policy.malicious_threshold:
        label = VerdictLabel.MALICIOUS
    elif (
        score >= policy.suspicious_threshold
        or answers.hacktool
        or host_evidence >= HOST_EVIDENCE_FLOOR
        or any(
            f.question == PERSISTENCE and f.effect > 0 for f in answers.findings
        )  # autoruns: a human looks
    ):
        label = VerdictLabel.SUSPICIOUS
    else:
        label = VerdictLabel.BENIGN
    reasons.sort(key=lambda r: -abs(r.effect))
    return Verdict(verdict=label, score=score, reasons=reasons)
