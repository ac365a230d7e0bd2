"""Which playbook an incident runs: the facts its match rules look at, read from the incident — or, before
triage, foreseen: what a plan shows is what the run will do."""

from __future__ import annotations

from flows.settings import get_settings
from flows.store import IncidentView, IndicatorView, StandingDecisions, Store
from flows.tenants import IntelConfig, Tenant
from flows.triage import StoreTelemetry, triage
from flows.triage import enrich as enrich_indicators
from playbooks import DEFAULT, Facts, Playbook, candidates, choose, resolve

from ._steps import incident_alerts, incident_indicators


def incident_facts(store: Store, incident: IncidentView, verdict: str | None) -> Facts:
    """The incident's tenant, techniques, alert titles and worst severity, and — once there is a
    ``verdict`` — triage's finding codes."""
    alerts = incident_alerts(store, incident.id)
    return Facts(
        tenant=incident.tenant,
        verdict=verdict,
        techniques=frozenset(incident.techniques).union(*(alert.techniques() for alert in alerts)),
        titles=tuple(dict.fromkeys([incident.title, *(a.finding_info.title for a in alerts)])),
        severity=max([incident.severity_id, *(a.severity_id for a in alerts if a.severity_id <= 6)]),
        findings=frozenset(_codes(incident) if verdict else ()),
    )


def _codes(incident: IncidentView) -> list[str]:
    return [str(reason["code"]) for reason in incident.reasons if reason.get("code")]


def playbook_for(
    store: Store, incident: IncidentView, tenant: Tenant, name: str = "", *, verdict: str | None
) -> Playbook:
    """The playbook asked for by ``name``, or else the one the match rules choose for the incident with
    ``verdict`` (None before triage)."""
    if name:
        return resolve(name, tenant.playbooks)
    facts = incident_facts(store, incident, verdict)
    return choose(candidates(tenant.playbooks), facts, resolve(DEFAULT))


def foresee(store: Store, tenant: Tenant, incident: IncidentView) -> IncidentView:
    """The incident as its run will see it after enrich and classify, for a plan made before triage:
    enriched from the local feeds only (a plan asks no online provider) and classified. Nothing is saved."""
    if incident.verdict is not None:
        return incident
    enriched = enrich_indicators(
        incident_indicators(incident),
        tenant=tenant.id,
        feeds=get_settings().intel_feeds,
        intel=IntelConfig(),
        incident_id=incident.id,
    )
    standing = StandingDecisions(store.engine).in_force(tenant.id)
    result = triage(
        incident_alerts(store, incident.id),
        enriched.indicators,
        tenant.policy,
        StoreTelemetry(store.engine),
        standing=standing,
    )
    verdict = result.verdict
    indicators = [
        IndicatorView(
            type=i.type.value,
            value=i.value,
            defanged=next((v.defanged for v in incident.indicators if v.value == i.value), i.value),
            field=i.field,
            provenance=[p.model_dump() for p in i.provenance],
        )
        for i in enriched.indicators
    ]
    return incident.model_copy(
        update={
            "verdict": verdict.verdict.value,
            "score": verdict.score,
            "reasons": [reason.model_dump() for reason in verdict.reasons],
            "indicators": indicators,
        }
    )
