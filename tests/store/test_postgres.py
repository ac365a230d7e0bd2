"""The store on PostgreSQL (``GARRISON_DATABASE_URL``), against a throwaway server started here.

Skipped where no PostgreSQL server binaries are installed; CI's machine has them.
"""

from __future__ import annotations

import asyncio

from actions import ActionContext, registry
from actions.lab import LabFleet
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.models import Alert, Reason, Verdict, VerdictLabel
from flows.store import ActionStatusValue, IncidentStatus, Store


def test_an_incident_lives_its_whole_life_on_postgres(postgres_url: str) -> None:
    store = Store.open(postgres_url)
    document = mykings_alert()
    receipt = store.record_alert(Alert.model_validate(document), document)
    again = store.record_alert(Alert.model_validate(document), document)

    assert again.duplicate and again.incident_id == receipt.incident_id
    assert store.claim(receipt.incident_id, "run-1") and not store.claim(receipt.incident_id, "run-2")
    store.set_verdict(
        receipt.incident_id,
        Verdict(
            verdict=VerdictLabel.MALICIOUS, score=90, reasons=[Reason(question="q", finding="f", effect=90)]
        ),
    )
    first = store.ledger.claim(
        tenant="demo",
        incident_id=receipt.incident_id,
        action="lab.isolate_host",
        target=DEMO_HOST,
        inputs={"hostname": DEMO_HOST},
        inverse="lab.release_host",
        owner="test",
        lease_seconds=60,
    )
    second = store.ledger.claim(
        tenant="demo",
        incident_id=receipt.incident_id,
        action="lab.isolate_host",
        target=DEMO_HOST,
        inputs={"hostname": DEMO_HOST},
        inverse="lab.release_host",
        owner="test",
        lease_seconds=60,
    )
    assert first.created and not second.created and first.id == second.id
    store.ledger.finish(first.id, "test", status=ActionStatusValue.SUCCEEDED, detail="host isolated")
    store.set_status(receipt.incident_id, IncidentStatus.CLOSED, "done", "close")

    incident = store.incident(receipt.incident_id)
    assert incident is not None and incident.status == "closed" and incident.closed_at is not None
    assert incident.closed_at.tzinfo is not None
    assert [a.status for a in incident.actions] == ["succeeded"]
    assert {i.value for i in incident.indicators} >= {"js.mykings.top"}
    assert store.verify_audit() is None


def test_lab_actions_change_rows_on_postgres(postgres_url: str) -> None:
    store = Store.open(postgres_url)
    fleet = LabFleet(store.engine)
    fleet.seed(mykings_host())
    ctx = ActionContext(tenant="demo", incident_id="pg", db=store.engine)

    isolated = asyncio.run(registry.get("lab.isolate_host").run({"hostname": DEMO_HOST}, ctx))

    assert isolated.ok and fleet.show("demo", DEMO_HOST)[0]["isolated"] is True
