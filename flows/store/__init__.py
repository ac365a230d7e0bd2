"""The Garrison store (SQLAlchemy 2): SQLite with WAL by default, PostgreSQL by URL."""

from ._approvals import ApprovalNeed, ApprovalRefused, ApprovalView, action_hash
from ._audit import AuditCheck
from ._campaigns import CampaignView, Sighted, campaigns, record_sightings, sighting_keys
from ._engine import engine_for
from ._event_row import EVENT_CLASSES, LAST_MS, EventError, event_row
from ._ingest import Accepted, GroupingRules, IncomingAlert, Outcome, correlation_keys
from ._ledger import IsolationCap, Ledger, LedgerEntry, LedgerRow, idempotency_key, undo_key
from ._lifecycle import ALLOWED_TRANSITIONS, IllegalTransition, may_become
from ._links import Link, earlier_incidents, stored_indicators
from ._metrics import FIGURES, Metrics, Spread, TenantMetrics, duration, incident_metrics
from ._replay import Replay, remember_signature
from ._schema import OPEN_STATUSES, ActionStatusValue, EventRow, IncidentStatus
from ._standing import MAX_STANDING_DAYS, StandingDecision, StandingDecisions, StandingScope
from ._store import AlertReceipt, Store
from ._tokens import (
    DECISION_KEY_FILE,
    TokenClaims,
    TokenError,
    consume_token,
    decision_key,
    issue_token,
    read_token,
)
from ._views import ActionView, IncidentSummary, IncidentView, IndicatorView, NotificationView, TimelineEntry
from .migrations import SchemaTooNew

__all__ = [
    "ALLOWED_TRANSITIONS",
    "IllegalTransition",
    "may_become",
    "CampaignView",
    "Sighted",
    "campaigns",
    "record_sightings",
    "sighting_keys",
    "stored_indicators",
    "Link",
    "earlier_incidents",
    "FIGURES",
    "Metrics",
    "Spread",
    "TenantMetrics",
    "duration",
    "incident_metrics",
    "ApprovalNeed",
    "AuditCheck",
    "ApprovalRefused",
    "ApprovalView",
    "action_hash",
    "IsolationCap",
    "Ledger",
    "LedgerRow",
    "undo_key",
    "Accepted",
    "GroupingRules",
    "IncomingAlert",
    "Outcome",
    "Replay",
    "correlation_keys",
    "remember_signature",
    "EVENT_CLASSES",
    "LAST_MS",
    "EventError",
    "event_row",
    "OPEN_STATUSES",
    "ActionStatusValue",
    "ActionView",
    "AlertReceipt",
    "EventRow",
    "IncidentStatus",
    "IncidentSummary",
    "IncidentView",
    "IndicatorView",
    "LedgerEntry",
    "NotificationView",
    "SchemaTooNew",
    "Store",
    "DECISION_KEY_FILE",
    "TokenClaims",
    "TokenError",
    "consume_token",
    "decision_key",
    "issue_token",
    "read_token",
    "MAX_STANDING_DAYS",
    "StandingDecision",
    "StandingDecisions",
    "StandingScope",
    "TimelineEntry",
    "engine_for",
    "idempotency_key",
]
