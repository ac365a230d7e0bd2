"""Standing decisions in triage: an analyst's verdict on exactly one pattern of alerts decides it — and
nothing wider: another host, command line or destination is new evidence, triaged afresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flows.models import Alert, VerdictLabel
from flows.store import StandingDecision, StandingScope
from flows.tenants import Policy
from flows.triage import covers, scopes_of, triage

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ADMIN_TOOL = r"C:\IT\tools\psexec.exe \\SRV-BACKUP-01 -s cmd /c backup.cmd"


def _alert(host: str = "WS-IT-01", command: str = ADMIN_TOOL, **extra: Any) -> Alert:
    return Alert.model_validate(
        {
            "class_uid": 2004,
            "severity_id": 4,  # high: never closed without an analyst, unless one decided already
            "metadata": {"tenant_uid": "acme", "product": {"name": "Acme EDR"}},
            "finding_info": {"title": "Remote execution tool", "analytic": {"uid": "edr-psexec"}},
            "device": {"hostname": host},
            "evidences": [{"process": {"name": "psexec.exe", "cmd_line": command}}],
            **extra,
        }
    )


def _decision(
    verdict: str = "benign", *, alerts: list[Alert] | None = None, **change: Any
) -> StandingDecision:
    [scope] = scopes_of(alerts or [_alert()])
    fields: dict[str, Any] = {
        "id": "5d1c0c7e-0000-4000-8000-000000000001",
        "tenant": "acme",
        "verdict": verdict,
        "scope": scope,
        "analyst": "alice",
        "comment": "the IT team's nightly backup",
        "incident_id": None,
        "created_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=29),
    }
    return StandingDecision(**{**fields, **change})


def test_a_scope_names_what_the_alerts_show() -> None:
    alerts = [_alert(), _alert(host="ws-it-02"), _alert()]
    [scope] = scopes_of(alerts)
    assert scope == StandingScope("Acme EDR", "edr-psexec", ("ws-it-01", "ws-it-02"), (ADMIN_TOOL,), ())
    assert covers(scope, _alert(host="WS-IT-02"))
    assert not covers(scope, _alert(host="WS-FINANCE-07"))
    assert not covers(scope, _alert(command=ADMIN_TOOL + " & whoami"))
    url = [{"type_id": 6, "name": "url", "value": "http://c2.example.net/a"}]
    assert not covers(scope, _alert(observables=url))


def test_a_benign_standing_decision_clears_a_risky_alert_it_covers() -> None:
    without = triage([_alert()], [], Policy(), now=NOW).verdict
    decided = triage([_alert()], [], Policy(), now=NOW, standing=[_decision()]).verdict

    assert without.verdict is VerdictLabel.SUSPICIOUS and without.needs_analyst
    assert decided.verdict is VerdictLabel.BENIGN and not decided.needs_analyst
    assert decided.reasons[0].code == "standing_benign"
    assert decided.reasons[0].params["analyst"] == "alice"
    assert "the IT team's nightly backup" in decided.reasons[0].finding


def test_only_a_decision_in_force_for_this_tenant_covering_every_alert_counts() -> None:
    expired = _decision(expires_at=NOW - timedelta(seconds=1))
    revoked = _decision(revoked_at=NOW - timedelta(hours=1), revoked_by="bob")
    other_tenant = _decision(tenant="globex")
    for decision in (expired, revoked, other_tenant):
        verdict = triage([_alert()], [], Policy(), now=NOW, standing=[decision]).verdict
        assert verdict.verdict is VerdictLabel.SUSPICIOUS, decision
    # One alert of the incident outside the decision: the incident is not covered.
    both = [_alert(), _alert(host="WS-FINANCE-07")]
    assert triage(both, [], Policy(), now=NOW, standing=[_decision()]).verdict.needs_analyst


def test_malicious_wins_over_benign_when_both_cover() -> None:
    decisions = [_decision(), _decision("malicious", id="5d1c0c7e-0000-4000-8000-000000000002")]
    verdict = triage([_alert()], [], Policy(), now=NOW, standing=decisions).verdict

    assert verdict.verdict is VerdictLabel.MALICIOUS
    assert verdict.reasons[0].code == "standing_malicious" and verdict.needs_analyst
