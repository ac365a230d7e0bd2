"""Customer and analyst notifications: one sandboxed template per event and channel, worded in every
language that has a catalog (``templates/<lang>/messages.yaml``), defanged indicators, apprise delivery
with retries, and a receipt per message and target on the incident."""

from flows.channels import NotifyUrlError, channel_for, check_url

from ._context import EventDetails, PlannedAction, campaign_context, incident_context
from ._deliver import Receipt, deliver
from ._events import (
    AnalystConfigError,
    Audience,
    Event,
    analyst_language,
    analyst_targets,
    notify_event,
    render_report,
)
from ._i18n import LANGUAGES, TEMPLATES_DIR, languages, resolve_language
from ._render import CHANNELS, Rendered, escape_markdown, escape_slack, render, render_channel
from ._text import inert

__all__ = [
    "CHANNELS",
    "LANGUAGES",
    "TEMPLATES_DIR",
    "AnalystConfigError",
    "Audience",
    "Event",
    "EventDetails",
    "NotifyUrlError",
    "PlannedAction",
    "Receipt",
    "Rendered",
    "analyst_language",
    "analyst_targets",
    "campaign_context",
    "channel_for",
    "check_url",
    "deliver",
    "escape_markdown",
    "escape_slack",
    "incident_context",
    "inert",
    "languages",
    "notify_event",
    "render",
    "render_channel",
    "render_report",
    "resolve_language",
]
