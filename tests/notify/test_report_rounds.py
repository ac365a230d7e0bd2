"""A reopened incident's report tells each response round once, in order — what started it, what it found,
what it did (again) — and counts the objects acted on, not the ledger rows (issue 17, "Reports across
rounds"). The incident is built through the store as the respond flow and the re-check build it: round 1
isolates WS-FINANCE-07 and removes three Run-key values, the incident closes, the re-check finds a value
back and reopens it (``Store.reopen``), and round 2 does the same four actions again."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from flows.demo import mykings_alert
from flows.models import Alert, Reason, Verdict, VerdictLabel
from flows.notify import Rendered, render_report
from flows.notify._rounds import rounds
from flows.store import IncidentStatus, Store, undo_key
from flows.tenants import NotifyTarget, Tenant

TENANT = Tenant(id="demo", name="Demo Customer Ltd.", notify=[NotifyTarget(url="outbox://demo")])
HOST = "WS-FINANCE-07"
RUN_KEY = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run"
VALUES = ("start", "start1", "start2")
DONE_ONCE = "isolated WS-FINANCE-07 from the network and removed 3 autorun registry values"


def _act(store: Store, incident_id: str, round_: int, actions: list[tuple[str, str, str]]) -> None:
    for action, target, status in actions:
        entry = store.ledger.claim(
            tenant="demo",
            incident_id=incident_id,
            action=action,
            target=target,
            inputs={},
            inverse=None,
            owner=f"run-{round_}",
            lease_seconds=60,
            round=round_,
        )
        store.ledger.finish(entry.id, f"run-{round_}", status=status, detail=status)


def _round(store: Store, incident_id: str, round_: int) -> None:
    """One respond run: triage's verdict, then isolate the host and remove the three Run-key values."""
    assert store.claim(incident_id, f"run-{round_}")
    store.set_verdict(
        incident_id,
        Verdict(
            verdict=VerdictLabel.MALICIOUS,
            score=91,
            reasons=[
                Reason(question="How does it persist?", finding="autorun registry values written", effect=25)
            ],
        ),
    )
    store.set_status(incident_id, IncidentStatus.RESPONDING, "containment started", "act")
    removals = [("lab.delete_registry_value", f"{HOST}:{RUN_KEY}\\{name}", "succeeded") for name in VALUES]
    _act(store, incident_id, round_, [("lab.isolate_host", HOST, "succeeded"), *removals])
    store.set_status(incident_id, IncidentStatus.CONTAINED, "contained", "act")


@pytest.fixture
def reopened(store: Store) -> str:
    document = mykings_alert()
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    _round(store, incident_id, 1)
    store.set_status(incident_id, IncidentStatus.CLOSED, "closed by analyst alice", "close")
    # What the re-check does when a removed value is back (flows/recheck/_check.py ``_act``).
    assert (
        store.reopen(
            incident_id,
            f"re-check: reopened: Run-key value start is back on {HOST}",
            step="recheck",
            data={"reasons": [f"Run-key value start is back on {HOST}"], "outcome": "reopened"},
            actor="recheck",
        )
        == 2
    )
    _round(store, incident_id, 2)
    return incident_id


def _report(store: Store, incident_id: str, channel: str) -> str:
    rendered: Rendered = render_report(
        incident_id, channel=channel, language="en", store=store, tenant=TENANT
    )
    return rendered.body


def _between(text: str, start: str, end: str) -> str:
    at = text.index(start)
    return text[at : text.index(end, at)]


def test_the_text_report_tells_each_round_once_and_counts_distinct_objects(
    store: Store, reopened: str
) -> None:
    report = _report(store, reopened, "text")

    summary = _between(report, "SUMMARY", "WHY WE REACHED")
    assert f"We {DONE_ONCE}." in summary
    assert "The incident was reopened once, and we responded again." in summary
    assert (
        "removed 6" not in report and f"{HOST}, {HOST}" not in report and f"{HOST} and {HOST}" not in report
    )
    did = _between(report, "WHAT WE DID", "WHAT WE RECOMMEND")
    first, second = _between(did, "Round 1, from", "Round 2, from"), did[did.index("Round 2, from") :]
    assert did.count("Round 1, from") == 1 and did.count("Round 2, from") == 1
    assert first.rstrip().endswith(")") and "our first response" in first
    assert f"We {DONE_ONCE}." in first and "Again" not in first
    assert f"Our re-check of the closed incident found: Run-key value start is back on {HOST}." in second
    assert f"Verdict: Malicious. Again, we {DONE_ONCE}." in second
    for told in (first, second):  # each round lists its own four actions, each once
        rows = re.findall(r"^    - (.+)$", told, re.M)
        assert sorted(rows) == sorted(
            [f"Isolate the host from the network: {HOST} (Done)"]
            + [f"Remove the autorun registry value: {HOST}:{RUN_KEY}\\{name} (Done)" for name in VALUES]
        )
    # The recommendations name the host once and the three values once.
    advice = _between(report, "WHAT WE RECOMMEND", "Questions about")
    assert f"{HOST} is isolated from the network." in advice
    assert "We removed the autorun values start, start1 and start2." in advice


