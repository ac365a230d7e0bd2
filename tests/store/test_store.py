"""The store: alerts open incidents once, runs claim them once, the ledger is idempotent, the audit
trail shows tampering."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from flows.demo import mykings_alert
from flows.models import Alert, Reason, Verdict, VerdictLabel
from flows.store import ActionStatusValue, IncidentStatus, LedgerEntry, Store, idempotency_key
from flows.store._schema import AlertRow, AuditRow, IncidentRow


def _record(store: Store, document: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    document = document if document is not None else mykings_alert()
    return store.record_alert(Alert.model_validate(document), document)


def _count(store: Store, table: type) -> int:
    with Session(store.engine) as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _begin(
    store: Store,
    incident_id: str,
    action: str = "lab.isolate_host",
    target: str = "WS-FINANCE-07",
    owner: str = "test",
) -> LedgerEntry:
    return store.ledger.claim(
        tenant="demo",
        incident_id=incident_id,
        action=action,
        target=target,
        inputs={"hostname": target},
        inverse="lab.release_host",
        owner=owner,
        lease_seconds=60,
    )


# -- intake ------------------------------------------------------------------------------------------------


def test_record_alert_opens_an_incident_with_its_indicators_and_an_intake_entry(store: Store) -> None:
    receipt = _record(store)

    assert receipt.duplicate is False
    incident = store.incident(receipt.incident_id)
    assert incident is not None
    assert incident.tenant == "demo"
    assert incident.title == "MyKings botnet: scriptlet download and Run-key persistence"
    assert incident.status == IncidentStatus.NEW
    assert incident.hosts == ["WS-FINANCE-07"]
    assert incident.alert_count == 1
    assert incident.severity_id == 4
    assert incident.verdict is None and incident.flow_run_id is None
    assert incident.detected_at is not None and int(incident.detected_at.timestamp() * 1000) == 1563872400000
    values = {(i.type, i.value) for i in incident.indicators}
    assert ("url", "http://js.mykings.top:280/v.sct") in values
    assert ("domain", "js.mykings.top") in values
    assert [(t.step, t.data["alert_id"]) for t in incident.timeline] == [("intake", receipt.alert_id)]


def test_indicator_views_carry_a_defanged_value(store: Store) -> None:
    incident = store.incident(_record(store).incident_id)

    assert incident is not None
    url = next(i for i in incident.indicators if i.type == "url")
    assert url.defanged == "hxxp://js[.]mykings[.]top:280/v[.]sct"


def test_the_alert_document_is_kept_as_received(store: Store) -> None:
    document = mykings_alert()
    document["vendor_specific"] = {"kept": True}

    receipt = _record(store, document)

    assert store.alert_documents(receipt.incident_id) == [document]


def test_the_same_alert_again_is_a_duplicate_with_the_same_ids(store: Store) -> None:
    first = _record(store)
    second = _record(store)

    assert second.duplicate is True
    assert (second.alert_id, second.incident_id) == (first.alert_id, first.incident_id)
    assert _count(store, IncidentRow) == 1
    assert _count(store, AlertRow) == 1
    assert len(store.incidents()) == 1


def test_the_same_source_uid_from_another_tenant_or_source_is_a_new_alert(store: Store) -> None:
    first = _record(store)
    other_tenant = mykings_alert()
    other_tenant["metadata"]["tenant_uid"] = "other"
    other_source = mykings_alert()
    other_source["metadata"]["product"]["name"] = "Another EDR"

    assert _record(store, other_tenant).duplicate is False
    same_host_and_rule = _record(store, other_source)
    assert same_host_and_rule.duplicate is False
    assert _count(store, AlertRow) == 3
    # Another source about the same host and rule joins the open incident; another tenant never does.
    assert same_host_and_rule.incident_id == first.incident_id
    assert _count(store, IncidentRow) == 2
    assert first.incident_id not in {r.id for r in store.incidents(tenant="other")}


def test_incidents_can_be_listed_by_tenant_and_status(store: Store) -> None:
    demo = _record(store)
    other = mykings_alert()
    other["metadata"]["tenant_uid"] = "other"
    _record(store, other)
    assert store.claim(demo.incident_id, "run-a")
    store.set_status(demo.incident_id, IncidentStatus.CLOSED, "done", "close")

    assert [i.id for i in store.incidents(tenant="demo")] == [demo.incident_id]
    assert [i.tenant for i in store.incidents(status="new")] == ["other"]
    assert store.incident("no-such-incident") is None


# -- claiming ----------------------------------------------------------------------------------------------


def test_only_one_of_two_flow_runs_claims_an_incident(store: Store) -> None:
    incident_id = _record(store).incident_id

    assert store.claim(incident_id, "run-a") is True
    assert store.claim(incident_id, "run-b") is False

    incident = store.incident(incident_id)
    assert incident is not None
    assert incident.status == IncidentStatus.TRIAGING
    assert incident.flow_run_id == "run-a"


def test_a_retry_of_the_same_flow_run_claims_again(store: Store) -> None:
    incident_id = _record(store).incident_id

    assert store.claim(incident_id, "run-a") is True
    assert store.claim(incident_id, "run-a") is True


def test_claiming_an_unknown_incident_fails(store: Store) -> None:
    assert store.claim("no-such-incident", "run-a") is False


def test_a_reopened_incident_can_be_claimed_by_a_new_run(store: Store) -> None:
    incident_id = _record(store).incident_id
    store.claim(incident_id, "run-a")
    store.set_status(incident_id, IncidentStatus.REOPENED, "new evidence", "reopen")

    assert store.claim(incident_id, "run-b") is True


def test_a_claim_is_on_the_timeline(store: Store) -> None:
    incident_id = _record(store).incident_id
    store.claim(incident_id, "run-a")
    store.claim(incident_id, "run-b")

    incident = store.incident(incident_id)
    assert incident is not None
    respond = [t for t in incident.timeline if t.step == "respond"]
    assert [t.data for t in respond] == [{"flow_run_id": "run-a"}]


# -- dispatch sweep ----------------------------------------------------------------------------------------


def test_undispatched_lists_new_incidents_without_a_flow_run(store: Store) -> None:
    first = _record(store).incident_id
    unrelated = {  # another host, another rule, no shared indicator: its own incident
        "class_uid": 2004,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Demo EDR"}},
        "finding_info": {"uid": "second", "title": "Unrelated finding"},
        "device": {"hostname": "WS-OTHER-01"},
    }
    second = _record(store, unrelated).incident_id

    assert store.undispatched() == [first, second]

    store.set_flow_run(first, "run-a")

    assert store.undispatched() == [second]
    incident = store.incident(first)
    assert incident is not None and incident.flow_run_id == "run-a"
    assert incident.timeline[-1].step == "dispatch"


def test_undispatched_waits_for_the_grace_period(store: Store) -> None:
    _record(store)

    assert store.undispatched(older_than_seconds=3600) == []


def test_incidents_past_new_are_not_undispatched(store: Store) -> None:
    incident_id = _record(store).incident_id
    store.set_status(incident_id, IncidentStatus.TRIAGING, "started", "respond")

    assert store.undispatched() == []


# -- verdicts and status -----------------------------------------------------------------------------------


def test_set_verdict_stores_label_score_and_reasons(store: Store) -> None:
    incident_id = _record(store).incident_id
    verdict = Verdict(
        verdict=VerdictLabel.MALICIOUS,
        score=90,
        reasons=[Reason(question="Why are we watching this indicator?", finding="listed", effect=50)],
    )

    store.set_verdict(incident_id, verdict)

    incident = store.incident(incident_id)
    assert incident is not None
    assert (incident.verdict, incident.score) == ("malicious", 90)
    assert incident.reasons == [
        {
            "question": "Why are we watching this indicator?",
            "finding": "listed",
            "effect": 50,
            "code": None,
            "params": {},
            "sources": [],
        }
    ]
    assert incident.timeline[-1].step == "classify"
    assert incident.timeline[-1].message == "verdict malicious (score 90)"


def test_closing_an_incident_sets_closed_at(store: Store) -> None:
    incident_id = _record(store).incident_id
    assert store.claim(incident_id, "run-a")

    store.set_status(incident_id, IncidentStatus.CLOSED, "closed by playbook", "close")

    incident = store.incident(incident_id)
    assert incident is not None
    assert incident.status == IncidentStatus.CLOSED
    assert incident.closed_at is not None and incident.closed_at.tzinfo is not None
    assert incident.contained_at is None
    assert incident.timeline[-1].message == "closed by playbook"


def test_containing_an_incident_sets_contained_at(store: Store) -> None:
    incident_id = _record(store).incident_id
    assert store.claim(incident_id, "run-a")
    store.set_status(incident_id, IncidentStatus.RESPONDING, "containment started", "act")

    store.set_status(incident_id, IncidentStatus.CONTAINED, "contained", "act")

    incident = store.incident(incident_id)
    assert incident is not None
    assert incident.contained_at is not None and incident.closed_at is None


def test_set_status_on_an_unknown_incident_raises(store: Store) -> None:
    with pytest.raises(Exception, match="No row"):
        store.set_status("no-such-incident", IncidentStatus.CLOSED, "x", "close")


# -- the action ledger -------------------------------------------------------------------------------------


def test_a_claim_writes_a_pending_entry(store: Store) -> None:
    incident_id = _record(store).incident_id

    entry = _begin(store, incident_id)

    assert entry.created is True
    assert entry.status == ActionStatusValue.PENDING
    incident = store.incident(incident_id)
    assert incident is not None
    [action] = incident.actions
    assert (action.key, action.target, action.status) == ("lab.isolate_host", "WS-FINANCE-07", "pending")
    assert action.inverse == "lab.release_host"
    assert action.idempotency_key == idempotency_key("demo", incident_id, "lab.isolate_host", "WS-FINANCE-07")


def test_a_second_claim_of_the_same_key_returns_the_first_entry(store: Store) -> None:
    incident_id = _record(store).incident_id

    first = _begin(store, incident_id)
    second = _begin(store, incident_id)

    assert second.created is False
    assert second.id == first.id
    incident = store.incident(incident_id)
    assert incident is not None and len(incident.actions) == 1


def test_a_repeated_begin_after_finishing_returns_the_outcome_and_undo(store: Store) -> None:
    incident_id = _record(store).incident_id
    entry = _begin(store, incident_id)
    store.ledger.finish(
        entry.id, "test", status=ActionStatusValue.SUCCEEDED, detail="done", undo={"data": "x"}
    )

    again = _begin(store, incident_id)

    assert (again.created, again.status, again.undo) == (False, "succeeded", {"data": "x"})


def test_another_target_is_another_ledger_entry(store: Store) -> None:
    incident_id = _record(store).incident_id

    first = _begin(store, incident_id, target="WS-FINANCE-07")
    second = _begin(store, incident_id, target="WS-FINANCE-08")

    assert second.created is True and second.id != first.id


def test_idempotency_keys_do_not_collide_on_joined_parts() -> None:
    assert idempotency_key("a", "b", "c.d", "e") != idempotency_key("a", "bc", ".d", "e")
    assert idempotency_key("demo", "i1", "lab.x", "t") == idempotency_key("demo", "i1", "lab.x", "t")


def test_finish_action_updates_the_status_and_adds_a_timeline_entry(store: Store) -> None:
    incident_id = _record(store).incident_id
    entry = _begin(store, incident_id)

    store.ledger.finish(
        entry.id, "test", status=ActionStatusValue.SUCCEEDED, detail="host isolated", vendor_ref="dev-1"
    )

    incident = store.incident(incident_id)
    assert incident is not None
    [action] = incident.actions
    assert (action.status, action.detail, action.vendor_ref) == ("succeeded", "host isolated", "dev-1")
    last = incident.timeline[-1]
    assert last.step == "act"
    assert last.message == "lab.isolate_host on WS-FINANCE-07: succeeded (host isolated)"
    assert last.data == {"action": "lab.isolate_host", "target": "WS-FINANCE-07", "status": "succeeded"}


def test_notifications_are_recorded_with_a_timeline_entry(store: Store) -> None:
    incident_id = _record(store).incident_id

    store.record_notification(
        incident_id=incident_id,
        tenant="demo",
        event="incident_report",
        language="en",
        target="outbox://…",
        subject="[Garrison] hello",
        body="body",
        status="delivered",
    )

    incident = store.incident(incident_id)
    assert incident is not None
    [note] = incident.notifications
    assert (note.event, note.target, note.status, note.subject) == (
        "incident_report",
        "outbox://…",
        "delivered",
        "[Garrison] hello",
    )
    assert incident.timeline[-1].message == "incident_report notification to outbox://…: delivered"


# -- the audit trail ---------------------------------------------------------------------------------------


def _audit_ids(store: Store) -> list[int]:
    with Session(store.engine) as session:
        return list(session.scalars(select(AuditRow.id).order_by(AuditRow.id)))


def _busy_store(store: Store) -> list[int]:
    """Some history: an alert, an action begun and finished, two status changes."""
    incident_id = _record(store).incident_id
    assert store.claim(incident_id, "run-a")
    store.set_status(incident_id, IncidentStatus.RESPONDING, "containment started", "act")
    entry = _begin(store, incident_id)
    store.ledger.finish(entry.id, "test", status=ActionStatusValue.SUCCEEDED, detail="host isolated")
    store.set_status(incident_id, IncidentStatus.CONTAINED, "contained", "act")
    ids = _audit_ids(store)
    assert len(ids) == 5
    return ids


def test_an_empty_audit_trail_is_intact(store: Store) -> None:
    assert store.verify_audit() is None


def test_an_untouched_audit_trail_is_intact(store: Store) -> None:
    _busy_store(store)

    assert store.verify_audit() is None


def test_a_duplicate_alert_or_begin_adds_no_audit_entry(store: Store) -> None:
    incident_id = _record(store).incident_id
    _begin(store, incident_id)
    before = _audit_ids(store)

    _record(store)
    _begin(store, incident_id, owner="another-worker")  # the key is held: nothing happens, nothing audited

    assert _audit_ids(store) == before


def test_editing_an_audit_row_is_detected_at_that_row(store: Store) -> None:
    ids = _busy_store(store)
    tampered = ids[1]

    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit SET data = :data WHERE id = :id"),
            {"data": '{"detail": "nothing"}', "id": tampered},
        )

    assert store.verify_audit() == tampered


def test_editing_the_first_row_is_detected(store: Store) -> None:
    ids = _busy_store(store)

    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit SET actor = 'someone' WHERE id = :id"), {"id": ids[0]})

    assert store.verify_audit() == ids[0]


def test_deleting_an_audit_row_is_detected_at_the_row_after_it(store: Store) -> None:
    ids = _busy_store(store)

    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit WHERE id = :id"), {"id": ids[1]})

    assert store.verify_audit() == ids[2]


def test_rewriting_a_row_with_a_fresh_hash_still_breaks_the_chain(store: Store) -> None:
    ids = _busy_store(store)

    with store.engine.begin() as connection:
        connection.execute(text("UPDATE audit SET hash = :h WHERE id = :id"), {"h": "f" * 64, "id": ids[1]})

    assert store.verify_audit() == ids[1]
