"""First classifier: explainable points from the alert and its enrichment → verdict, score, reasons.

Each reason answers one of the analyst's questions (DESIGN §2). The richer feature set (prevalence,
rhythm, process context) arrives with the triage issue; the rules that hold already are kept here:
a hacktool is never benign, and clean intel never outweighs malicious host evidence.
"""

from __future__ import annotations

from collections.abc import Iterable

from flows.models import Alert, Indicator, Reason, Verdict, VerdictLabel, defang
from flows.tenants import Policy

WHY_WATCHED = "Why are we watching this indicator?"
HOW_PERSIST = "How does it persist?"
TOOL_OR_VIRUS = "Is it a tool, not a virus?"
HOW_SEVERE = "How severe does the sensor rate it?"

_HACKTOOL_WORDS = ("hacktool", "hack tool", "attack tool", "pua", "riskware", "mimikatz", "cobalt strike")


def classify(alerts: Iterable[Alert], indicators: Iterable[Indicator], policy: Policy) -> Verdict:
    alerts = list(alerts)
    reasons: list[Reason] = []

    listed = [i for i in indicators if any(p.verdict == "malicious" for p in i.provenance)]
    if listed:
        first = listed[0]
        source = next(p for p in first.provenance if p.verdict == "malicious")
        more = f" and {len(listed) - 1} more" if len(listed) > 1 else ""
        since = f", first seen {source.first_seen}" if source.first_seen else ""
        reasons.append(
            Reason(
                question=WHY_WATCHED,
                finding=f"{defang(first.value)}{more} listed by {source.source}: {source.reason}{since}",
                effect=50,
            )
        )

    persistence = [ref for alert in alerts for ref in alert.registry_values() if _is_autorun(ref.key)]
    if persistence:
        names = ", ".join(sorted({ref.name for ref in persistence}))
        reasons.append(
            Reason(question=HOW_PERSIST, finding=f"autorun registry values ({names}) written", effect=25)
        )

    severity = max((alert.severity_id for alert in alerts if alert.severity_id != 99), default=0)
    if severity >= 4:
        reasons.append(
            Reason(
                question=HOW_SEVERE, finding=f"sensor severity {_SEVERITY.get(severity, severity)}", effect=15
            )
        )
    elif severity in (1, 2):
        reasons.append(Reason(question=HOW_SEVERE, finding="sensor rates it low/informational", effect=-10))

    hacktool = any(_is_hacktool(alert) for alert in alerts)
    if hacktool:
        reasons.append(
            Reason(
                question=TOOL_OR_VIRUS,
                finding="an attack tool was detected: someone put it there, so a human must look",
                effect=20,
            )
        )

    score = max(0, min(100, sum(r.effect for r in reasons)))
    if score >= policy.malicious_threshold:
        label = VerdictLabel.MALICIOUS
    elif score >= policy.suspicious_threshold or hacktool or persistence:
        # A hacktool or autorun persistence is never benign, whatever the points say.
        label = VerdictLabel.SUSPICIOUS
    else:
        label = VerdictLabel.BENIGN
    return Verdict(verdict=label, score=score, reasons=reasons)


_SEVERITY = {4: "high", 5: "critical", 6: "fatal"}
_AUTORUN_KEYS = (
    r"\currentversion\run",
    r"\currentversion\runonce",
    r"\shared tools\msconfig\startupreg",
    r"\winlogon",
    r"\currentversion\policies\explorer\run",
)


def _is_autorun(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in _AUTORUN_KEYS)


def _is_hacktool(alert: Alert) -> bool:
    text = " ".join([alert.finding_info.title, *alert.finding_info.types]).lower()
    return any(word in text for word in _HACKTOOL_WORDS)
