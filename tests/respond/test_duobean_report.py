"""DUOBEAN told from the hosts' own telemetry, end to end: a Sysmon + Security + System collection in
``evtx_dump`` JSON (tests/fixtures/duobean, hand-made from DESIGN §1) posted to ``/v1/events``, then a bland
EDR alert on the host; the respond flow runs through a real Prefect API, and the customer's report in the
outbox tells how it happened in time order — the LNK, PowerShell's download, the signed program
side-loading a DLL from %AppData%\\Roaming, the service "Software Update", msiexec beaconing — each step
with its time, host, key field and the SigmaHQ rule (title as published, id) that matched it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from actions.lab import HostSeed, LabFleet, ServiceSeed
from flows.demo._run import demo_headers
from flows.intake import create_app
from flows.notify import render_report
from flows.respond import RespondRequest, respond
from flows.settings import Settings
from flows.store import Store
from flows.tenants import generate_missing_secrets, tenants_from

pytestmark = pytest.mark.usefixtures("prefect_harness")

DUOBEAN = Path(__file__).parents[1] / "fixtures" / "duobean"
HOST = "WS-ACC-03"
ROAMING = r"C:\Users\hana[.]sato\AppData\Roaming\SoftUpdate"

# The chain in the order it happened: (time, SigmaHQ rule ids, what the step must name).
CHAIN = [
    ("2026-11-10 08:12:03 UTC", ["3215aa19-f060-4332-86d5-5602511f3ca8"],
     r"msedge.exe wrote C:\Users\hana[.]sato\Downloads\Invoice_2026-11[.]pdf[.]lnk"),
    ("2026-11-10 08:13:41 UTC", ["3b6ab547-8ec2-4991-b9d2-2b06702a48d7"],
     "explorer.exe started powershell.exe: powershell.exe -nop -w hidden -c"),
    ("2026-11-10 08:13:42 UTC", ["1f21ec3f-810d-4b0e-8045-322202e22b4b"],
     "powershell.exe connected to update-cdn[.]example (203[.]0[.]113[.]18)"),
    ("2026-11-10 08:13:47 UTC",
     ["7047d730-036f-4f40-b9d8-1c63e36d5e62", "297afac9-5d02-4138-8c58-b977bac60556"],
     rf"powershell.exe wrote {ROAMING}\SoftUpdate.exe"),
    ("2026-11-10 08:13:48 UTC", ["d7a63acb-1284-49bc-bfea-7771146c8b1c"],
     rf"SoftUpdate.exe loaded {ROAMING}\vcruntime140.dll"),
    ("2026-11-10 08:15:02 UTC", ["5e993621-67d4-488a-b9ae-b420d08b96cb"],
     rf'The service "Software Update" was installed: "{ROAMING}\SoftUpdate.exe" -svc'),
    ("2026-11-10 08:20:05 UTC", ["8e5e38e4-5350-4c0b-895a-e872ce0dd54f"],
     "msiexec.exe connected to 198[.]51[.]100[.]77 on port 443 (6 matching events)"),
]  # fmt: skip
TITLES = {
    "3215aa19-f060-4332-86d5-5602511f3ca8": "Suspicious LNK Double Extension File Created",
    "d7a63acb-1284-49bc-bfea-7771146c8b1c": "Potential Vcruntime140 DLL Sideloading",
    "5e993621-67d4-488a-b9ae-b420d08b96cb": "Service Installation in Suspicious Folder",
    "8e5e38e4-5350-4c0b-895a-e872ce0dd54f": "Msiexec.EXE Initiated Network Connection Over HTTP",
}


class NoDispatch:
    async def dispatch(self, incident_id: str) -> str | None:
        return None


def _lines(name: str) -> list[dict[str, Any]]:
    text = (DUOBEAN / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _posted(settings: Settings, store: Store) -> str:
    """The collection and then the alert, through the intake as a customer's forwarder sends them."""
    LabFleet(store.engine).seed(
        HostSeed(tenant="demo", hostname=HOST, services=[ServiceSeed(name="Software Update")])
    )
    client = TestClient(create_app(settings, dispatcher=NoDispatch(), sweep=False))
    generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
    headers = demo_headers(settings)
    for name in ("sysmon.jsonl", "security.jsonl", "system.jsonl"):
        events = _lines(name)
        posted = client.post(
            "/v1/events",
            content="\n".join(json.dumps(event) for event in events),
            headers={**headers, "Content-Type": "application/x-ndjson"},
        )
        assert posted.status_code == 200, posted.text
        assert posted.json() == {"stored": len(events), "rejected": []}, name
    alert = json.loads((DUOBEAN / "alert.json").read_text(encoding="utf-8"))
    received = client.post("/v1/alerts", json=alert, headers=headers)
    assert received.status_code == 202, received.text
    return str(received.json()["incident_id"])


