"""Campaigns across tenants: the same indicator, file hash, certificate or rule-and-technique pattern in
incidents of two or more tenants within a window (DESIGN §1: DUOBEAN hit several customers at once).

Each classified incident that is not benign records its *sightings* — the values it would share with a
campaign — and looks up the same values among other tenants' sightings of the window. What two or more
tenants saw becomes (or joins) a campaign record. Each affected tenant is warned once per campaign; the
warning is rendered from the tenant's *own* incident (``campaign_warning``: the threat and indicators, and
how many customers saw it), so no tenant learns another's name, hosts or data.

Values every network shares never make a campaign (the correlation keys' filter: private and documentation
addresses, public resolvers, major domains, empty files' digests), and a rule-and-technique pattern counts
only from malicious incidents: a generic rule fires at every customer every day.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import IPv4Network, IPv6Network

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from flows.models import Alert, Indicator, IndicatorType, host_of
from flows.warninglists import misp_warninglist

from ._keys import KeyFilter
from ._rows import aware
from ._schema import CampaignRow, CampaignSightingRow, utcnow

SIGHTING_TYPES = (
    IndicatorType.SHA256,
    IndicatorType.SHA1,
    IndicatorType.MD5,
    IndicatorType.X509_SHA1,
    IndicatorType.IPV4,
    IndicatorType.IPV6,
    IndicatorType.DOMAIN,
    IndicatorType.URL,
)
_CERTIFICATE = (IndicatorType.X509_SHA1,)
DEFAULT_WINDOW = timedelta(days=14)
MIN_TENANTS = 2


@dataclass(frozen=True)
class CampaignView:
    """A campaign as operators see it (``garrison campaigns``): operator-only, it names tenants."""

    id: str
    reference: str
    values: list[str]
    tenants: list[str]
    incidents: list[str]
    warned: list[str]
    first_seen: datetime
    last_seen: datetime


@dataclass
class Sighted:
    """What one incident's sightings found: the campaigns it is part of, and whom to warn now (each tenant
    once per campaign, with its own incident of the campaign)."""

    campaigns: list[CampaignView] = field(default_factory=list)
    warn: list[tuple[str, str, str, int]] = field(
        default_factory=list
    )  # (campaign, tenant, incident, tenants)


def sighting_keys(
    indicators: Iterable[Indicator],
    alerts: Iterable[Alert],
    verdict: str | None,
    own_domains: Iterable[str] = (),
    own_ranges: Iterable[IPv4Network | IPv6Network] = (),
) -> list[str]:
    """The values an incident may share with a campaign: hashes, certificates and global network
    indicators (as ``type:value``), and, for a malicious incident, each alert's rule with its ATT&CK
    techniques (``rule:…``).

    >>> from flows.models import Indicator
    >>> sighting_keys([Indicator(type="domain", value="Evil-C2.example.net", field="dst"),
    ...                Indicator(type="ipv4", value="10.0.0.7", field="src")], [], "suspicious")
    ['domain:evil-c2.example.net']
    """
    keep = KeyFilter.of(own_domains, own_ranges)
    keys: dict[str, None] = {}
    for indicator in indicators:
        if indicator.type not in SIGHTING_TYPES:
            continue
        if indicator.type not in _CERTIFICATE and (keep.excluded(indicator) or _ubiquitous(indicator)):
            continue
        keys[f"{indicator.type.value}:{indicator.value.strip().lower()}"[:512]] = None
    if verdict == "malicious":
        for alert in alerts:
            # The vendor's rule id or name (a title may name the customer's host: no pattern across tenants).
            analytic = alert.finding_info.analytic
            rule = (analytic.uid or analytic.name) if analytic else None
            techniques = sorted({t.upper() for t in alert.techniques()})
            if rule and techniques:
                keys[f"rule:{rule}|{','.join(techniques)}"[:512]] = None
    return list(keys)


def _ubiquitous(indicator: Indicator) -> bool:
    """On a MISP warninglist the never-block guardrail uses (public resolvers, CDNs, major services):
    every customer talks to it, so two customers seeing it is no campaign."""
    if indicator.type in (IndicatorType.SHA256, IndicatorType.SHA1, IndicatorType.MD5):
        return False
    host = host_of(indicator.value) if indicator.type is IndicatorType.URL else indicator.value
    return bool(host) and misp_warninglist(host or "") is not None


def record_sightings(
    engine: Engine,
    tenant: str,
    incident_id: str,
    keys: Sequence[str],
    *,
    now: datetime | None = None,
    window: timedelta = DEFAULT_WINDOW,
    min_tenants: int = MIN_TENANTS,
) -> Sighted:
    """Record the incident's sightings and fold what two or more tenants saw within ``window`` into
    campaigns; return them and the warnings due (marked as sent here: a warning that fails is logged by
    its sender, not retried every incident)."""
    now = now or utcnow()
    found = Sighted()
    if not keys:
        return found
    with Session(engine) as session, session.begin():
        session.execute(
            delete(CampaignSightingRow).where(
                CampaignSightingRow.incident_id == incident_id, CampaignSightingRow.key.in_(keys)
            )
        )
        session.add_all(
            CampaignSightingRow(key=key, tenant=tenant, incident_id=incident_id, seen_at=now) for key in keys
        )
        session.flush()
        others = session.execute(
            select(CampaignSightingRow.key, CampaignSightingRow.tenant, CampaignSightingRow.incident_id)
            .where(CampaignSightingRow.key.in_(keys), CampaignSightingRow.seen_at >= now - window)
            .order_by(CampaignSightingRow.seen_at)
        ).all()
        by_key: dict[str, dict[str, str]] = {}  # key → tenant → its latest incident
        for key, who, incident in others:
            by_key.setdefault(key, {})[who] = incident
        shared = {key: seen for key, seen in by_key.items() if len(seen) >= min_tenants}
        if not shared:
            return found
        campaign = _campaign_of(session, list(shared), now, window)
        values = list(dict.fromkeys([*campaign.values, *shared]))
        seen_by: dict[str, str] = dict(campaign.tenant_incidents or {})
        for tenants in shared.values():
            for who, incident in tenants.items():
                seen_by.setdefault(who, incident)
        warned = list(campaign.warned or [])
        for who, incident in seen_by.items():
            if who not in warned:
                found.warn.append((campaign.id, who, incident, len(seen_by)))
                warned.append(who)
        campaign.values = values[:200]
        campaign.tenant_incidents = seen_by
        campaign.warned = warned
        campaign.last_seen = now
        session.flush()
        found.campaigns.append(_view(campaign))
    return found


def campaigns(engine: Engine, since: datetime | None = None) -> list[CampaignView]:
    """Every campaign (seen at or after ``since``), most recent first."""
    query = select(CampaignRow).order_by(CampaignRow.last_seen.desc())
    if since is not None:
        query = query.where(CampaignRow.last_seen >= since)
    with Session(engine) as session:
        return [_view(row) for row in session.scalars(query)]


def reference(campaign_id: str) -> str:
    """The campaign's short name for people: ``CP-`` and the first 8 characters of its id, upper-case."""
    return "CP-" + campaign_id.replace("-", "")[:8].upper()


