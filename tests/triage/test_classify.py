"""The first classifier: points an analyst can check, a verdict the policy decides, and the rules that
hold whatever the points say (a hacktool or autorun persistence is never benign)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.demo import mykings_alert
from flows.models import Alert, Indicator, IndicatorType, Provenance, VerdictLabel
from flows.tenants import Policy
from flows.triage import LocalFeeds, classify
from flows.triage._findings import PERSISTENCE as HOW_PERSIST
from flows.triage._findings import SEVERITY as HOW_SEVERE
from flows.triage._findings import TOOL as TOOL_OR_VIRUS
from flows.triage._findings import WHY_WATCHED

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
    return alert, LocalFeeds.load([DEFAULT_FEED]).enrich(alert.indicators())


def test_the_mykings_alert_is_malicious(mykings: tuple[Alert, list[Indicator]]) -> None:
    alert, indicators = mykings

    verdict = classify([alert], indicators, Policy())

    assert verdict.verdict is VerdictLabel.MALICIOUS
    assert verdict.score == 90  # listed 35 + current 5 + persistence 25 + regsvr32 fetching 15 + high 10
    questions = [reason.question for reason in verdict.reasons]
    assert "Why are we watching this indicator?" in questions
    assert "How does it persist?" in questions


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
    assert sum(r.effect for r in reasons.values()) == 90


def test_without_intel_the_mykings_alert_is_only_suspicious(mykings: tuple[Alert, list[Indicator]]) -> None:
    alert, _ = mykings

    verdict = classify([alert], alert.indicators(), Policy())

    assert verdict.verdict is VerdictLabel.SUSPICIOUS
    assert WHY_WATCHED not in [r.question for r in verdict.reasons]


def test_the_tenant_policy_decides_the_label(mykings: tuple[Alert, list[Indicator]]) -> None:
    alert, indicators = mykings

    strict = classify([alert], indicators, Policy(malicious_threshold=95, suspicious_threshold=50))

    assert strict.score == 90
    assert strict.verdict is VerdictLabel.SUSPICIOUS


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

    assert classify([alert], [], Policy()).verdict is VerdictLabel.BENIGN


def test_a_low_severity_alert_with_nothing_known_is_benign() -> None:
    verdict = classify(
        [_alert(severity=2)], [Indicator(type=IndicatorType.DOMAIN, value="x.example")], Policy()
    )

    assert verdict.verdict is VerdictLabel.BENIGN
    assert verdict.score == 0
    assert [r.question for r in verdict.reasons] == [HOW_SEVERE]


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

    assert verdict.reasons == []
    assert verdict.verdict is VerdictLabel.BENIGN


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
    if hacktool or persistence:
        assert verdict.verdict is not VerdictLabel.BENIGN
    if verdict.score >= policy.malicious_threshold:
        assert verdict.verdict is VerdictLabel.MALICIOUS