def _section(report: str, heading: str, following: str) -> str:
    start = report.index(heading)
    return report[start : report.index(following, start)]


def test_the_report_tells_the_duobean_chain_in_order_with_the_rules_that_matched(
    settings: Settings, store: Store
) -> None:
    incident_id = _posted(settings, store)

    respond(RespondRequest(incident_id=incident_id))

    incident = store.incident(incident_id)
    assert incident is not None and incident.verdict not in (None, "benign")
    assert [n.event for n in incident.notifications if n.event == "incident_report"] == ["incident_report"]
    [report] = [
        p.read_text(encoding="utf-8")
        for p in sorted((settings.outbox_dir / "demo").glob("*.txt"))
        if "WHAT WE RECOMMEND" in p.read_text(encoding="utf-8")
    ]
    told = _section(report, "HOW IT HAPPENED", "INDICATORS")
    steps = re.findall(r"^ +(\d+)\. (.+)\n +(SigmaHQ rules? .+)$", told, re.M)
    assert [int(number) for number, _, _ in steps] == list(range(1, len(CHAIN) + 1)), told
    for (_, line, credit), (at, rules, what) in zip(steps, CHAIN, strict=True):
        assert line == f"{at}, {HOST}: {what}" or line.startswith(f"{at}, {HOST}: {what}"), line
        assert re.findall(r"\(([0-9a-f-]{36})\)", credit) == rules, credit
        for rule in rules:
            if rule in TITLES:  # the title as SigmaHQ publishes it, quoted beside its id
                assert f'"{TITLES[rule]}" ({rule})' in credit
    # The bland alert carried no evidence of its own: no alert-evidence chain, and the LNK is the way in.
    assert "From the alerts' own evidence" not in told and "first got in is not shown" not in told
    # Every matched rule is also a reason for the verdict, credited to SigmaHQ.
    why = _section(report, "WHY WE REACHED THIS VERDICT", "TIMELINE")
    assert all(rule in why for _, rules, _ in CHAIN for rule in rules)
    # Nothing in the telemetry is a live link or address.
    assert "http://" not in report and "198.51.100.77" not in report and "update-cdn.example" not in report


def test_the_chain_is_told_in_every_language_with_the_rule_titles_as_published(
    settings: Settings, store: Store
) -> None:
    incident_id = _posted(settings, store)
    respond(RespondRequest(incident_id=incident_id))

    for language, lead in (("ja", "ホスト上で起きたこと"), ("zh-TW", "主機上發生的事")):
        report = render_report(incident_id, channel="text", language=language, store=store).body
        print(report)
        told = report[report.index(lead) :]
        positions = [told.index(rules[0]) for _, rules, _ in CHAIN]
        assert positions == sorted(positions), language
        assert '"Msiexec.EXE Initiated Network Connection Over HTTP"' not in report  # quoted their way
        assert "「Msiexec.EXE Initiated Network Connection Over HTTP」" in report