def _campaign_of(session: Session, keys: list[str], now: datetime, window: timedelta) -> CampaignRow:
    """The live campaign one of ``keys`` already belongs to (a C2 address and its domain are one campaign
    when both are seen), else a new one."""
    live = session.scalars(
        select(CampaignRow).where(CampaignRow.last_seen >= now - window).with_for_update()
    ).all()
    wanted = set(keys)
    for row in live:
        if wanted & set(row.values or []):
            return row
    row = CampaignRow(
        id=str(uuid.uuid4()), values=[], tenant_incidents={}, warned=[], first_seen=now, last_seen=now
    )
    session.add(row)
    return row


def _view(row: CampaignRow) -> CampaignView:
    seen_by = dict(row.tenant_incidents or {})
    return CampaignView(
        id=row.id,
        reference=reference(row.id),
        values=list(row.values or []),
        tenants=sorted(seen_by),
        incidents=[seen_by[t] for t in sorted(seen_by)],
        warned=list(row.warned or []),
        first_seen=aware(row.first_seen) or row.first_seen,
        last_seen=aware(row.last_seen) or row.last_seen,
    )


def forget_incident(engine: Engine, incident_id: str) -> None:
    """Drop an incident's sightings (an analyst overruled it as benign: it no longer counts)."""
    with Session(engine) as session, session.begin():
        session.execute(delete(CampaignSightingRow).where(CampaignSightingRow.incident_id == incident_id))
