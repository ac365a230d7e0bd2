"""The incident lifecycle: every allowed status change works through the store, every other one is refused
and changes nothing, and the table has no dead end."""

from __future__ import annotations

import re
from collections import deque
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import flows.store
from flows.demo import mykings_alert
from flows.models import Alert, VerdictLabel
from flows.store import (
    ALLOWED_TRANSITIONS,
    GroupingRules,
    IllegalTransition,
    IncidentStatus,
    IncomingAlert,
    Outcome,
    Store,
    may_become,
)
from flows.store._lifecycle import __doc__ as LIFECYCLE_DOC
from flows.store._schema import AuditRow, IncidentRow, TimelineRow

S = IncidentStatus
ALLOWED = sorted((current, wanted) for current, targets in ALLOWED_TRANSITIONS.items() for wanted in targets)
# Changes the lifecycle must refuse, whatever else it allows: nothing leaves closed but a reopening, nothing
# is contained without a response, nothing is closed before triage or in the middle of containment, and
# nothing goes back to new.
ILLEGAL = [
    (S.CLOSED, S.RESPONDING),
    (S.CLOSED, S.CONTAINED),
    (S.CLOSED, S.TRIAGING),
    (S.CLOSED, S.AWAITING_APPROVAL),
    (S.CLOSED, S.NEW),
    (S.NEW, S.CONTAINED),
    (S.NEW, S.RESPONDING),
    (S.NEW, S.CLOSED),
    (S.NEW, S.REOPENED),
    (S.TRIAGING, S.CONTAINED),
    (S.TRIAGING, S.NEW),
    (S.RESPONDING, S.CLOSED),
    (S.CONTAINED, S.TRIAGING),
    (S.CONTAINED, S.NEW),
    (S.AWAITING_APPROVAL, S.NEW),
    (S.REOPENED, S.CONTAINED),
    (S.REOPENED, S.RESPONDING),
    (S.REOPENED, S.CLOSED),
]


def _path(to: IncidentStatus) -> list[IncidentStatus]:
    """The shortest way from new to ``to`` that the table allows (new itself excluded)."""
    came_from: dict[IncidentStatus, IncidentStatus] = {}
    queue = deque([S.NEW])
    while queue:
        current = queue.popleft()
        if current is to:
            break
        for wanted in sorted(ALLOWED_TRANSITIONS[current]):
            if wanted not in came_from and wanted is not S.NEW:
                came_from[wanted] = current
                queue.append(wanted)
    steps: list[IncidentStatus] = []
    while to is not S.NEW:
        steps.append(to)
        to = came_from[to]
    return steps[::-1]


def _incident(store: Store, status: IncidentStatus) -> str:
    """A real incident (the MyKings alert) walked from new to ``status`` through ``set_status``."""
    document = mykings_alert()
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    for step in _path(status):
        store.set_status(incident_id, step, f"now {step}", "test")
    return incident_id


def _row(store: Store, incident_id: str) -> dict[str, Any]:
    with Session(store.engine) as session:
        row = session.get_one(IncidentRow, incident_id)
        timeline = session.scalar(
            select(func.count()).select_from(TimelineRow).where(TimelineRow.incident_id == incident_id)
        )
        audit = session.scalar(select(func.count()).select_from(AuditRow))
        return {
            "status": row.status,
            "round": row.round,
            "flow_run_id": row.flow_run_id,
            "contained_at": row.contained_at,
            "closed_at": row.closed_at,
            "updated_at": row.updated_at,
            "verdict": row.verdict,
            "timeline": timeline,
            "audit": audit,
        }


def _audit_events(store: Store, incident_id: str) -> list[str]:
    with Session(store.engine) as session:
        query = select(AuditRow.event).where(AuditRow.subject == incident_id).order_by(AuditRow.id)
        return list(session.scalars(query))


# -- the table ---------------------------------------------------------------------------------------------


def test_the_table_names_every_status_and_only_statuses() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(IncidentStatus)
    for current, targets in ALLOWED_TRANSITIONS.items():
        assert targets <= set(IncidentStatus)
        assert current not in targets  # keeping a status is not a transition; it is always allowed


