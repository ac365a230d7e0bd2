"""A store made by an older Garrison gets the columns and indexes added since, and keeps its history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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

from flows.intake._service import Intake
from flows.store import Store
from flows.store._schema import Base, EventRow
from flows.tenants import Tenant
from flows.triage import StoreTelemetry
from tests.store.test_postgres import postgres_url  # noqa: F401  (the throwaway server, as a fixture)

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

    Base.metadata.create_all(store.engine)  # a second start changes nothing, and does not fail
    assert len(inspect(store.engine).get_columns("events")) == len(EventRow.__table__.columns)


def test_an_old_sqlite_events_table_gets_dst_ip_and_its_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _make_old_store(url)

    _check_upgraded(Store.open(url))


def test_an_old_postgres_events_table_gets_dst_ip_and_its_index(postgres_url: str) -> None:  # noqa: F811
    _make_old_store(postgres_url)

    _check_upgraded(Store.open(postgres_url))
