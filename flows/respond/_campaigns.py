"""Campaigns across tenants, in the respond flow: once an incident is classified and not benign, its
sightings are recorded, and what two or more tenants saw in the window becomes a campaign
(``flows.store.record_sightings``). Every affected tenant is warned once per campaign, from its own
incident: the threat and indicators, how many customers saw it — never another tenant's name or hosts.

A tenant that opted in (``campaigns.receive_blocks``) and was not hit gets the campaign's blockable
indicators as an incident of its own, which takes the normal path: triage (unknown values are gray, so an
analyst decides), the playbook, approvals and guardrails. No block is pushed around them.
"""

from __future__ import annotations

import hashlib
import logging

from prefect import task
from prefect.cache_policies import NONE

from flows.models import Alert
from flows.notify import EventDetails, notify_event
from flows.store import (
    CampaignView,
    IncomingAlert,
    Store,
    record_sightings,
    sighting_keys,
    stored_indicators,
)
from flows.tenants import Tenant, TenantDirectory, grouping_rules

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
    if any(a is not None and _offered(a) for a in alerts):
        return []  # a campaign's own offer is no sighting: the tenant was told, not hit
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
    for campaign in found.campaigns:
        _offer_blocks(store, campaign, tenants)
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


# Sighting key prefixes that are blockable, and the OCSF observable type that carries each.
_BLOCKABLE = {"domain": 1, "ipv4": 2, "ipv6": 2, "url": 6, "sha256": 8, "sha1": 8, "md5": 8}
MAX_OFFERED = 100
_OFFER_RULE = "garrison-campaign-"


def _offer_blocks(store: Store, campaign: CampaignView, tenants: TenantDirectory) -> None:
    """Open, at each opted-in tenant the campaign has not hit, an incident carrying its blockable values.
    The alert's uid names the campaign and the values, so the same offer is stored once (a duplicate) and
    a campaign that grows is offered again with what it added."""
    values = [v.split(":", 1) for v in campaign.values if v.split(":", 1)[0] in _BLOCKABLE][:MAX_OFFERED]
    if not values:
        return
    digest = hashlib.sha256("\n".join(sorted(":".join(v) for v in values)).encode()).hexdigest()[:16]
    for recipient in tenants:
        if not recipient.campaigns.receive_blocks or recipient.id in campaign.tenants:
            continue
        document = _offer(recipient.id, campaign, values, digest)
        try:
            alert = Alert.model_validate(document)
            accepted = store.ingest(
                [IncomingAlert(alert=alert, document=document)], grouping_rules(recipient)
            )
        except Exception as error:  # noqa: BLE001 - one tenant's offer failing must not stop the others
            _log.error(
                "campaign %s: offering blocks to tenant %s failed: %s", campaign.id, recipient.id, error
            )
            continue
        reach = len(campaign.tenants)
        for item in accepted:
            if item.outcome.value != "duplicate":
                store.add_timeline(
                    item.incident_id,
                    "campaign",
                    f"campaign {campaign.reference}: indicators seen at {reach} other customers",
                    {"campaign": campaign.id},
                )


def _offer(tenant: str, campaign: CampaignView, values: list[list[str]], digest: str) -> dict[str, object]:
    """The campaign as an OCSF Detection Finding for ``tenant``: its reference, reach and values, nothing of
    the customers it hit."""
    reach = f"seen at {len(campaign.tenants)} other customers"
    return {
        "class_uid": 2004,
        "category_uid": 2,
        "activity_id": 1,
        "type_uid": 200401,
        "severity_id": 4,
        "time": int(campaign.last_seen.timestamp() * 1000),
        "message": f"Indicators of campaign {campaign.reference}, {reach}",
        "metadata": {
            "version": "1.3.0",
            "tenant_uid": tenant,
            "product": {"name": "Garrison campaigns", "vendor_name": "Garrison"},
        },
        "finding_info": {
            "uid": f"campaign-{campaign.id}-{digest}",
            "title": f"Campaign {campaign.reference}: activity {reach}",
            "types": ["Campaign"],
            "analytic": {"uid": f"{_OFFER_RULE}{campaign.id}", "name": "Campaign across customers"},
        },
        "observables": [
            {"name": f"campaign.{kind}", "type_id": _BLOCKABLE[kind], "value": value}
            for kind, value in values
        ],
    }


def _offered(alert: Alert) -> bool:
    analytic = alert.finding_info.analytic
    return bool(analytic and (analytic.uid or "").startswith(_OFFER_RULE))


def _alert(document: dict[str, object]) -> Alert | None:
    try:
        return Alert.model_validate(document)
    except ValueError:  # stored by an older Garrison under rules that changed since
        return None
