"""Campaigns across tenants, in the respond flow: once an incident is classified and not benign, its
sightings are recorded, and what two or more tenants saw in the window becomes a campaign
(``flows.store.record_sightings``). Every affected tenant is warned once per campaign, from its own
incident: the threat and indicators, how many customers saw it — never another tenant's name or hosts.
"""

from __future__ import annotations

import logging

from prefect import task
from prefect.cache_policies import NONE

from flows.models import Alert
from flows.notify import EventDetails, notify_event
from flows.store import CampaignView, Store, record_sightings, sighting_keys, stored_indicators
from flows.tenants import Tenant, TenantDirectory

_log = logging.getLogger("garrison.respond")
MAX_ALERTS = 50  # a storm's first alerts carry its rule patterns; its hundredth adds none


@task(name="campaigns", cache_policy=NONE)
def find_campaigns(
    store: Store, incident_id: str, tenant: Tenant, tenants: TenantDirectory, verdict: str | None
) -> list[CampaignView]:
    """Record the incident's sightings and warn the tenants of any campaign it is part of."""
    if verdict not in ("malicious", "suspicious"):
        return []
    incident = store.incident(incident_id)
    if incident is None:
        return []
    alerts = [_alert(d) for d in store.alert_documents(incident_id)[:MAX_ALERTS]]
    never = tenant.policy.never_block
    keys = sighting_keys(
        stored_indicators(incident),
        [a for a in alerts if a is not None],
        verdict,
        own_domains=never.domains,
        own_ranges=never.ip_ranges,
    )
    found = record_sightings(store.engine, tenant.id, incident_id, keys)
    for campaign in found.campaigns:
        store.add_timeline(
            incident_id,
            "campaign",
            f"part of campaign {campaign.reference}: seen at {len(campaign.tenants)} customers",
            {"campaign": campaign.id, "tenants": len(campaign.tenants)},
        )
    for campaign_id, who, their_incident, reach in found.warn:
        recipient = tenants.get(who)
        if recipient is None:  # a tenant removed from the tenants file since: nobody to warn
            continue
        try:
            notify_event(
                "campaign_warning",
                their_incident,
                tenant=recipient,
                details=EventDetails(affected_tenants=reach),
                store=store,
            )
        except Exception as error:  # noqa: BLE001 - the campaign is recorded; a failed warning is logged
            _log.error("campaign %s: warning tenant %s failed: %s", campaign_id, who, error)
    return found.campaigns


def _alert(document: dict[str, object]) -> Alert | None:
    try:
        return Alert.model_validate(document)
    except ValueError:  # stored by an older Garrison under rules that changed since
        return None