def test_the_timeline_tells_each_round_once(store: Store, reopened: str) -> None:
    report = _report(store, reopened, "text")

    timeline = _between(report, "TIMELINE (UTC)", "Dwell time")
    labels = [line[23:].strip() for line in timeline.splitlines()[1:] if line.strip()]
    assert [label for label, n in Counter(labels).items() if n > 1] == []
    told = [label for label in labels if not label.startswith(("Earliest", "Detected", "Alert received"))]
    assert told == [
        "Verdict: Malicious",
        "Containment started",
        "Threat contained",
        "Incident closed",
        "Incident reopened (round 2)",
        "Verdict: Malicious (round 2)",
        "Containment started (round 2)",
        "Threat contained (round 2)",
    ]


def test_the_markdown_report_has_a_section_and_an_activity_log_per_round(store: Store, reopened: str) -> None:
    report = _report(store, reopened, "markdown")

    did = _between(report, "## What we did", "## Recommendations")
    assert did.index("### Round 1, from") < did.index("### Round 2, from")
    assert did.count("### Round") == 2
    second = did[did.index("### Round 2, from") :]
    assert f"Again, we {DONE_ONCE}." in second
    rows = [line for line in did.splitlines() if line.startswith("| Remove the autorun registry value")]
    assert len(rows) == 6 and len(set(rows)) == 3  # three values, once in each round
    summary = _between(report, "## Summary", "## Why")
    assert "removed 3 autorun registry values" in summary and "removed 6" not in report
    log = report[report.index("## Activity log") :]
    assert log.index("**Round 1, from") < log.index("**Round 2, from") < log.index("re-check: reopened")
    isolations = re.findall(r"^- .+lab\.isolate\\_host on WS-FINANCE-07: succeeded", log, re.M)
    assert len(isolations) == 2  # once per round: each is its own event, under its own round


def test_the_html_report_tells_the_rounds_in_order(store: Store, reopened: str) -> None:
    report = _report(store, reopened, "html")

    assert report.count("<h4") == 2
    assert report.index("Round 1, from") < report.index("Round 2, from")
    assert f"We {DONE_ONCE}." in report and f"Again, we {DONE_ONCE}." in report
    assert (
        "Our re-check of the closed incident found: Run-key value start is back on WS-FINANCE-07." in report
    )
    assert "removed 6" not in report and f"{HOST}, {HOST}" not in report


def test_a_round_that_acted_on_something_new_says_what_was_new_and_what_again(
    store: Store, reopened: str
) -> None:
    _act(
        store,
        reopened,
        2,
        [("lab.block_domain", "js.mykings.top", "succeeded"), ("lab.block_ip", "203.0.113.9", "failed")],
    )

    report = _report(store, reopened, "text")

    second = report[report.index("Round 2, from") : report.index("WHAT WE RECOMMEND")]
    assert "We blocked the domain js[.]mykings[.]top. Again, we " + DONE_ONCE + "." in second
    assert "One of our actions failed; an analyst is following up." in second
    assert (
        "One of our actions failed"
        not in report[report.index("Round 1, from") : report.index("Round 2, from")]
    )


def test_an_incident_of_one_round_has_no_rounds_section(store: Store) -> None:
    document = mykings_alert()
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    _round(store, incident_id, 1)

    report = _report(store, incident_id, "text")

    assert "Round 1" not in report and "reopened" not in report
    assert f"We {DONE_ONCE}." in report


@pytest.mark.parametrize("language", ["ja", "zh-TW"])
def test_the_rounds_are_told_in_every_language(store: Store, reopened: str, language: str) -> None:
    report = render_report(reopened, channel="text", language=language, store=store, tenant=TENANT).body

    assert report.count("WS-FINANCE-07:HKLM") == 6  # three values in each of the two rounds' lists
    assert {"ja": "ラウンド 2", "zh-TW": "第 2 輪"}[language] in report
    assert {"ja": "再度、", "zh-TW": "我們再次"}[language] in report


