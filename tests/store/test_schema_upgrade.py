"""A store made by an older Garrison gets the columns and indexes added since, and keeps its history."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import Engine

from flows.demo import DEMO_HOST, mykings_alert
from flows.intake._service import Intake
from flows.store import ActionStatusValue, IncidentStatus, Store, engine_for, idempotency_key
from flows.store._schema import ApprovalRow, Base, DeadLetterRow, EventRow, IncidentRow
from flows.store.migrations import VERSION_TABLE, head
from flows.tenants import Tenant
from flows.triage import StoreTelemetry
from tests._postgres import fresh_database

SEEN = datetime(2026, 11, 14, 9, 0, tzinfo=UTC)


def _old_events_table(metadata: MetaData) -> Table:
    """``events`` as Garrison created it before ``dst_ip``: one destination column, name or IP."""
    return Table(
        "events",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("tenant", String(64), nullable=False),
        Column("class_uid", Integer, nullable=False, index=True),
        Column("time", DateTime(timezone=True), nullable=False),
        Column("hostname", String(255)),
        Column("dst", String(2048)),
        Column("dst_port", Integer),
        Column("bytes_out", Integer),
        Column("bytes_in", Integer),
        Column("process_path", String(1024)),
        Column("parent_path", String(1024)),
        Column("document", JSON, nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Index("ix_events_tenant_dst", "tenant", "dst"),
        Index("ix_events_tenant_host_time", "tenant", "hostname", "time"),
    )


def _make_old_store(url: str) -> None:
    metadata = MetaData()
    table = _old_events_table(metadata)
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(table).values(
                tenant="acme",
                class_uid=4001,
                time=SEEN,
                hostname="WS-ACC-01",
                dst="203.0.113.45",
                dst_port=443,
                document={"class_uid": 4001, "dst_endpoint": {"ip": "203.0.113.45", "port": 443}},
                received_at=SEEN,
            )
        )
    engine.dispose()


def _check_upgraded(store: Store) -> None:
    inspector = inspect(store.engine)
    assert "dst_ip" in {column["name"] for column in inspector.get_columns("events")}
    assert {index["name"] for index in inspector.get_indexes("events")} >= {
        "ix_events_tenant_dst",
        "ix_events_tenant_dst_ip",
        "ix_events_tenant_host_time",
    }
    with store.engine.connect() as conn:  # the history is kept, and the old row has no dst_ip
        assert conn.execute(select(EventRow.dst, EventRow.dst_ip)).all() == [("203.0.113.45", None)]

    # New events go in with both identities; the old one is still found by its IP (in dst).
    new = {
        "class_uid": 4001,
        "time": int(SEEN.timestamp() * 1000) + 900_000,
        "device": {"hostname": "WS-ACC-01"},
        "dst_endpoint": {"ip": "203.0.113.45", "hostname": "upd.example.net", "port": 443},
    }
    report = Intake(store).accept_events(Tenant(id="acme", name="ACME"), [(1, new)])
    assert report.events_stored == 1 and not report.rejected
    telemetry = StoreTelemetry(store.engine)
    assert len(telemetry.to_destinations(["203.0.113.45"])) == 2
    assert len(telemetry.to_destinations(["upd.example.net"])) == 1

    engine_for.cache_clear()  # a second start (a new process) changes nothing, and does not fail
    again = Store.open(store.engine.url.render_as_string(hide_password=False))
    assert len(inspect(again.engine).get_columns("events")) == len(EventRow.__table__.columns)


def test_an_old_sqlite_events_table_gets_dst_ip_and_its_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _make_old_store(url)

    _check_upgraded(Store.open(url))


def test_an_old_postgres_events_table_gets_dst_ip_and_its_index(postgres_url: str) -> None:
    _make_old_store(postgres_url)

    _check_upgraded(Store.open(postgres_url))


# -- a whole store as commit 49b6c38 made it (tests/fixtures/store/ORIGIN.txt) --------------------------

OLD_COMMIT = "49b6c38"
OLD_SCHEMA = Path(__file__).parents[1] / "fixtures" / "store"
INCIDENT = "0d6f8a52-3c1e-4b7a-9e55-6a1f0c2b7d41"
AT = datetime(2026, 11, 21, 22, 40, tzinfo=UTC)


def _old_rows() -> dict[str, list[dict[str, Any]]]:
    """What a MyKings incident left in that store: contained, one host isolated, the C2 block in flight when
    its worker died (a PENDING row with a lapsed lease), the rows around it. Integer keys are left to the
    database, as Garrison left them (PostgreSQL's sequences must know them)."""
    first = mykings_alert()
    second = copy.deepcopy(first)
    second["finding_info"]["uid"] = "mykings-demo-0002"
    second["finding_info"]["title"] = "MyKings botnet: msiexec fetched helloworld.msi"
    isolate = idempotency_key("demo", INCIDENT, "lab.isolate_host", DEMO_HOST)
    block = idempotency_key("demo", INCIDENT, "lab.block_domain", "js.mykings.top")
    return {
        "incidents": [
            {
                "id": INCIDENT,
                "tenant": "demo",
                "title": first["finding_info"]["title"],
                "correlation_key": f"host:{DEMO_HOST.lower()}|rule:edr-rule-1042",
                "status": "contained",
                "severity_id": 4,
                "verdict": "malicious",
                "score": 92,
                "reasons": [
                    {"question": "intel", "finding": "js.mykings.top: MyKings C2 (feed)", "effect": 60}
                ],
                "hosts": [DEMO_HOST],
                "alert_count": 2,
                "flow_run_id": "8e1f3b7c-2a4d-4c1e-8f9a-0b6d5e4c3a21",
                "round": 1,
                "related_incident_id": None,
                "last_alert_at": AT + timedelta(minutes=3),
                "created_at": AT,
                "updated_at": AT + timedelta(minutes=9),
                "first_evidence_at": datetime(2017, 7, 23, 3, 14, tzinfo=UTC),
                "detected_at": AT - timedelta(minutes=1),
                "contained_at": AT + timedelta(minutes=9),
                "closed_at": None,
            }
        ],
        "alerts": [
            {
                "id": f"a1b2c3d4-0000-4000-8000-00000000000{n}",
                "tenant": "demo",
                "source": "Demo EDR",
                "source_uid": document["finding_info"]["uid"],
                "format": "ocsf",
                "title": document["finding_info"]["title"],
                "hostname": DEMO_HOST,
                "severity_id": 4,
                "detected_at": AT - timedelta(minutes=1),
                "received_at": AT + timedelta(minutes=3 * (n - 1)),
                "document": document,
                "raw": None,
                "incident_id": INCIDENT,
            }
            for n, document in ((1, first), (2, second))
        ],
        "indicators": [
            {
                "incident_id": INCIDENT,
                "type": "domain",
                "value": "js.mykings.top",
                "field": "evidences[0].dst_endpoint.hostname",
                "provenance": [{"source": "feed", "verdict": "malicious"}],
            },
            {
                "incident_id": INCIDENT,
                "type": "url",
                "value": "http://js.mykings.top:280/v.sct",
                "field": "evidences[0].url.url_string",
                "provenance": [],
            },
        ],  # fmt: skip
        "timeline": [
            {
                "incident_id": INCIDENT,
                "at": AT,
                "step": "intake",
                "message": "alert received",
                "data": {},
            },
            {
                "incident_id": INCIDENT,
                "at": AT + timedelta(minutes=1),
                "step": "triage",
                "message": "malicious (92)",
                "data": {"verdict": "malicious", "score": 92},
            },
            {
                "incident_id": INCIDENT,
                "at": AT + timedelta(minutes=9),
                "step": "respond",
                "message": f"lab.isolate_host on {DEMO_HOST}: succeeded",
                "data": {},
            },
        ],  # fmt: skip
        "actions": [
            {
                "idempotency_key": isolate,
                "tenant": "demo",
                "incident_id": INCIDENT,
                "action": "lab.isolate_host",
                "target": DEMO_HOST,
                "inputs": {"hostname": DEMO_HOST},
                "status": "succeeded",
                "detail": "host isolated",
                "vendor_ref": "lab-isolation-7",
                "inverse": "lab.release_host",
                "undo": {"hostname": DEMO_HOST},
                "created_at": AT + timedelta(minutes=8),
                "updated_at": AT + timedelta(minutes=9),
                "owner": None,
                "lease_until": None,
                "attempts": 1,
                "changed": True,
                "reverses": None,
                "round": 1,
            },
            {
                "idempotency_key": block,
                "tenant": "demo",
                "incident_id": INCIDENT,
                "action": "lab.block_domain",
                "target": "js.mykings.top",
                "inputs": {"domain": "js.mykings.top"},
                "status": "pending",
                "detail": "",
                "vendor_ref": None,
                "inverse": "lab.unblock_domain",
                "undo": {},
                "created_at": AT + timedelta(minutes=8),
                "updated_at": AT + timedelta(minutes=8),
                "owner": "respond-4242",
                "lease_until": AT + timedelta(minutes=8, seconds=30),
                "attempts": 1,
                "changed": None,
                "reverses": None,
                "round": 1,
            },
        ],  # fmt: skip
        "approvals": [
            {
                "tenant": "demo",
                "incident_id": INCIDENT,
                "action": "lab.isolate_host",
                "action_hash": "9" * 64,
                "target": DEMO_HOST,
                "approver": "alice",
                "requested_by": "garrison",
                "created_at": AT + timedelta(minutes=5),
                "expires_at": AT + timedelta(hours=1),
                "used_at": AT + timedelta(minutes=8),
                "used_by": 1,
            },
        ],  # fmt: skip
        "notifications": [
            {
                "incident_id": INCIDENT,
                "tenant": "demo",
                "event": "contained",
                "language": "ja",
                "target": "slack:#soc",
                "subject": "封じ込め完了",
                "body": f"{DEMO_HOST} を隔離しました。",
                "status": "delivered",
                "error": "",
                "created_at": AT + timedelta(minutes=9),
            },
        ],  # fmt: skip
        "correlation_keys": [
            {
                "tenant": "demo",
                "key": f"host:{DEMO_HOST.lower()}|rule:edr-rule-1042",
                "incident_id": INCIDENT,
                "last_seen": AT + timedelta(minutes=3),
            },
        ],  # fmt: skip
        "dead_letters": [
            {
                "at": AT,
                "tenant": "demo",
                "endpoint": "/v1/alerts",
                "status": 422,
                "reason": "finding_info.uid: missing",
                "body": b'{"class_uid": 2004}',
                "truncated": False,
            },
        ],  # fmt: skip
        "seen_signatures": [
            {"tenant": "demo", "signature": "ab" * 32, "expires_at": AT + timedelta(minutes=5)}
        ],
        "audit": _audit_chain(
            (AT, "intake", "alert.received", INCIDENT, {"alerts": 1}),
            (AT + timedelta(minutes=8), "respond", "action.pending", isolate, {"action": "lab.isolate_host"}),
            (AT + timedelta(minutes=9), "respond", "action.succeeded", isolate, {"changed": True}),
            (AT + timedelta(minutes=9), "respond", "action.pending", block, {"action": "lab.block_domain"}),
        ),
        "events": [
            {
                "tenant": "demo",
                "class_uid": 4003,
                "time": AT - timedelta(minutes=2),
                "hostname": DEMO_HOST,
                "dst": "js.mykings.top",
                "dst_port": 280,
                "bytes_out": 312,
                "bytes_in": 4096,
                "process_path": r"C:\Windows\System32\regsvr32.exe",
                "parent_path": r"C:\Windows\explorer.exe",
                "document": {"class_uid": 4003, "query": {"hostname": "js.mykings.top"}},
                "received_at": AT,
            },
        ],  # fmt: skip
    }


def _audit_chain(*entries: tuple[datetime, str, str, str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Audit rows hash-chained as that commit's flows/store/_audit.py chained them."""
    rows, prev_hash = [], "0" * 64
    for at, actor, event, subject, data in entries:
        link = [prev_hash, at.isoformat(), actor, event, subject, data]
        digest = hashlib.sha256(json.dumps(link, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        rows.append(
            {"at": at, "actor": actor, "event": event, "subject": subject, "data": data,
             "prev_hash": prev_hash, "hash": digest}
        )  # fmt: skip
        prev_hash = digest
    return rows


def _make_49b6c38_store(url: str) -> tuple[MetaData, dict[str, list[dict[str, Any]]]]:
    """The store that commit's create_all made, from its frozen DDL, with rows written as its SQLAlchemy did
    (types reflected from the database); returns the old tables and everything in them."""
    engine = create_engine(url)
    script = (OLD_SCHEMA / f"schema-{OLD_COMMIT}.{engine.dialect.name}.sql").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    with engine.begin() as connection:
        for statement in filter(None, (part.strip() for part in code.split(";"))):
            connection.exec_driver_sql(statement)
    old = MetaData()
    old.reflect(engine)
    with engine.begin() as connection:
        for name, rows in _old_rows().items():
            connection.execute(insert(old.tables[name]), rows)
    contents = _contents(engine, old)
    engine.dispose()
    return old, contents


def _contents(engine: Engine, tables: MetaData) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as connection:
        return {
            name: [
                dict(row) for row in connection.execute(select(table).order_by(*table.primary_key)).mappings()
            ]
            for name, table in tables.tables.items()
        }


def _check_49b6c38_store_upgraded(
    store: Store, old: MetaData, before: dict[str, list[dict[str, Any]]]
) -> None:
    assert {name: len(rows) for name, rows in before.items()} == {
        name: len(rows) for name, rows in _old_rows().items()
    }  # every row written was read back before the upgrade
    assert _contents(store.engine, old) == before  # every old row and column as it was

    with store.engine.connect() as connection:  # the schema is now today's, and says so
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert context.get_current_heads() == (head(),)
        assert compare_metadata(context, Base.metadata) == []
        added = (
            IncidentRow.retriage_reason, IncidentRow.decided_verdict, IncidentRow.run_ended_at,
            IncidentRow.techniques, ApprovalRow.round, DeadLetterRow.seq, EventRow.dst_ip, EventRow.host_key,
        )  # fmt: skip
        assert [connection.execute(select(column)).scalars().all() for column in added] == [[None]] * 8

    view = store.incident(INCIDENT)
    assert view is not None and view.status == "contained" and view.techniques == []
    assert [(a.key, a.status) for a in view.actions] == [
        ("lab.isolate_host", "succeeded"),
        ("lab.block_domain", "pending"),
    ]
    assert [n.subject for n in view.notifications] == ["封じ込め完了"]

    # The ledger goes on where the old one stopped: done stays done, the dead worker's row is resumed.
    ledger = store.ledger
    assert [row.action for row in ledger.stale(INCIDENT)] == ["lab.block_domain"]
    claim = {"tenant": "demo", "incident_id": INCIDENT, "owner": "respond-new", "lease_seconds": 60}
    isolate = {"action": "lab.isolate_host", "target": DEMO_HOST, "inputs": {"hostname": DEMO_HOST}}
    done = ledger.claim(**claim, **isolate, inverse="lab.release_host")
    assert (done.id, done.status, done.created, done.claimed) == (1, "succeeded", False, False)
    block = {"action": "lab.block_domain", "target": "js.mykings.top", "inputs": {"domain": "js.mykings.top"}}
    resumed = ledger.claim(**claim, **block, inverse="lab.unblock_domain")
    assert (resumed.id, resumed.claimed, resumed.resumed) == (2, True, True)
    assert ledger.finish(2, "respond-new", status=ActionStatusValue.SUCCEEDED, detail="domain blocked")

    # Features the old store never had: closing, a new response round (new ledger keys), per-tenant dead
    # letters, the audit chain.
    store.set_status(INCIDENT, IncidentStatus.CLOSED, "closed by playbook", "close")
    assert store.reopen(INCIDENT, "persistence is back") == 2
    again = ledger.claim(**claim, **isolate, inverse="lab.release_host", round=2)
    assert again.created and again.claimed and again.id > 2
    store.dead_letter(endpoint="/v1/alerts", status=413, reason="too large", body=b"x", tenant="demo")
    with store.engine.connect() as connection:
        assert connection.execute(select(DeadLetterRow.seq).order_by(DeadLetterRow.id)).scalars().all() == [
            None,
            1,
        ]
    assert store.verify_audit() is None


def test_a_sqlite_store_made_by_49b6c38_upgrades_with_its_data_intact(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'garrison.db'}"
    old, before = _make_49b6c38_store(url)

    _check_49b6c38_store_upgraded(Store.open(url), old, before)


def test_a_postgres_store_made_by_49b6c38_upgrades_with_its_data_intact(postgres_url: str) -> None:
    url = fresh_database(postgres_url, "old_49b6c38")
    old, before = _make_49b6c38_store(url)

    _check_49b6c38_store_upgraded(Store.open(url), old, before)
