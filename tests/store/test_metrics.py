"""``incident_metrics``: MTTD, MTTA, MTTR, the waits for people, counts and reopen rate, over a history made
through the Store API on a controlled clock, against figures worked out by hand below."""

from __future__ import annotations

import doctest
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import flows.store._metrics
from flows.models import Alert, Verdict, VerdictLabel
from flows.store import IncidentStatus, Spread, Store, engine_for, incident_metrics
from flows.store._metrics import percentile
from flows.store._schema import Base, IncidentRow, TimelineRow

S = IncidentStatus
T = TypeVar("T")
MIN = 60.0
HOUR = 3600.0


class Clock:
    """The store's clock, set by the test: ``utcnow`` of the modules that stamp moments, and the ``at`` of
    every timeline line a call writes (its column default reads the wall clock)."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.store, self.now = store, datetime(2024, 5, 1, tzinfo=UTC)
        for module in ("_store", "_decisions", "_retriage", "_approvals"):
            monkeypatch.setattr(f"flows.store.{module}.utcnow", lambda: self.now)

    def at(self, when: datetime, call: Callable[[], T]) -> T:
        self.now = when
        with Session(self.store.engine) as session:
            before = session.scalar(select(func.max(TimelineRow.id))) or 0
        result = call()
        with Session(self.store.engine) as session, session.begin():
            session.execute(update(TimelineRow).where(TimelineRow.id > before).values(at=when))
        return result

    def receive(self, when: datetime, tenant: str, host: str, evidence: datetime | None) -> str:
        """One alert received at ``when`` (the intake stamps the wall clock: moved to ``when``), which
        carries the sensor's detection time ``evidence`` (None: the alert has no time)."""
        document: dict[str, Any] = {
            "class_uid": 2004,
            "metadata": {"tenant_uid": tenant, "product": {"name": "EDR"}, "uid": host},
            "finding_info": {"uid": host, "title": f"Suspicious on {host}", "analytic": {"uid": "rule-7"}},
            "device": {"hostname": host},
        }
        if evidence is not None:
            document["time"] = int(evidence.timestamp() * 1000)
        incident_id = self.at(when, lambda: self.store.record_alert(Alert.model_validate(document), document))
        with Session(self.store.engine) as session, session.begin():
            row = session.get_one(IncidentRow, incident_id.incident_id)
            if evidence is None:  # the intake took its receipt as the detection
                row.detected_at = row.first_evidence_at = when
            row.created_at = row.updated_at = when
        return incident_id.incident_id


def _verdict(label: VerdictLabel) -> Verdict:
    return Verdict(verdict=label, score=50)