def test_a_round_an_analyst_started_is_told_as_their_decision(store: Store) -> None:
    document = mykings_alert()
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    # The line ``Store.decide_waiting`` writes when a decision starts the next round (``_decisions``).
    store.add_timeline(
        incident_id,
        "decision",
        "analyst bob decided malicious: <b>seen</b> on the proxy: new response round 2",
        {"analyst": "bob", "verdict": "malicious", "comment": "<b>seen</b> on the proxy", "round": 2},
    )
    _round(store, incident_id, 2)

    report = _report(store, incident_id, "text")

    second = report[report.index("Round 2, from") : report.index("WHAT WE RECOMMEND")]
    assert "Analyst bob decided: Malicious. ‹b›seen‹/b› on the proxy" in second
    assert f"We {DONE_ONCE}." in second and "Again" not in second  # round 1 did nothing
    first = report[report.index("Round 1, from") : report.index("Round 2, from")]
    assert "No action was taken in this round." in first


def test_a_rollback_is_told_in_the_round_it_was_done_in(store: Store, reopened: str) -> None:
    incident = store.incident(reopened)
    assert incident is not None
    isolated = next(a for a in incident.actions if a.key == "lab.isolate_host")
    # A rollback's key derives from the row it undoes (``undo_key``), not from a round.
    entry = store.ledger.claim(
        tenant="demo",
        incident_id=reopened,
        action="lab.release_host",
        target=HOST,
        inputs={},
        inverse=None,
        owner="rollback",
        lease_seconds=60,
        key=undo_key(isolated.idempotency_key, "lab.release_host"),
    )
    store.ledger.finish(entry.id, "rollback", status="succeeded", detail="released")

    report = _report(store, reopened, "text")

    first = report[report.index("Round 1, from") : report.index("Round 2, from")]
    second = report[report.index("Round 2, from") : report.index("WHAT WE RECOMMEND")]
    assert "Release the host from isolation" not in first
    assert f"Release the host from isolation: {HOST} (Done)" in second


def test_a_round_the_intake_started_is_a_reopening_on_the_timeline(store: Store) -> None:
    document = mykings_alert()
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    _round(store, incident_id, 1)
    store.set_status(incident_id, IncidentStatus.CLOSED, "closed", "close")
    document["finding_info"]["uid"] = "mykings-again"
    receipt = store.record_alert(Alert.model_validate(document), document)  # grouping reopens the closed one
    assert receipt.incident_id == incident_id
    reopened_view = store.incident(incident_id)
    assert reopened_view is not None and reopened_view.round == 2

    report = _report(store, incident_id, "text")

    timeline = _between(report, "TIMELINE (UTC)", "Dwell time")
    assert timeline.count("Incident reopened (round 2)") == 1
    second = report[report.index("Round 2, from") : report.index("WHAT WE RECOMMEND")]
    assert "A related alert arrived: MyKings botnet" in second
    assert "No action was taken in this round." in second


def test_each_row_is_told_in_the_round_the_ledger_says_it_was_done_in(store: Store, reopened: str) -> None:
    # Round 1's run blocked the domain late: its row was written after the re-check had started round 2.
    _act(store, reopened, 1, [("lab.block_domain", "js.mykings.top", "succeeded")])
    incident = store.incident(reopened)
    assert incident is not None

    assert [(a.key, a.round) for a in incident.actions] == [
        *[(key, 1) for key in ["lab.isolate_host", *["lab.delete_registry_value"] * 3]],
        *[(key, 2) for key in ["lab.isolate_host", *["lab.delete_registry_value"] * 3]],
        ("lab.block_domain", 1),
    ]
    [first, second] = rounds(incident)
    assert [a.key for a in first.actions].count("lab.block_domain") == 1
    assert "lab.block_domain" not in [a.key for a in second.actions]
    report = _report(store, reopened, "text")
    did = _between(report, "WHAT WE DID", "WHAT WE RECOMMEND")
    assert "Block the domain: js[.]mykings[.]top (Done)" in _between(did, "Round 1, from", "Round 2, from")
    assert "Block the domain" not in did[did.index("Round 2, from") :]


def test_a_rollback_keeps_its_row_s_round_yet_is_told_in_the_round_it_was_done_in(
    store: Store, reopened: str
) -> None:
    incident = store.incident(reopened)
    assert incident is not None
    isolated = next(a for a in incident.actions if a.key == "lab.isolate_host" and a.round == 1)
    original = store.ledger.row(isolated.idempotency_key)
    assert original is not None
    # As ``flows.respond`` writes a rollback: the undone row's round, a key derived from that row.
    entry = store.ledger.claim(
        tenant="demo",
        incident_id=reopened,
        action="lab.release_host",
        target=HOST,
        inputs={},
        inverse=None,
        owner="rollback",
        lease_seconds=60,
        round=original.round,
        key=undo_key(isolated.idempotency_key, "lab.release_host"),
        reverses=original.id,
    )
    store.ledger.finish(entry.id, "rollback", status="succeeded", detail="released")
    incident = store.incident(reopened)
    assert incident is not None

    [released] = [a for a in incident.actions if a.key == "lab.release_host"]
    assert released.round == 1
    [first, second] = rounds(incident)
    assert released in second.actions and released not in first.actions
