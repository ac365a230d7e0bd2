"""What the report says is derived from the evidence: dwell time, infection chain, mitigations, and
phrases in the reader's language; free text is made inert before any template sees it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flows.demo import mykings_alert
from flows.models import Alert, Reason, Verdict, VerdictLabel
from flows.notify import incident_context, inert
from flows.notify._evidence import first_evidence, infection_chain
from flows.notify._i18n import catalog
from flows.store import Store
from flows.tenants import Tenant

TENANT = Tenant(id="demo", name="Demo Customer Ltd.")


def _alert(**changes: Any) -> Alert:
    document = mykings_alert()
    document.update(changes)
    return Alert.model_validate(document)


@pytest.mark.parametrize(
    ("span", "en", "zh", "ja"),
    [
        (timedelta(seconds=18), "18 seconds", "18 秒", "18秒"),
        (timedelta(minutes=1, seconds=5), "1 minute 5 seconds", "1 分鐘 5 秒", "1分5秒"),
        (timedelta(days=3, hours=4, minutes=2), "3 days 4 hours", "3 天 4 小時", "3日4時間"),
        (timedelta(days=1), "1 day", "1 天", "1日"),
        (timedelta(days=731, hours=6), "about 2 years", "約 2 年", "約2年"),
        (timedelta(days=400), "about 1 year 1 month", "約 1 年 1 個月", "約1年1か月"),
    ],
)
def test_durations_read_naturally_in_every_language(span: timedelta, en: str, zh: str, ja: str) -> None:
    assert [catalog(lang).duration(span) for lang in ("en", "zh-TW", "ja")] == [en, zh, ja]


def test_the_earliest_evidence_is_the_oldest_plausible_time_the_evidence_carries() -> None:
    evidences = mykings_alert()["evidences"] + [
        {"reg_value": {"path": "HKLM\\x", "name": "a", "modified_time": 1500779640000}},
        {"file": {"path": "C:\\x.exe", "created_time_dt": "2018-01-02T03:04:05Z"}},
        {"process": {"name": "a.exe", "created_time": 0}},  # 1970: a sensor default, not evidence
        {"file": {"path": "C:\\y.exe", "modified_time": 4102444800000}},  # 2100: in the future
    ]

    earliest = first_evidence([_alert(evidences=evidences)])

    assert earliest == datetime(2017, 7, 23, 3, 14, tzinfo=UTC)
    # The demo alert carries the Run-key values' write time (OCSF reg_value.modified_time).
    assert first_evidence([_alert()]) == datetime(2017, 7, 23, 3, 14, tzinfo=UTC)


def test_the_infection_chain_follows_the_evidence_in_order() -> None:
    alert = _alert(
        evidences=[
            {"job": {"name": "Software Update", "cmd_line": "powershell -enc AAA"}},
            {"dst_endpoint": {"ip": "203.0.113.9", "port": 443}},
            {"file": {"path": "C:\\Users\\a\\Desktop\\invoice.lnk"}},
            {
                "process": {
                    "name": "msiexec.exe",
                    "parent_process": {
                        "name": "updater.exe",
                        "file": {"path": "C:\\Users\\a\\AppData\\Roaming\\u\\updater.exe"},
                    },
                }
            },
        ]
    )
    alert.finding_info.types.append("EternalBlue")

    steps = [(s.stage, s.kind) for s in infection_chain([alert])]

    assert steps == [
        ("entry", "exploit_smb"),
        ("entry", "file"),
        ("execution", "process"),
        ("execution", "parent"),
        ("execution", "user_path"),
        ("execution", "lolbin"),
        ("persistence", "task"),
        ("network", "connection_port"),
    ]


def test_the_mykings_chain_names_the_lolbin_the_download_and_each_run_value() -> None:
    steps = infection_chain([_alert()])

    assert [(s.stage, s.kind) for s in steps] == [
        ("execution", "process_cmd"),
        ("execution", "lolbin"),
        ("download", "fetched"),
        ("persistence", "autorun"),
        ("persistence", "autorun"),
        ("persistence", "autorun"),
        # the connection to js.mykings.top:280 is the download itself: not repeated
    ]


def _codes(context: dict[str, Any]) -> list[str]:
    return list(context["mitigation_codes"])


def test_mitigations_follow_from_what_was_found_and_done(sample: Callable[..., Any]) -> None:
    s = sample()

    context = incident_context(s.incident, s.tenant, alerts=s.alerts)

    assert _codes(context) == [
        "failed_actions",
        "isolated",
        "credentials",
        "keep_blocked",
        "hunt",
        "watch_persistence",
        "lolbin",
        "patch_smb",
        "mssql",
        "long_dwell",
    ]


def test_a_hack_tool_is_never_treated_as_a_cleaned_virus(store: Store) -> None:
    document = {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Demo AV"}},
        "finding_info": {"uid": "av-1", "title": "HackTool:Win32/Mimikatz quarantined"},
        "device": {"hostname": "SRV-FILES-01"},
    }
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    store.set_verdict(
        incident_id,
        Verdict(
            verdict=VerdictLabel.SUSPICIOUS,
            score=20,
            reasons=[
                Reason(
                    question="Is it a tool, not a virus?", finding="an attack tool was detected: x", effect=20
                )
            ],
        ),
    )
    incident = store.incident(incident_id)
    assert incident is not None

    context = incident_context(incident, TENANT, alerts=[Alert.model_validate(document)])

    assert _codes(context) == ["hacktool", "gray", "credentials"]
    assert context["reasons"][0]["finding"] == catalog("en")("finding.hacktool")


def test_a_benign_incident_needs_nothing_from_the_customer(store: Store) -> None:
    document = mykings_alert()
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    store.set_verdict(incident_id, Verdict(verdict=VerdictLabel.BENIGN, score=0, reasons=[]))
    incident = store.incident(incident_id)
    assert incident is not None

    context = incident_context(incident, TENANT)

    assert _codes(context) == ["benign"]


def test_persistence_found_but_not_removed_is_named(sample: Callable[..., Any], store: Store) -> None:
    document = mykings_alert()
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    incident = store.incident(incident_id)
    assert incident is not None

    context = incident_context(incident, TENANT, alerts=[Alert.model_validate(document)])

    [left] = [text for text in context["mitigations"] if text.startswith("Autostart entries")]
    assert "(start, start1 and start)" in left


@pytest.mark.parametrize("language", ["en", "zh-TW", "ja"])
def test_known_findings_are_told_in_the_readers_language_and_unknown_ones_as_written(
    sample: Callable[..., Any], language: str
) -> None:
    s = sample("a finding the catalog does not know")

    reasons = incident_context(s.incident, s.tenant, language=language, alerts=s.alerts)["reasons"]

    phrases = catalog(language)
    assert reasons[1]["question"] == phrases("question.how_persist")
    assert reasons[1]["finding"] == phrases("finding.autorun", names="start, start1")
    assert reasons[2]["finding"] == phrases("finding.severity", level=phrases("severity.high"))
    assert reasons[3]["question"] == reasons[3]["finding"] == "a finding the catalog does not know"
    assert reasons[3]["effect_text"] == "+1"


@pytest.mark.parametrize(
    ("finding", "en", "ja"),
    [
        (
            "Run-key value start, Run-key value start1",
            "Autostart entries: Run-key value start, Run-key value start1.",
            "自動起動の設定：Run キーの値 start、Run キーの値 start1。",
        ),
        (
            'service "Software Update" created around the first activity',
            'Autostart entries created around the first activity: service "Software Update".',
            "最初の活動の前後に作成された自動起動の設定：サービス「Software Update」。",
        ),
        (
            "watched for 9 years, last confirmed 2026-11-01: still current",
            "Watched for about 9 years, last confirmed 2026-11-01; still current.",
            "約9年前から監視しており、最終確認は 2026-11-01、現在も有効です。",
        ),
        (
            "the sensor rates it critical",
            "The sensor rates it critical.",
            "センサーの深刻度評価は「重大」です。",
        ),
        ("something new, said <here>", "something new, said ‹here›", "something new, said ‹here›"),
    ],
)
def test_the_triage_findings_are_translated_or_kept_as_written(finding: str, en: str, ja: str) -> None:
    from flows.notify._story import _finding

    assert [_finding(catalog("en"), finding), _finding(catalog("ja"), finding)] == [en, ja]


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("regsvr32.exe fetched http://evil.com/v.sct", "regsvr32.exe fetched hxxp://evil[.]com/v[.]sct"),
        ("line one\r\nline two", "line one  line two"),
        ("<!channel> <https://x.example|ok>", "‹!channel› ‹hxxps://x[.]example|ok›"),
        ("invoice\u202efdp.exe", "invoice fdp.exe"),
        ("10.20.30.47 and evil.top", "10[.]20[.]30[.]47 and evil[.]top"),
    ],
)
def test_free_text_is_made_inert(raw: str, shown: str) -> None:
    assert inert(raw) == shown
