"""From answered questions to a verdict: add up the effects, then apply the rules no score can override.

- Clean intel never outweighs malicious host evidence (DESIGN §2).
- Unknown is gray (DESIGN §8): a verdict is benign only with positive evidence that clears the activity
  (a finding marked ``clears``). With no evidence either way the verdict is suspicious, and a reason says
  what could not be answered, so the analyst knows what to go and get.
- Risky findings (attacker behaviour in the alert's own evidence, ransomware / credential theft / attack
  tools, sensor severity high and above) make the verdict never benign and the incident never closed
  without an analyst. A tenant's policy may loosen both, explicitly.
- A standing decision that covers every alert (``_standing``) is an analyst's verdict on exactly this
  pattern: it decides, and a benign one needs no analyst again — they already looked.
"""

from __future__ import annotations

from flows.models import Reason, Verdict, VerdictLabel
from flows.tenants import Policy

from ._findings import (
    GATE,
    PERSISTENCE,
    PREVALENCE,
    PROCESS,
    STANDING,
    UNANSWERED,
    Answers,
    Finding,
)

HOST_EVIDENCE_FLOOR = 40  # this much host evidence is at least suspicious, and intel cannot argue it down


def decide(answers: Answers, policy: Policy) -> Verdict:
    host_evidence = sum(f.effect for f in answers.findings if f.host_evidence and f.effect > 0)
    reasons = [_reason(f, host_evidence) for f in answers.findings]
    # Host evidence that routine on the hosts explains (clearing evidence that is not intel) no longer
    # forces gray; intel alone still cannot argue it down.
    explained = sum(f.effect for f in answers.findings if f.clears and not f.intel and f.effect < 0)
    score = max(0, min(100, sum(r.effect for r in reasons)))
    risky = [f for f in answers.findings if f.risky]
    # Traffic everybody has does not clear a suspicious process making it (msiexec beaconing to a CDN is
    # still msiexec beaconing): prevalence clears only what the hosts do not contradict.
    suspicious_process = any(
        f.question == PROCESS and f.host_evidence and f.effect > 0 for f in answers.findings
    )
    cleared = [
        r
        for f, r in zip(answers.findings, reasons, strict=True)
        if f.clears and r.effect < 0 and not (f.question == PREVALENCE and suspicious_process)
    ]
    if score >= policy.malicious_threshold:
        label = VerdictLabel.MALICIOUS
    elif (
        score >= policy.suspicious_threshold
        or answers.hacktool
        or risky
        or host_evidence + explained >= HOST_EVIDENCE_FLOOR
        or any(f.question == PERSISTENCE and f.effect > 0 for f in answers.findings)  # autoruns: look
    ):
        label = VerdictLabel.SUSPICIOUS
    elif cleared:
        label = VerdictLabel.BENIGN
    elif policy.unknown_verdict == "benign":
        label = VerdictLabel.BENIGN
        reasons.append(_unanswered(answers, loosened=True))
    else:
        label = VerdictLabel.SUSPICIOUS
        reasons.append(_unanswered(answers, loosened=False))
    reasons.sort(key=lambda r: -abs(r.effect))
    needs_analyst = bool(risky) and not policy.auto_close_risky
    standing = next((f for f in answers.findings if f.question == STANDING), None)
    if standing is not None:
        label = VerdictLabel(str(standing.code).removeprefix("standing_"))
        needs_analyst = needs_analyst and label is not VerdictLabel.BENIGN
        reasons = [r for r in reasons if r.question not in (STANDING, UNANSWERED) or r.code == standing.code]
        reasons.sort(key=lambda r: r.question != STANDING)  # the decision first, then the evidence
    if needs_analyst:
        reasons.append(_gate(risky))
    return Verdict(verdict=label, score=score, reasons=reasons, needs_analyst=needs_analyst)


def _reason(finding: Finding, host_evidence: int) -> Reason:
    effect, text = finding.effect, finding.finding
    if finding.intel and effect < 0 and host_evidence >= HOST_EVIDENCE_FLOOR:
        effect = 0  # clean intel never outweighs what the hosts show
        text += " (outweighed by the host evidence)"
    return Reason(
        question=finding.question,
        finding=text,
        effect=effect,
        code=finding.code,
        params=finding.params,
        sources=finding.sources[:10],
    )


_MISSING_TEXT = {
    "telemetry": "no telemetry from its hosts or destinations",
    "intel": "no intel on its indicators",
    "process": "no process context",
}


def _unanswered(answers: Answers, *, loosened: bool) -> Reason:
    """What could not be answered, so the analyst knows what to fetch (or why policy let it pass)."""
    features = answers.features
    network = features.get("network") or {}
    intel = features.get("intel") or {}
    missing = []
    if not network.get("events") and not features.get("host_events"):
        missing.append("telemetry")
    if not any(intel.get(k) for k in ("listed", "stale", "benign")):
        missing.append("intel")
    if not (features.get("alert") or {}).get("processes") and not (features.get("process") or {}).get(
        "talkers"
    ):
        missing.append("process")
    said = "; ".join(_MISSING_TEXT[m] for m in missing) or "the evidence neither condemns nor clears it"
    if loosened:
        finding = f"{said}: nothing clears it, but the tenant's policy calls unknown benign"
    else:
        finding = f"{said}: nothing clears it, so a person decides"
    return Reason(
        question=UNANSWERED,
        finding=finding,
        effect=0,
        code="unanswered_policy" if loosened else "unanswered",
        params={"missing": missing},
    )


def _gate(risky: list[Finding]) -> Reason:
    why = list(dict.fromkeys(f.code or "finding" for f in risky))[:6]
    return Reason(
        question=GATE,
        finding="it shows attacker behaviour, an impact or an attack tool: never closed without an analyst",
        effect=0,
        code="analyst_required",
        params={"because": why},
    )
