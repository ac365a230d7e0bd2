"""The demo's lab reset: the host is back as it was, and earlier demo incidents waiting for a person end."""

from __future__ import annotations

from actions.lab import LabFleet
from flows.demo import DEMO_HOST, mykings_alert, reset_demo
from flows.models import Alert
from flows.store import IncidentStatus, Store


def _incident(store: Store, status: IncidentStatus) -> str:
    document = mykings_alert()
    document["finding_info"]["uid"] = f"demo-{status}"
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    assert store.claim(incident_id, f"run-{status}")
    if status is IncidentStatus.CONTAINED:  # only a response contains an incident
        store.set_status(incident_id, IncidentStatus.RESPONDING, "containment started", "test")
    store.set_status(incident_id, status, f"now {status}", "test")
    return incident_id


def test_reset_closes_only_demo_incidents_whose_run_has_ended(store: Store) -> None:
    contained = _incident(store, IncidentStatus.CONTAINED)

    closed = reset_demo(store)

    assert closed == [contained]
    incident = store.incident(contained)
    assert incident is not None and incident.status == "closed"
    assert incident.timeline[-1].message == "closed: the demo lab host was reset"
    host = LabFleet(store.engine).show("demo", DEMO_HOST)[0]
    assert host["isolated"] is False and {"start", "start1"} <= {v["name"] for v in host["registry_values"]}


def test_reset_leaves_an_incident_whose_run_is_at_work(store: Store) -> None:
    triaging = _incident(store, IncidentStatus.TRIAGING)

    assert reset_demo(store) == []
    incident = store.incident(triaging)
    assert incident is not None and incident.status == "triaging"
