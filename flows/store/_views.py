"""Read models of the store, as the CLI and the API show them (and as ``--json`` prints them)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime as _datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from flows.models import defang

from ._schema import ActionRow, IncidentRow, IndicatorRow, NotificationRow, TimelineRow


def _utc(moment: _datetime) -> _datetime:
    # SQLite returns naive datetimes; everything Garrison stores is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


datetime = Annotated[_datetime, AfterValidator(_utc)]


class IndicatorView(BaseModel):
    type: str
    value: str
    defanged: str
    field: str
    provenance: list[dict[str, Any]]


class ActionView(BaseModel):
    key: str = Field(description="The action key, e.g. lab.isolate_host.")
    target: str
    status: str
    detail: str
    idempotency_key: str
    vendor_ref: str | None
    inverse: str | None
    updated_at: datetime


class NotificationView(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read straight from its row

    event: str
    language: str
    target: str
    status: str
    subject: str
    error: str
    created_at: datetime


class TimelineEntry(BaseModel):
    at: datetime
    step: str
    message: str
    data: dict[str, Any]


class IncidentView(BaseModel):
    id: str
    tenant: str
    title: str
    status: str
    verdict: str | None
    score: int | None
    reasons: list[dict[str, Any]]
    severity_id: int
    hosts: list[str]
    alert_count: int
    flow_run_id: str | None
    round: int
    related_incident_id: str | None
    created_at: datetime
    updated_at: datetime
    detected_at: datetime | None
    first_evidence_at: datetime | None
    contained_at: datetime | None
    closed_at: datetime | None
    indicators: list[IndicatorView]
    actions: list[ActionView]
    notifications: list[NotificationView]
    timeline: list[TimelineEntry]


class IncidentSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read straight from its row

    id: str
    tenant: str
    title: str
    status: str
    verdict: str | None
    score: int | None
    alert_count: int
    created_at: datetime


def incident_view(row: IncidentRow) -> IncidentView:
    return IncidentView(
        id=row.id,
        tenant=row.tenant,
        title=row.title,
        status=row.status,
        verdict=row.verdict,
        score=row.score,
        reasons=row.reasons or [],
        severity_id=row.severity_id,
        hosts=row.hosts or [],
        alert_count=row.alert_count,
        flow_run_id=row.flow_run_id,
        round=row.round,
        related_incident_id=row.related_incident_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        detected_at=row.detected_at,
        first_evidence_at=row.first_evidence_at,
        contained_at=row.contained_at,
        closed_at=row.closed_at,
        indicators=[_indicator(i) for i in row.indicators],
        actions=[_action(a) for a in row.actions],
        notifications=[_notification(n) for n in row.notifications],
        timeline=[_timeline(t) for t in row.timeline],
    )


def incident_summary(row: IncidentRow) -> IncidentSummary:
    return IncidentSummary.model_validate(row)


def _indicator(row: IndicatorRow) -> IndicatorView:
    return IndicatorView(
        type=row.type,
        value=row.value,
        defanged=defang(row.value),
        field=row.field,
        provenance=row.provenance or [],
    )


def _action(row: ActionRow) -> ActionView:
    return ActionView(
        key=row.action,
        target=row.target,
        status=row.status,
        detail=row.detail,
        idempotency_key=row.idempotency_key,
        vendor_ref=row.vendor_ref,
        inverse=row.inverse,
        updated_at=row.updated_at,
    )


def _notification(row: NotificationRow) -> NotificationView:
    return NotificationView.model_validate(row)


def _timeline(row: TimelineRow) -> TimelineEntry:
    return TimelineEntry(at=row.at, step=row.step, message=row.message, data=row.data or {})