def _history(store: Store, clock: Clock) -> dict[str, str]:
    """Five incidents; every moment is minutes after the alert was received (R)."""
    ids: dict[str, str] = {}
    m = timedelta(minutes=1)

    # A: evidence 2 h before R (telemetry moved it back from the sensor's 1 h); triage decides malicious
    # at R+3m, contained at R+10m, closed.
    r = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    a = ids["A"] = clock.receive(r, "acme", "WS-A", evidence=r - timedelta(hours=1))
    store.note_first_evidence(a, r - timedelta(hours=2))
    clock.at(r + 1 * m, lambda: store.claim(a, "run-a"))
    clock.at(r + 3 * m, lambda: store.set_verdict(a, _verdict(VerdictLabel.MALICIOUS)))
    clock.at(r + 4 * m, lambda: store.set_status(a, S.RESPONDING, "containment started", "act"))
    clock.at(r + 10 * m, lambda: store.set_status(a, S.CONTAINED, "1 action(s) in place", "act"))
    clock.at(r + 12 * m, lambda: store.set_status(a, S.CLOSED, "closed by playbook", "close"))

    # B: evidence 30 min before R; gray at R+2m, waits (its run paused at R+2m30s), alice decides malicious
    # at R+22m after 1170 s; contained at R+33m.
    r = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
    b = ids["B"] = clock.receive(r, "acme", "WS-B", evidence=r - timedelta(minutes=30))
    clock.at(r + 1 * m, lambda: store.claim(b, "run-b"))
    clock.at(r + 2 * m, lambda: store.set_verdict(b, _verdict(VerdictLabel.SUSPICIOUS)))
    clock.at(r + 2 * m, lambda: store.set_status(b, S.AWAITING_APPROVAL, "gray verdict", "decision"))
    clock.at(r + 22 * m, lambda: store.record_decision(b, VerdictLabel.MALICIOUS, "alice", "", 1170.0))
    clock.at(r + 23 * m, lambda: store.set_status(b, S.RESPONDING, "containment started", "act"))
    clock.at(r + 33 * m, lambda: store.set_status(b, S.CONTAINED, "1 action(s) in place", "act"))

    # C: the alert has no time (no evidence moment); benign at R+2m, closed.
    r = datetime(2024, 5, 3, 8, 0, tzinfo=UTC)
    c = ids["C"] = clock.receive(r, "acme", "WS-C", evidence=None)
    clock.at(r + 1 * m, lambda: store.claim(c, "run-c"))
    clock.at(r + 2 * m, lambda: store.set_verdict(c, _verdict(VerdictLabel.BENIGN)))
    clock.at(r + 3 * m, lambda: store.set_status(c, S.CLOSED, "closed by playbook", "close"))

    # D: evidence 10 min before R; gray at R+2m, its run ends at R+3m (no run waits); bob escalates at
    # R+33m (waited 30 min), alice decides benign at R+63m (waited 60 min, from the same run end): a new
    # round, claimed at R+64m and closed at R+65m.
    r = datetime(2024, 5, 4, 8, 0, tzinfo=UTC)
    d = ids["D"] = clock.receive(r, "acme", "WS-D", evidence=r - timedelta(minutes=10))
    clock.at(r + 1 * m, lambda: store.claim(d, "run-d"))
    clock.at(r + 2 * m, lambda: store.set_verdict(d, _verdict(VerdictLabel.SUSPICIOUS)))
    clock.at(r + 2 * m, lambda: store.set_status(d, S.AWAITING_APPROVAL, "gray verdict", "decision"))
    clock.at(r + 3 * m, lambda: store.end_run(d))
    clock.at(r + 33 * m, lambda: store.decide_waiting(d, "escalate", "bob", "not mine"))
    clock.at(r + 63 * m, lambda: store.decide_waiting(d, "benign", "alice", "the admin's script"))
    clock.at(r + 64 * m, lambda: store.claim(d, "run-d2"))
    clock.at(r + 65 * m, lambda: store.set_status(d, S.CLOSED, "closed by playbook", "close"))

    # E, another tenant: evidence 5 h before R, not yet taken by a run.
    r = datetime(2024, 5, 5, 8, 0, tzinfo=UTC)
    ids["E"] = clock.receive(r, "beta", "WS-E", evidence=r - timedelta(hours=5))
    return ids


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, store: Store) -> Store:
    """The store on each database Garrison runs on: the spans are computed by the database."""
    if request.param == "sqlite":
        return store
    engine = engine_for(request.getfixturevalue("postgres_url"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    return Store(engine)


@pytest.fixture
def history(backend: Store, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return _history(backend, Clock(backend, monkeypatch))


def test_figures_match_the_hand_computed_ones(backend: Store, history: dict[str, str]) -> None:
    store = backend
    found = incident_metrics(store.engine)

    assert [t.tenant for t in found.tenants] == ["acme", "beta"]
    acme, beta = found.tenants
    assert acme.incidents == 4
    # MTTD: A 2 h, B 30 min, C none (no evidence time), D 10 min -> [10m, 30m, 2h]; nearest rank with n=3:
    # p50 is the 2nd (ceil 1.5), p90 the 3rd (ceil 2.7).
    assert acme.mttd == Spread(count=3, p50=30 * MIN, p90=2 * HOUR)
    # MTTA: A 3m (malicious), B 22m (gray: alice's decision), C 2m (benign), D 33m (gray: bob's
    # escalation) -> [2m, 3m, 22m, 33m]; n=4: p50 the 2nd (ceil 2), p90 the 4th (ceil 3.6).
    assert acme.mtta == Spread(count=4, p50=3 * MIN, p90=33 * MIN)
    # MTTR: A 10m, B 33m; C and D were never contained -> n=2: p50 the 1st (ceil 1), p90 the 2nd.
    assert acme.mttr == Spread(count=2, p50=10 * MIN, p90=33 * MIN)
    # Waited for an analyst: B 1170 s; D 30 min and 60 min ending at R+33m and R+63m, both from R+3m:
    # together R+3m..R+63m = 60 min (not 90).
    assert acme.waited_for_analyst == Spread(count=2, p50=1170.0, p90=60 * MIN)
    # In awaiting_approval: B R+2m..R+22m = 20 min; D R+2m..R+63m (its new round) = 61 min.
    assert acme.awaiting_approval == Spread(count=2, p50=20 * MIN, p90=61 * MIN)
    assert acme.by_verdict == {"malicious": 2, "benign": 2}
    assert acme.by_status == {"closed": 3, "contained": 1}
    assert (acme.reopened, acme.reopen_rate) == (1, 0.25)

    assert beta.incidents == 1
    assert beta.mttd == Spread(count=1, p50=5 * HOUR, p90=5 * HOUR)
    assert beta.mtta == beta.mttr == beta.waited_for_analyst == Spread(count=0, p50=None, p90=None)
    assert (beta.by_verdict, beta.by_status, beta.reopen_rate) == ({"none": 1}, {"new": 1}, 0.0)


def test_tenant_and_since_choose_the_incidents(backend: Store, history: dict[str, str]) -> None:
    store = backend
    only_beta = incident_metrics(store.engine, tenant="beta")
    assert [t.tenant for t in only_beta.tenants] == ["beta"]

    # From May 3rd on: C and D of acme (a naive moment is UTC).
    recent = incident_metrics(store.engine, tenant="acme", since=datetime(2024, 5, 3))
    [acme] = recent.tenants
    assert acme.incidents == 2
    assert acme.mttd == Spread(count=1, p50=10 * MIN, p90=10 * MIN)
    assert acme.mtta == Spread(count=2, p50=2 * MIN, p90=33 * MIN)
    assert acme.mttr.count == 0
    assert recent.since == datetime(2024, 5, 3, tzinfo=UTC)

    # An aware moment in another zone: 2024-05-04 09:30+02:00 is 07:30 UTC, before D's 08:00.
    later = datetime(2024, 5, 4, 9, 30, tzinfo=ZoneInfo("Europe/Paris"))
    assert incident_metrics(store.engine, since=later).tenants[0].incidents == 1  # D (acme)
    assert incident_metrics(store.engine, tenant="nobody").tenants == []


def test_a_wait_still_going_on_is_not_counted_but_its_status_is(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(store, monkeypatch)
    r = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    waiting = clock.receive(r, "acme", "WS-W", evidence=r - timedelta(minutes=5))
    clock.at(r + timedelta(minutes=1), lambda: store.claim(waiting, "run-w"))
    clock.at(r + timedelta(minutes=2), lambda: store.set_verdict(waiting, _verdict(VerdictLabel.SUSPICIOUS)))
    clock.at(
        r + timedelta(minutes=2),
        lambda: store.set_status(waiting, S.AWAITING_APPROVAL, "gray verdict", "decision"),
    )

    [acme] = incident_metrics(store.engine).tenants

    assert acme.awaiting_approval.count == 0 and acme.mtta.count == 0  # no one has decided yet
    assert acme.by_status == {"awaiting_approval": 1} and acme.by_verdict == {"suspicious": 1}


def test_hostile_timeline_data_is_ignored_not_trusted(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines whose data merely look like status changes or decisions (a ledger row's status, a note with
    text where a number belongs) move nothing; a first evidence after the receipt is left out."""
    clock = Clock(store, monkeypatch)
    r = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    incident = clock.receive(r, "acme", "WS-H", evidence=r + timedelta(minutes=5))  # sensor clock ahead
    clock.at(r + timedelta(minutes=1), lambda: store.claim(incident, "run-h"))
    clock.at(
        r + timedelta(minutes=2),
        lambda: store.add_timeline(incident, "act", "isolate on WS-H: pending", {"status": "pending"}),
    )
    clock.at(
        r + timedelta(minutes=3),
        lambda: store.add_timeline(incident, "classify", "triage features", {"verdict": "evil"}),
    )

    [acme] = incident_metrics(store.engine).tenants

    assert acme.mttd.count == 0 and acme.mtta.count == 0 and acme.awaiting_approval.count == 0


@pytest.mark.parametrize(
    ("spans", "p", "expected"),
    [
        ([], 50, None),
        ([5.0], 90, 5.0),
        ([1.0, 2.0], 50, 1.0),
        ([1.0, 2.0], 90, 2.0),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.0),
        ([float(n) for n in range(1, 11)], 90, 9.0),
        ([float(n) for n in range(1, 12)], 90, 10.0),
    ],
)
def test_percentiles_are_nearest_rank(spans: list[float], p: float, expected: float | None) -> None:
    assert percentile(spans, p) == expected


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(flows.store._metrics).failed == 0


def test_rows_written_by_hand_with_unknown_statuses_are_counted_as_they_are(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(store, monkeypatch)
    incident = clock.receive(datetime(2024, 6, 1, tzinfo=UTC), "acme", "WS-X", evidence=None)
    with Session(store.engine) as session, session.begin():
        session.execute(update(IncidentRow).where(IncidentRow.id == incident).values(status="limbo"))

    [acme] = incident_metrics(store.engine).tenants

    assert acme.by_status == {"limbo": 1} and acme.reopened == 0
