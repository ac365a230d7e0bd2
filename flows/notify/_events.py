"""``notify_event``: tell the right people about an incident event, and keep a receipt per target.

Customer-facing events go to the tenant's targets in the tenant's language; analyst-facing ones
(escalation, approval requested) go to the MDR's own channels, set in ``GARRISON_ANALYST_NOTIFY``::

    GARRISON_ANALYST_NOTIFY='[{"url_env": "SOC_SLACK_URL"}, {"url": "outbox://_analysts"}]'
    GARRISON_ANALYST_LANGUAGE=en          # en (default) or any language with a catalog in templates/

Unset, analyst messages land in the local outbox, ``$GARRISON_HOME/outbox/_analysts/``; ``[]`` turns
them off. Each entry is a notification target like a tenant's (``url`` or ``url_env``, ``channel``,
``allow_internal``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter, ValidationError

from flows.models import Alert
from flows.settings import get_settings
from flows.store import IncidentStatus, IncidentView, Store, decision_key, issue_token
from flows.tenants import NotifyTarget, Tenant, tenants_from

from ._context import EventDetails, campaign_context, incident_context
from ._deliver import Receipt, deliver
from ._i18n import resolve_language
from ._render import Rendered, render_channel

_log = logging.getLogger("garrison.notify")
ANALYST_TARGETS_VAR = "GARRISON_ANALYST_NOTIFY"
ANALYST_LANGUAGE_VAR = "GARRISON_ANALYST_LANGUAGE"
DEFAULT_ANALYST_TARGETS = [NotifyTarget(url="outbox://_analysts")]


class Audience(StrEnum):
    CUSTOMER = "customer"
    ANALYSTS = "analysts"


class Event(StrEnum):
    INCIDENT_OPENED = "incident_opened"
    CONTAINMENT_DONE = "containment_done"
    APPROVAL_REQUESTED = "approval_requested"
    ESCALATION = "escalation"
    INCIDENT_REOPENED = "incident_reopened"
    CAMPAIGN_WARNING = "campaign_warning"
    INCIDENT_REPORT = "incident_report"

    @property
    def audience(self) -> Audience:
        analysts = (Event.APPROVAL_REQUESTED, Event.ESCALATION)
        return Audience.ANALYSTS if self in analysts else Audience.CUSTOMER


class AnalystConfigError(ValueError):
    """``GARRISON_ANALYST_NOTIFY`` is not a JSON list of notification targets."""


def analyst_targets() -> list[NotifyTarget]:
    """The MDR's own channels, from ``GARRISON_ANALYST_NOTIFY`` (see the module docstring)."""
    raw = os.environ.get(ANALYST_TARGETS_VAR)
    if raw is None or not raw.strip():
        return list(DEFAULT_ANALYST_TARGETS)
    try:
        return TypeAdapter(list[NotifyTarget]).validate_python(json.loads(raw))
    except json.JSONDecodeError as error:
        raise AnalystConfigError(f"{ANALYST_TARGETS_VAR}: not JSON ({error.msg})") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise AnalystConfigError(f"{ANALYST_TARGETS_VAR}: {where}: {first['msg']}") from None


def analyst_language() -> str:
    return os.environ.get(ANALYST_LANGUAGE_VAR) or "en"


