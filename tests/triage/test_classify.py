"""The classifier: points an analyst can check, a verdict the policy decides, and the rules that hold
whatever the points say (a hacktool or autorun persistence is never benign; unknown is gray)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.demo import mykings_alert
from flows.models import Alert, Indicator, IndicatorType, Provenance, VerdictLabel
from flows.tenants import IntelConfig, Policy
from flows.triage import classify, enrich
from flows.triage._findings import COMMAND, UNANSWERED, WHY_WATCHED
from flows.triage._findings import PERSISTENCE as HOW_PERSIST
from flows.triage._findings import SEVERITY as HOW_SEVERE
from flows.triage._findings import TOOL as TOOL_OR_VIRUS

DEFAULT_FEED = Path(__file__).resolve().parents[2] / "flows" / "defaults" / "intel-feed.csv"
RUN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"


def _alert(title: str = "Something happened", severity: int = 0, **extra: Any) -> Alert:
    return Alert.model_validate(
        {
            "class_uid": 2004,
            "severity_id": severity,
            "metadata": {"tenant_uid": "demo"},
            "finding_info": {"title": title, **extra.pop("finding", {})},
            **extra,
        }
    )


def _listed(value: str = "evil.example", verdict: str = "malicious") -> Indicator:
    return Indicator(
        type=IndicatorType.DOMAIN,
        value=value,
        provenance=[Provenance(source="feed", verdict=verdict, reason="C2", first_seen=_RECENT)],
    )


_RECENT = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()


@pytest.fixture(scope="module")
def mykings() -> tuple[Alert, list[Indicator]]:
    alert = Alert.model_validate(mykings_alert())
    return alert, enrich(
        alert.indicators(), tenant="demo", feeds=[DEFAULT_FEED], intel=IntelConfig()
    ).indicators


def test_the_mykings_alert_is_malicious(mykings: tuple[Alert, list[Indicator]]) -> None:
    alert, indicators = mykings

    verdict = classify([alert], indicators, Policy())

    assert verdict.verdict is VerdictLabel.MALICIOUS
    assert verdict.score == 100  # listed 35 + current 5 + regsvr32 scriptlet 35 + persistence 25 + high 10 …
    questions = [reason.question for reason in verdict.reasons]
    assert "Why are we watching this indicator?" in questions
    assert "How does it persist?" in questions
    assert verdict.needs_analyst  # high severity and attacker behaviour: a person closes it


def test_mykings_reasons_say_who_listed_what_and_which_values_persist(
    mykings: tuple[Alert, list[Indicator]],
) -> None:
    alert, indicators = mykings

    reasons = {r.question: r for r in classify([alert], indicators, Policy()).reasons}

    watched = reasons[WHY_WATCHED].finding
    assert "garrison-demo-feed" in watched
    assert "(+1 more)" in watched  # the URL and its domain are both listed
    assert "http://" not in watched and "mykings.top" not in watched  # defanged for people
    assert "last confirmed 2026-11-01" in reasons["How long has it been watched?"].finding
    assert {"start", "start1"} <= set(reasons[HOW_PERSIST].finding.replace(",", " ").split())
    assert reasons[HOW_SEVERE].finding == "the sensor rates it high"
    assert "regsvr32" in reasons[COMMAND].finding and "T1218.010" in reasons[COMMAND].sources
    assert reasons[COMMAND].effect == 35


def test_without_intel_the_mykings_alert_is_malicious_on_its_own_evidence(
    mykings: tuple[Alert, list[Indicator]],
) -> None:
    alert, _ = mykings

    verdict = classify([alert], alert.indicators(), Policy())

    # regsvr32 fetching a remote scriptlet 35 + Run-key persistence 25 + "botnet" 20 + regsvr32 on the
    # network 15 + high 10; and SigmaHQ's "CurrentVersion Autorun Keys Modification" (medium) 40
    assert verdict.verdict is VerdictLabel.MALICIOUS
    sigma = [r for r in verdict.reasons if r.code == "sigma"]
    assert [r.params["rule"] for r in sigma] == ["20f0ee37-5942-4e45-b7d5-c5b5db9df5cd"]
    assert sum(r.effect for r in verdict.reasons) == 105 + 40 and verdict.score == 100
    assert WHY_WATCHED not in [r.question for r in verdict.reasons]


def test_the_tenant_policy_decides_the_label() -> None:
    command = "powershell.exe -w hidden -enc SQBFAFgAIAAoAEcAZQB0AC0ARABhAHQAZQApAA=="
    alert = _alert(evidences=[{"process": {"name": "powershell.exe", "cmd_line": command}}])

    default = classify([alert], [], Policy())
    strict = classify([alert], [], Policy(malicious_threshold=25, suspicious_threshold=10))

    assert default.score == strict.score == 30  # encoded 20 + hidden window 10
    assert default.verdict is VerdictLabel.SUSPICIOUS
    assert strict.verdict is VerdictLabel.MALICIOUS


def test_a_hacktool_without_intel_at_low_severity_is_never_benign() -> None:
    alert = _alert("HackTool:Win32/Mimikatz detected", severity=1)

    verdict = classify([alert], [], Policy())

    assert verdict.verdict is VerdictLabel.SUSPICIOUS
    assert verdict.score < Policy().suspicious_threshold
    assert TOOL_OR_VIRUS in [r.question for r in verdict.reasons]


@pytest.mark.parametrize(
    ("title", "types"),
    [("Riskware found", []), ("Unwanted software", ["PUA"]), ("Beacon", ["Cobalt Strike"])],
)
def test_attack_tools_are_recognized_in_title_or_types(title: str, types: list[str]) -> None:
    verdict = classify([_alert(title, severity=1, finding={"types": types})], [], Policy())

    assert verdict.verdict is VerdictLabel.SUSPICIOUS


def test_autorun_persistence_alone_is_never_benign() -> None:
    alert = _alert(
        severity=1,
        evidences=[{"reg_value": {"path": RUN_KEY + "Once", "name": "updater"}}],
    )

    verdict = classify([alert], [], Policy())

    assert verdict.verdict is VerdictLabel.SUSPICIOUS
    assert HOW_PERSIST in [r.question for r in verdict.reasons]


def test_a_registry_value_outside_autorun_keys_is_not_persistence() -> None:
    alert = _alert(
        severity=1,
        evidences=[{"reg_value": {"path": r"HKCU\Software\Vendor\Settings", "name": "theme"}}],
    )

    assert HOW_PERSIST not in [r.question for r in classify([alert], [], Policy()).reasons]


def test_a_low_severity_alert_with_nothing_known_is_gray_and_says_what_is_missing() -> None:
    verdict = classify(
        [_alert(severity=2)], [Indicator(type=IndicatorType.DOMAIN, value="x.example")], Policy()
    )

    assert verdict.verdict is VerdictLabel.SUSPICIOUS  # unknown is gray, never benign
    assert verdict.score == 0
    [unanswered] = [r for r in verdict.reasons if r.question == UNANSWERED]
    assert unanswered.params == {"missing": ["telemetry", "intel", "process"]}
    assert "no telemetry" in unanswered.finding and "a person decides" in unanswered.finding


def test_a_tenant_may_call_unknown_benign_explicitly_and_it_says_so() -> None:
    verdict = classify([_alert(severity=2)], [], Policy(unknown_verdict="benign"))

    assert verdict.verdict is VerdictLabel.BENIGN
    assert [r.code for r in verdict.reasons if r.question == UNANSWERED] == ["unanswered_policy"]


def test_the_tenant_policy_never_makes_attacker_behaviour_benign() -> None:
    alert = _alert(
        severity=2,
        evidences=[{"process": {"name": "vssadmin.exe", "cmd_line": "vssadmin delete shadows /all /quiet"}}],
    )

    verdict = classify([alert], [], Policy(unknown_verdict="benign", auto_close_risky=True))

    assert verdict.verdict is not VerdictLabel.BENIGN
    assert not verdict.needs_analyst  # the tenant loosened the closing rule, explicitly


def test_benign_or_suspicious_intel_is_not_malicious_intel() -> None:
    indicators = [_listed(verdict="benign"), _listed("other.example", verdict="suspicious")]

    verdict = classify([_alert(severity=2)], indicators, Policy())

    assert verdict.verdict is VerdictLabel.BENIGN
    [watched] = [r for r in verdict.reasons if r.question == WHY_WATCHED]
    assert "known good" in watched.finding and watched.effect < 0


def test_the_highest_severity_of_several_alerts_counts() -> None:
    verdict = classify([_alert(severity=1), _alert(severity=5)], [], Policy())

    assert verdict.reasons[0].finding == "the sensor rates it critical"
    assert verdict.score == 10


def test_severity_99_other_is_ignored() -> None:
    verdict = classify([_alert(severity=99)], [], Policy())

    assert [r.question for r in verdict.reasons] == [UNANSWERED]
    assert verdict.verdict is VerdictLabel.SUSPICIOUS


def test_every_signal_at_once_is_malicious_within_100() -> None:
    alert = _alert(
        "HackTool found",
        severity=5,
        evidences=[{"reg_value": {"path": RUN_KEY, "name": "start"}}],
    )

    verdict = classify([alert], [_listed()], Policy())

    assert sum(r.effect for r in verdict.reasons) == 95  # listed, current, tool, persistence, critical
    assert verdict.score == 95
    assert verdict.verdict is VerdictLabel.MALICIOUS


@settings(max_examples=60, deadline=None)
@given(
    severity=st.integers(min_value=0, max_value=99),
    listed=st.integers(min_value=0, max_value=3),
    persistence=st.booleans(),
    hacktool=st.booleans(),
    thresholds=st.tuples(st.integers(0, 99), st.integers(1, 100)).filter(lambda t: t[0] < t[1]),
)
def test_the_score_stays_within_0_to_100_and_the_rules_hold(
    severity: int, listed: int, persistence: bool, hacktool: bool, thresholds: tuple[int, int]
) -> None:
    evidences = [{"reg_value": {"path": RUN_KEY, "name": "start"}}] if persistence else []
    alert = _alert("HackTool" if hacktool else "Alert", severity=severity, evidences=evidences)
    indicators = [_listed(f"evil{i}.example") for i in range(listed)]
    policy = Policy(suspicious_threshold=thresholds[0], malicious_threshold=thresholds[1])

    verdict = classify([alert], indicators, policy)

    assert 0 <= verdict.score <= 100
    assert verdict.score == max(0, min(100, sum(r.effect for r in verdict.reasons)))
    if hacktool or persistence or severity in (4, 5, 6):
        assert verdict.verdict is not VerdictLabel.BENIGN
    if hacktool or severity in (4, 5, 6):
        assert verdict.needs_analyst
    if verdict.verdict is VerdictLabel.BENIGN:  # benign is earned: here only clean intel could earn it
        raise AssertionError("nothing in these alerts clears them")
    if verdict.score >= policy.malicious_threshold:
        assert verdict.verdict is VerdictLabel.MALICIOUS
