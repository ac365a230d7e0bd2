"""Telemetry can move an incident's first evidence back in time, never forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import update

from flows.demo import mykings_alert
from flows.models import Alert
from flows.store import Store
from flows.store._schema import IncidentRow


def _incident(store: Store) -> tuple[str, datetime]:
    document = mykings_alert()
    receipt = store.record_alert(Alert.model_validate(document), document)
    view = store.incident(receipt.incident_id)
    assert view is not None and view.first_evidence_at is not None  # the alert's own time, at intake
    return receipt.incident_id, view.first_evidence_at.replace(tzinfo=UTC)


def _first(store: Store, incident_id: str) -> datetime | None:
    view = store.incident(incident_id)
    assert view is not None
    moment = view.first_evidence_at
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


def test_an_earlier_moment_moves_the_first_evidence_back(store: Store) -> None:
    incident_id, detected = _incident(store)
    earlier = detected - timedelta(days=2, minutes=7)

    store.note_first_evidence(incident_id, earlier)

    assert _first(store, incident_id) == earlier


def test_a_later_moment_changes_nothing(store: Store) -> None:
    incident_id, detected = _incident(store)

    store.note_first_evidence(incident_id, detected + timedelta(hours=1))

    assert _first(store, incident_id) == detected


def test_moments_compare_across_time_zones_and_naive_is_utc(store: Store) -> None:
    incident_id, detected = _incident(store)
    earlier = detected - timedelta(hours=3)
    # The same instant written in UTC+02:00 is earlier; a naive one is read as UTC.
    store.note_first_evidence(incident_id, earlier.astimezone(timezone(timedelta(hours=2))))
    assert _first(store, incident_id) == earlier

    store.note_first_evidence(incident_id, (earlier + timedelta(minutes=1)).replace(tzinfo=None))
    assert _first(store, incident_id) == earlier
    store.note_first_evidence(incident_id, (earlier - timedelta(minutes=1)).replace(tzinfo=None))
    assert _first(store, incident_id) == earlier - timedelta(minutes=1)


def test_an_incident_without_first_evidence_takes_the_moment(store: Store) -> None:
    incident_id, _ = _incident(store)
    with store.engine.begin() as conn:
        conn.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(first_evidence_at=None))
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    store.note_first_evidence(incident_id, moment)

    assert _first(store, incident_id) == moment