def notify_event(
    event: Event | str,
    incident_id: str,
    *,
    tenant: Tenant | None = None,
    details: EventDetails | None = None,
    store: Store | None = None,
    analysts: Sequence[NotifyTarget] | None = None,
) -> list[Receipt]:
    """Render ``event`` for ``incident_id`` in every channel its recipients need, deliver it, and record
    a receipt per target on the incident. Returns the receipts.

    ``tenant`` is the incident's tenant (looked up when omitted) — except for ``campaign_warning``,
    where it is the customer being warned, who learns the threat and its indicators but nothing about
    the incident's own customer. Delivery problems never raise: they are failed receipts.

    >>> notify_event("escalation", incident_id, details=EventDetails(reason="gray verdict"))  # doctest: +SKIP
    [Receipt(target='mdr:outbox://…', delivered=True, …)]
    """
    kind = Event(event)
    store = store or Store.open(get_settings().database_url)
    incident = store.incident(incident_id)
    if incident is None:
        raise LookupError(f"incident {incident_id} does not exist")
    if kind is Event.CAMPAIGN_WARNING and tenant is None:
        raise ValueError("a campaign warning needs the tenant to warn")
    tenant = tenant or _tenant_of(incident)
    if kind is not Event.CAMPAIGN_WARNING and tenant.id != incident.tenant:  # tenants never cross
        raise ValueError(f"incident {incident_id} does not belong to tenant {tenant.id}")
    if kind.audience is Audience.CUSTOMER:
        targets, language, prefix = list(tenant.notify), resolve_language(tenant.language), ""
    else:
        language, prefix = resolve_language(analyst_language()), "mdr:"
        try:
            targets = list(analysts) if analysts is not None else analyst_targets()
        except AnalystConfigError as error:
            _log.error("%s", error)
            _record(
                store, incident, tenant, kind, language, Receipt("mdr:(configuration)", False, str(error))
            )
            return []
    if kind is Event.ESCALATION and incident.status == IncidentStatus.AWAITING_APPROVAL:
        details = _with_decision_link(details or EventDetails(), incident)
    context = _context(kind, incident, tenant, store, language, details)
    written: dict[str, Rendered] = {}

    def message_for(channel: str) -> Rendered:
        if channel not in written:
            written[channel] = render_channel(kind.value, channel, language, context)
        return written[channel]

    receipts = [_labelled(receipt, prefix) for receipt in deliver(targets, message_for)]
    for receipt in receipts:
        _record(store, incident, tenant, kind, language, receipt)
    if not receipts:
        who = f"tenant {tenant.id}" if kind.audience is Audience.CUSTOMER else "the MDR analysts"
        store.add_timeline(incident.id, "notify", f"{kind.value}: no notification targets for {who}")
    return receipts


def _with_decision_link(details: EventDetails, incident: IncidentView) -> EventDetails:
    """An escalation carries a signed, single-use link to decide this wait over HTTP (the analyst still
    proves their name with their key; a GET of it only shows what it would decide)."""
    if details.decide_url:
        return details
    settings = get_settings()
    token = issue_token(decision_key(settings.secrets_dir), incident.tenant, incident.id, incident.round)
    return dataclasses.replace(details, decide_url=settings.decisions_url + token)


def render_report(
    incident_id: str,
    *,
    channel: str = "markdown",
    language: str | None = None,
    store: Store | None = None,
    tenant: Tenant | None = None,
) -> Rendered:
    """The incident report from the store, in ``channel`` (markdown, html, text or slack) and
    ``language`` (default: the tenant's; an unknown one falls back to English with a warning)."""
    store = store or Store.open(get_settings().database_url)
    incident = store.incident(incident_id)
    if incident is None:
        raise LookupError(f"incident {incident_id} does not exist")
    tenant = tenant or _tenant_of(incident)
    chosen = resolve_language(language or tenant.language)
    context = _context(Event.INCIDENT_REPORT, incident, tenant, store, chosen, None)
    return render_channel(Event.INCIDENT_REPORT.value, channel, chosen, context)


def _context(
    kind: Event,
    incident: IncidentView,
    tenant: Tenant,
    store: Store,
    language: str,
    details: EventDetails | None,
) -> dict[str, Any]:
    if kind is Event.CAMPAIGN_WARNING:
        return campaign_context(incident, tenant, language=language, details=details)
    alerts = [Alert.model_validate(document) for document in store.alert_documents(incident.id)]
    return incident_context(incident, tenant, language=language, alerts=alerts, details=details)


def _tenant_of(incident: IncidentView) -> Tenant:
    tenant = tenants_from(get_settings().tenants_file).get(incident.tenant)
    if tenant is None:
        raise LookupError(f"incident {incident.id} names unknown tenant {incident.tenant!r}")
    return tenant


def _labelled(receipt: Receipt, prefix: str) -> Receipt:
    return dataclasses.replace(receipt, target=prefix + receipt.target) if prefix else receipt


def _record(
    store: Store, incident: IncidentView, tenant: Tenant, kind: Event, language: str, receipt: Receipt
) -> None:
    store.record_notification(
        incident_id=incident.id,
        tenant=tenant.id,
        event=kind.value,
        language=receipt.language or language,
        target=receipt.target[:256],
        subject=receipt.subject,
        body=receipt.body,
        status="delivered" if receipt.delivered else "failed",
        error=receipt.error,
    )
