"""Which playbook an incident runs: the facts its match rules look at, read from the incident."""

from __future__ import annotations

from flows.store import IncidentView, Store
from flows.tenants import Tenant
from playbooks import DEFAULT, Facts, Playbook, candidates, choose, resolve

from ._steps import incident_alerts


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
