"""Garrison's tables: alerts, incidents, timeline, action ledger, notifications, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
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
    # A reopened incident responds again: its actions are keyed by round, so they can run once more.
    round: Mapped[int] = mapped_column(Integer, default=1)
    related_incident_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    last_alert_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    first_evidence_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    detected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    contained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # News (a new host, indicator, technique, higher severity) that arrived while a run may be in flight:
    # that run would overwrite a status set now, so it takes the request when it ends (Store.end_run).
    retriage_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # An analyst's verdict for the next response round (decided while no run waited): that round's run
    # takes it instead of classifying; cleared when the round ends.
    decided_verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # When the last respond run ended (None while one is in flight): news for an incident whose run has
    # ended starts a new round at once; news during a run waits for its end (Store.end_run).
    run_ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # ATT&CK technique ids its alerts carried, so a later alert's new technique is recognised as news.
    techniques: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)

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
    format: Mapped[str] = mapped_column(String(16), default="ocsf")
    title: Mapped[str] = mapped_column(Text)
    hostname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    severity_id: Mapped[int] = mapped_column(Integer, default=0)
    detected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    document: Mapped[dict[str, Any]] = mapped_column(doc="The alert as OCSF (normalized, validated).")
    raw: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, nullable=True, doc="What the sensor sent, if not OCSF."
    )
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
    # The claim: the worker acting on this key holds a lease, renewed by a heartbeat while it waits on the
    # vendor. A PENDING row whose lease ran out was left by a dead worker: it is reconciled by reading the
    # vendor's state, never by sending blindly; one with a live lease belongs to a worker still at it.
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    # False when the effect was already in place (a rollback must not undo what we did not do); None:
    # unknown (reconciled after a crash).
    changed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # A rollback row: the id of the ledger row whose effect it undoes.
    reverses: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    round: Mapped[int | None] = mapped_column(Integer, nullable=True, default=1)


class ApprovalRow(Base):
    """One person's approval of one action on one target of one incident (two-person rule for protected
    assets). Bound to tenant + incident + action hash (the action and its inputs) + target; expires; used
    once (``used_by`` is the ledger row it authorised)."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_binding", "tenant", "incident_id", "action_hash", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    action: Mapped[str] = mapped_column(String(128))
    action_hash: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text)
    approver: Mapped[str] = mapped_column(String(128))
    requested_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    used_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The response round whose run may use it: approvals expire with their round (a round started by the
    # approvals carries them over). None: given before rounds were recorded on approvals.
    round: Mapped[int | None] = mapped_column(Integer, nullable=True)


class StandingDecisionRow(Base):
    """An analyst's decision that stands for a tenant until it expires or is revoked: alerts of this rule
    from this product, on these hosts, with only these command lines and destinations, are benign (or
    malicious). Triage reads it as a named reason; it never widens beyond what it names."""

    __tablename__ = "standing_decisions"
    __table_args__ = (Index("ix_standing_lookup", "tenant", "source", "rule"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))  # benign | malicious
    source: Mapped[str] = mapped_column(String(128))
    rule: Mapped[str] = mapped_column(Text)
    hosts: Mapped[list[Any]] = mapped_column(default=list)  # lower-case; "" an alert without one
    command_lines: Mapped[list[Any]] = mapped_column(default=list)
    destinations: Mapped[list[Any]] = mapped_column(default=list)
    analyst: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str] = mapped_column(Text, default="")
    incident_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    revoke_comment: Mapped[str] = mapped_column(Text, default="")


class UsedTokenRow(Base):
    """A decision token that was used: tokens are single-use, and a replay finds its nonce here."""

    __tablename__ = "used_tokens"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(36))
    analyst: Mapped[str] = mapped_column(String(128))
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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


class CorrelationKeyRow(Base):
    """Which incident a correlation key (host + rule, or a shared indicator) currently points at."""

    __tablename__ = "correlation_keys"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(36), index=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeadLetterRow(Base):
    """A rejected payload, kept (bounded, truncated) for operators; never processed."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_tenant_seq", "tenant", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # The row's place among its tenant's dead letters (each tenant is capped on its own); NULL in rows
    # kept before there were per-tenant caps.
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SeenSignatureRow(Base):
    """HMAC signatures already accepted, so a captured request cannot be replayed within its window."""

    __tablename__ = "seen_signatures"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    signature: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class EventRow(Base):
    """OCSF activity telemetry, with the fields triage queries pulled out of the document."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_tenant_dst", "tenant", "dst"),
        Index("ix_events_tenant_dst_ip", "tenant", "dst_ip"),
        Index("ix_events_tenant_host_time", "tenant", "hostname", "time"),
        Index("ix_events_tenant_host_key_time", "tenant", "host_key", "time"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    class_uid: Mapped[int] = mapped_column(Integer, index=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hostname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The host's short name, lower-case (``event_row``'s ``host_key``): telemetry naming a host by its FQDN
    # and an alert naming it short (or the reverse) meet. Rows stored before: NULL, found by hostname.
    host_key: Mapped[str | None] = mapped_column(
        String(255), nullable=True, doc="Short host name, lower-case (first label; an IP as is)."
    )
    dst: Mapped[str | None] = mapped_column(
        String(2048), nullable=True, doc="Remote name (DNS query, URL host, SNI, domain), else its IP."
    )
    # The remote IP as well: an event naming both is found by either (rows stored before: NULL, dst has it).
    dst_ip: Mapped[str | None] = mapped_column(String(64), nullable=True, doc="Remote IP (dst_endpoint.ip).")
    dst_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bytes_out: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bytes_in: Mapped[int | None] = mapped_column(Integer, nullable=True)
    process_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    parent_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    document: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CampaignSightingRow(Base):
    """A value an incident that was not benign shares with any campaign (``_campaigns``): a hash, a
    certificate, a global network indicator, or a malicious rule-and-technique pattern. Operator-only."""

    __tablename__ = "campaign_sightings"
    __table_args__ = (Index("ix_campaign_sightings_key_seen", "key", "seen_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(512))
    tenant: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[str] = mapped_column(String(36), index=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CampaignRow(Base):
    """What two or more tenants saw within a window: the shared values, each tenant's (latest) incident,
    and the tenants already warned. Names tenants: operators only (``garrison campaigns``)."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    values: Mapped[list[Any]] = mapped_column(JSON, default=list)
    tenant_incidents: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    warned: Mapped[list[Any]] = mapped_column(JSON, default=list)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