def test_every_status_but_closed_can_reach_closed_and_closed_only_reopens() -> None:
    def reachable(start: IncidentStatus) -> set[IncidentStatus]:
        seen, queue = set(), deque([start])
        while queue:
            for wanted in ALLOWED_TRANSITIONS[queue.popleft()]:
                if wanted not in seen:
                    seen.add(wanted)
                    queue.append(wanted)
        return seen

    for status in IncidentStatus:
        assert S.CLOSED in reachable(status), f"{status} can never be closed"
    assert ALLOWED_TRANSITIONS[S.CLOSED] == {S.REOPENED}
    assert reachable(S.NEW) == set(IncidentStatus) - {S.NEW}  # every status is lived; none returns to new
    assert all(S.NEW not in targets for targets in ALLOWED_TRANSITIONS.values())


def test_the_lifecycle_as_analysts_read_it_is_the_table() -> None:
    assert LIFECYCLE_DOC is not None
    written = {}
    for line in LIFECYCLE_DOC.splitlines():
        match = re.fullmatch(r"\s+([a-z_]+)\s{2,}([a-z_, ]+)", line)
        if match and match[1] in set(IncidentStatus):
            written[S(match[1])] = {S(name) for name in match[2].split(", ")}

    assert written == {current: set(targets) for current, targets in ALLOWED_TRANSITIONS.items()}


@pytest.mark.parametrize(("current", "wanted"), ILLEGAL, ids=lambda s: str(s))
def test_the_illegal_changes_are_not_in_the_table(current: IncidentStatus, wanted: IncidentStatus) -> None:
    assert not may_become(current, wanted)


def test_keeping_a_status_is_always_allowed_and_an_unknown_status_goes_nowhere() -> None:
    assert all(may_become(status, status) for status in IncidentStatus)
    assert not may_become("archived", S.CLOSED)  # a row written by hand: the lifecycle does not know it
    assert not may_become(S.CLOSED, "archived")


def test_the_lifecycle_is_public() -> None:
    assert {"ALLOWED_TRANSITIONS", "IllegalTransition", "may_become"} <= set(flows.store.__all__)
    assert issubclass(IllegalTransition, ValueError)


# -- through the store -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "wanted"), ALLOWED, ids=lambda s: str(s))
def test_every_allowed_change_goes_through_set_status(
    store: Store, current: IncidentStatus, wanted: IncidentStatus
) -> None:
    incident_id = _incident(store, current)
    before = _row(store, incident_id)
    assert before["status"] == current

    store.set_status(incident_id, wanted, f"from {current} to {wanted}", "test")

    after = _row(store, incident_id)
    assert after["status"] == wanted
    assert after["timeline"] == before["timeline"] + 1
    assert _audit_events(store, incident_id)[-1] == f"incident.{wanted}"
    view = store.incident(incident_id)
    assert view is not None
    last = view.timeline[-1]
    assert (last.step, last.message, last.data) == ("test", f"from {current} to {wanted}", {"status": wanted})
    if wanted is S.CONTAINED:
        assert view.contained_at is not None and view.contained_at.tzinfo is not None
    else:
        assert after["contained_at"] == before["contained_at"]
    if wanted is S.CLOSED:
        assert view.closed_at is not None and view.closed_at.tzinfo is not None
    else:
        assert after["closed_at"] == before["closed_at"]


@pytest.mark.parametrize(("current", "wanted"), ILLEGAL, ids=lambda s: str(s))
def test_an_illegal_change_raises_and_leaves_the_incident_as_it_was(
    store: Store, current: IncidentStatus, wanted: IncidentStatus
) -> None:
    incident_id = _incident(store, current)
    before = _row(store, incident_id)

    with pytest.raises(IllegalTransition) as raised:
        store.set_status(incident_id, wanted, "should not happen", "test")

    message = str(raised.value)
    assert message == f"incident {incident_id}: status may not go from {current} to {wanted}"
    assert "\n" not in message
    assert (raised.value.incident_id, raised.value.current, raised.value.wanted) == (
        incident_id,
        current,
        wanted,
    )
    assert _row(store, incident_id) == before


@pytest.mark.parametrize("status", list(IncidentStatus), ids=str)
def test_keeping_the_status_only_adds_the_note(store: Store, status: IncidentStatus) -> None:
    incident_id = _incident(store, status)
    before = _row(store, incident_id)

    store.set_status(incident_id, status, "still the same", "test")

    after = _row(store, incident_id)
    assert after["timeline"] == before["timeline"] + 1
    # When it was first contained or closed stays; nothing changed, so nothing is audited.
    assert {k: v for k, v in after.items() if k != "timeline"} == {
        k: v for k, v in before.items() if k != "timeline"
    }
    view = store.incident(incident_id)
    assert view is not None and view.timeline[-1].message == "still the same"


