"""Garrison's tables: alerts, incidents, timeline, action ledger, notifications, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class IncidentStatus(StrEnum):
    NEW = "new"
    TRIAGING = "triaging"
    AWAITING_APPROVAL = "awaiting_approval"
    RESPONDING = "responding"
    CONTAINED = "contained"
    CLOSED = "closed"
    REOPENED = "reopened"


OPEN_STATUSES = (
    IncidentStatus.NEW,
    IncidentStatus.TRIAGING,
    IncidentStatus.AWAITING_APPROVAL,
    IncidentStatus.RESPONDING,
    IncidentStatus.REOPENED,
)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class IncidentRow(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(Text)
    correlation_key: Mapped[str] = mapped_column(String(512), index=True)
    status: Mapped[str] = mapped_column(String(32), default=IncidentStatus.NEW, index=True)
    severity_id: Mapped[int] = mapped_column(Integer, default=0)
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    hosts: Mapped[list[Any]] = mapped_column(default=list)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    flow_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    first_evidence_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    detected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    contained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    alerts: Mapped[list[AlertRow]] = relationship(back_populates="incident", order_by="AlertRow.received_at")
    indicators: Mapped[list[IndicatorRow]] = relationship(order_by="IndicatorRow.id")
    timeline: Mapped[list[TimelineRow]] = relationship(order_by="TimelineRow.id")
    actions: Mapped[list[ActionRow]] = relationship(order_by="ActionRow.id")
    notifications: Mapped[list[NotificationRow]] = relationship(order_by="NotificationRow.id")


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("tenant", "source", "source_uid"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(128))
    source_uid: Mapped[str] = mapped_column(String(4096))
    title: Mapped[str] = mapped_column(Text)
    hostname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    severity_id: Mapped[int] = mapped_column(Integer, default=0)
    detected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    document: Mapped[dict[str, Any]] = mapped_column(doc="The alert as received (validated OCSF).")
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)

    incident: Mapped[IncidentRow] = relationship(back_populates="alerts")


class IndicatorRow(Base):
    __tablename__ = "indicators"
    __table_args__ = (UniqueConstraint("incident_id", "type", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(4096))
    field: Mapped[str] = mapped_column(String(512), default="")
    # Intel answers as they were when enriched: C2 infrastructure is short-lived.
    provenance: Mapped[list[Any]] = mapped_column(default=list)


class TimelineRow(Base):
    __tablename__ = "timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    step: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ActionStatusValue(StrEnum):
    PENDING = "pending"  # written before the vendor call; reconciled after a crash
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class ActionRow(Base):
    """The ledger: one row per (tenant, incident, action, target), the idempotency key."""

    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    action: Mapped[str] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=ActionStatusValue.PENDING)
    detail: Mapped[str] = mapped_column(Text, default="")
    vendor_ref: Mapped[str | None] = mapped_column(String(256), nullable=True)
    inverse: Mapped[str | None] = mapped_column(String(128), nullable=True)
    undo: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class NotificationRow(Base):
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    tenant: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(256), doc="A label for the target, never its secret URL.")
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # delivered | failed
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditRow(Base):
    """Append-only, hash-chained: each row's hash covers its content and the previous row's hash."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
