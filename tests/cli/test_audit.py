"""`garrison audit verify`: the hash chain holds, and an edited or deleted entry is named."""

from __future__ import annotations

import json

from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from flows.cli import app
from flows.demo import mykings_alert
from flows.models import Alert
from flows.settings import Settings
from flows.store import IncidentStatus, Store
from flows.store._schema import AuditRow

runner = CliRunner()


def _busy(store: Store) -> list[int]:
    for uid in ("a", "b", "c"):
        document = mykings_alert()
        document["finding_info"]["uid"] = f"audit-{uid}"
        document["device"]["hostname"] = f"WS-{uid}"
        receipt = store.record_alert(Alert.model_validate(document), document)
        store.set_status(receipt.incident_id, IncidentStatus.TRIAGING, "triaging", "test")
    with store.engine.connect() as conn:
        return list(conn.execute(select(AuditRow.id).order_by(AuditRow.id)).scalars())


def test_an_intact_trail_passes(settings: Settings, store: Store) -> None:
    ids = _busy(store)

    shown = runner.invoke(app, ["audit", "verify"])
    as_json = runner.invoke(app, ["audit", "verify", "--json"])

    assert shown.exit_code == 0 and f"intact: {len(ids)} entries" in shown.stdout
    assert json.loads(as_json.stdout)["intact"] is True


def test_an_edited_entry_is_named(settings: Settings, store: Store) -> None:
    ids = _busy(store)
    with store.engine.begin() as conn:
        conn.execute(update(AuditRow).where(AuditRow.id == ids[2]).values(subject="someone-else"))

    result = runner.invoke(app, ["audit", "verify", "--json"])

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["broken_at"] == ids[2] and "changed" in report["why"] and report["entries"] == 2


def test_a_deleted_entry_breaks_the_next_link(settings: Settings, store: Store) -> None:
    ids = _busy(store)
    with store.engine.begin() as conn:
        conn.execute(delete(AuditRow).where(AuditRow.id == ids[1]))

    result = runner.invoke(app, ["audit", "verify"])

    assert result.exit_code == 1
    assert f"broken at entry {ids[2]}" in result.output and "deleted or changed" in result.output