def test_a_status_written_by_hand_is_refused(store: Store) -> None:
    incident_id = _incident(store, S.TRIAGING)
    with Session(store.engine) as session, session.begin():
        session.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(status="archived"))

    with pytest.raises(IllegalTransition, match="from archived to closed"):
        store.set_status(incident_id, S.CLOSED, "closed", "close")


# -- the store's other status writes obey the same table ---------------------------------------------------


def test_a_claim_takes_new_and_reopened_incidents_and_a_retry_only_where_triage_may_resume(
    store: Store,
) -> None:
    incident_id = _incident(store, S.NEW)
    assert store.claim(incident_id, "run-1")
    store.set_status(incident_id, S.RESPONDING, "containment started", "act")

    # The same run, retried after it crashed mid-containment, starts over at triage.
    assert store.claim(incident_id, "run-1")
    assert _row(store, incident_id)["status"] == S.TRIAGING
    assert not store.claim(incident_id, "run-2")

    store.set_status(incident_id, S.RESPONDING, "containment started", "act")
    store.set_status(incident_id, S.CONTAINED, "1 action(s) in place", "act")
    before = _row(store, incident_id)
    # A rerun of the run that contained it does not triage it again (contained may not become triaging).
    assert not store.claim(incident_id, "run-1")
    assert _row(store, incident_id) == before

    store.set_status(incident_id, S.CLOSED, "closed by playbook", "close")
    assert not store.claim(incident_id, "run-1")
    assert _row(store, incident_id)["status"] == S.CLOSED


def test_a_decision_for_an_incident_closed_meanwhile_is_refused_and_recorded_nowhere(store: Store) -> None:
    incident_id = _incident(store, S.NEW)
    assert store.claim(incident_id, "run-1")
    store.set_status(incident_id, S.AWAITING_APPROVAL, "gray verdict", "escalate")
    # The escalation chain's default closed it while the run waited for the analyst.
    store.set_status(incident_id, S.CLOSED, "no analyst decided", "escalation")
    before = _row(store, incident_id)

    with pytest.raises(IllegalTransition, match="from closed to triaging"):
        store.record_decision(incident_id, VerdictLabel.MALICIOUS, "alice", "it is bad", 30.0)

    assert _row(store, incident_id) == before


def test_an_incident_lives_its_whole_life_through_the_store(store: Store) -> None:
    """Opened by an alert, contained after a held action was confirmed, closed; a related alert reopens it,
    an analyst decides the gray second round, and the third round closes it."""
    document = mykings_alert()
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    assert store.claim(incident_id, "run-1")
    store.set_status(incident_id, S.RESPONDING, "containment started", "act")
    store.set_status(incident_id, S.AWAITING_APPROVAL, "1 action(s) not confirmed by the vendor yet", "act")
    store.set_status(incident_id, S.CONTAINED, "1 action(s) in place", "act")  # reconcile: confirmed late
    store.set_status(incident_id, S.CLOSED, "closed by playbook", "close")
    assert store.end_run(incident_id) is None

    again = mykings_alert()
    again["finding_info"]["uid"] = "mykings-again"
    [accepted] = store.ingest([IncomingAlert(Alert.model_validate(again), again)], GroupingRules())
    assert (accepted.outcome, accepted.incident_id) == (Outcome.REOPENED, incident_id)
    assert store.claim(incident_id, "run-2")
    store.set_status(incident_id, S.AWAITING_APPROVAL, "gray verdict - an analyst decides", "escalate")
    store.end_run(incident_id)
    said = store.decide_waiting(incident_id, "benign", "alice", "lab traffic")
    assert said.endswith("new response round 3")
    assert store.claim(incident_id, "run-3")
    store.set_status(incident_id, S.CLOSED, "closed by playbook", "close")

    view = store.incident(incident_id)
    assert view is not None and (view.status, view.round) == (S.CLOSED, 3)
    lived = [t.data["status"] for t in view.timeline if "status" in t.data]
    assert lived == ["responding", "awaiting_approval", "contained", "closed", "awaiting_approval", "closed"]
