"""Links across time, in the respond flow: a new incident that names an account, host, file hash or
indicator of a closed one links the two, and — unless the new one is benign — reopens the closed one for
review, saying which value linked them (DESIGN §1: a ransomware attack began with a precursor closed
eight months earlier, and the account that saved the attack tool was the one the operators used).

Only a first round looks for links: the closed incident it reopens gets a new round of its own, and that
round must not link back and reopen this one in turn.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from prefect import task
from prefect.cache_policies import NONE

from flows.models import IndicatorType, defang
from flows.notify import EventDetails, notify_event
from flows.store import IncidentView, Link, Store, earlier_incidents, stored_indicators
from flows.tenants import Tenant

_log = logging.getLogger("garrison.respond")
HORIZON_DAYS = 365  # as far back as the re-check looks at closed incidents
_NETWORK = {
    t.value for t in (IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.DOMAIN, IndicatorType.URL)
}


@task(name="link-across-time", cache_policy=NONE)
def link_earlier(store: Store, incident_id: str, tenant: Tenant, verdict: str | None) -> list[str]:
    """Link the incident to the closed incidents that share a value with it; reopen them for review unless
    the verdict is benign. Returns the ids of the incidents reopened."""
    incident = store.incident(incident_id)
    if incident is None or incident.round != 1:
        return []
    links = [
        link
        for link in _links(store, incident, tenant)
        # The intake's own link (the same correlation key, when the alert arrived) is already shown.
        if link.incident_id != incident.related_incident_id
    ]
    reopened: list[str] = []
    for link in links:
        store.relate(incident.id, link.incident_id)
        closed = f" (closed {link.closed_at.date().isoformat()})" if link.closed_at else ""
        store.add_timeline(
            incident.id,
            "link",
            f"linked to earlier incident {link.incident_id[:8]}{closed} by {_said(link)}",
            {"linked_incident": link.incident_id, "by": link.kind, "value": link.value},
        )
        if verdict == "benign":  # a benign newcomer says nothing new about the old case: linked only
            continue
        if _reopen(store, tenant, incident, link):
            reopened.append(link.incident_id)
    return reopened


def _links(store: Store, incident: IncidentView, tenant: Tenant) -> list[Link]:
    never = tenant.policy.never_block
    return earlier_incidents(
        store.engine,
        tenant.id,
        incident.id,
        incident.hosts,
        stored_indicators(incident),
        since=datetime.now(UTC) - timedelta(days=HORIZON_DAYS),
        own_domains=never.domains,
        own_ranges=never.ip_ranges,
    )


def _reopen(store: Store, tenant: Tenant, incident: IncidentView, link: Link) -> bool:
    reason = f"{_said(link)} seen again in incident {incident.id[:8]} ({incident.title[:120]})"
    new_round = store.reopen(
        link.incident_id,
        f"linked: reopened for review: {reason}",
        step="link",
        data={"linked_incident": incident.id, "by": link.kind, "value": link.value},
        actor="link",
    )
    if new_round is None:  # reopened meanwhile (the intake, a re-check): its new round is under way
        return False
    for event in ("incident_reopened", "escalation"):
        try:
            notify_event(
                event, link.incident_id, tenant=tenant, details=EventDetails(reason=reason), store=store
            )
        except Exception as error:  # noqa: BLE001 - the round is started; a notification problem is logged
            _log.error("incident %s: %s notification failed: %s", link.incident_id, event, error)
            store.add_timeline(
                link.incident_id, "notify", f"{event} notification failed: {type(error).__name__}"
            )
    return True


def _said(link: Link) -> str:
    """The linking value as messages show it: network values defanged (a message is never a link)."""
    value = defang(link.value) if link.kind in _NETWORK else link.value
    kind = {"sha256": "file hash", "sha1": "file hash", "md5": "file hash"}.get(link.kind, link.kind)
    return f"{kind} '{value}'"
