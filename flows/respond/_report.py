"""The values templates see for an incident: built by ``flows.notify`` (every indicator defanged, free
text made inert before any template sees it); kept here under the names the respond flow uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flows.models import Alert
from flows.notify import incident_context, inert
from flows.store import IncidentView
from flows.tenants import Tenant


def report_context(
    incident: IncidentView, tenant: Tenant, alerts: Sequence[Alert] = (), language: str | None = None
) -> dict[str, Any]:
    """The incident report's context in ``language`` (default: the tenant's)."""
    return incident_context(incident, tenant, language=language, alerts=alerts)


def defang_text(text: str) -> str:
    """Free text from alerts, made inert for every channel (see ``flows.notify.inert``)."""
    return inert(text)
