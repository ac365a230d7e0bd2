"""Read models of the store, as the CLI and the API show them (and as ``--json`` prints them)."""

from __future__ import annotations

from datetime import datetime as _datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from flows.models import defang

from ._rows import aware, from_row
from ._schema import IncidentRow, IndicatorRow

# Every moment a view shows says it is UTC (SQLite drops the zone: see ``_rows.aware``).
datetime = Annotated[_datetime, AfterValidator(aware)]


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
    round: int = Field(default=1, description="The response round that did it (a rollback: its action's).")


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


class _IncidentHeading(BaseModel):
    """What every view of an incident starts with."""

    id: str
    tenant: str
    title: str
    status: str
    verdict: str | None
    score: int | None


class IncidentView(_IncidentHeading):
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
    techniques: list[str] = Field(default_factory=list, description="ATT&CK ids its alerts carried.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def playbook(self) -> str | None:
        """The playbook the latest response round runs (``persistence-malware v1.0``), from the timeline."""
        for entry in reversed(self.timeline):
            if entry.step == "playbook" and entry.data.get("playbook"):
                return f"{entry.data['playbook']} v{entry.data.get('version', '1')}"
        return None


class IncidentSummary(_IncidentHeading):
    model_config = ConfigDict(from_attributes=True)  # read straight from its row

    alert_count: int
    created_at: datetime


def incident_view(row: IncidentRow) -> IncidentView:
    return from_row(
        IncidentView,
        row,
        reasons=row.reasons or [],
        hosts=row.hosts or [],
        indicators=[_indicator(i) for i in row.indicators],
        actions=[from_row(ActionView, a, key=a.action, round=a.round or 1) for a in row.actions],
        notifications=[NotificationView.model_validate(n) for n in row.notifications],
        timeline=[from_row(TimelineEntry, t, data=t.data or {}) for t in row.timeline],
        techniques=[str(t) for t in row.techniques or []],
    )


def incident_summary(row: IncidentRow) -> IncidentSummary:
    return IncidentSummary.model_validate(row)


def _indicator(row: IndicatorRow) -> IndicatorView:
    return from_row(IndicatorView, row, defanged=defang(row.value), provenance=row.provenance or [])
