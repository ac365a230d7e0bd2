"""Fresh intel for a whole re-check run: every unique indicator of every incident asked once per tenant.

Closed incidents of one customer share their infrastructure (the same C2 domain in 200 incidents), and
online providers are rate-limited and paid per lookup: the run gathers the indicators of all its incidents
first and asks the existing enrichment once per tenant (a tenant's providers and keys are its own, so an
indicator two tenants share is asked once for each).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.models import Indicator, IndicatorType, Provenance, defang
from flows.store import IncidentView, IndicatorView
from flows.tenants import IntelConfig, Tenant
from flows.triage import enrich

_log = logging.getLogger("garrison.recheck")
Pair = tuple[str, str]  # (indicator type, value)


@dataclass
class FreshIntel:
    """What intel says now, by tenant and indicator; ``asked``: unique indicators looked up per tenant."""

    answers: dict[str, dict[Pair, list[Provenance]]] = field(default_factory=dict)
    asked: dict[str, int] = field(default_factory=dict)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, tenant: str, kind: str, value: str) -> list[Provenance]:
        return self.answers.get(tenant, {}).get((kind, value), [])

    @property
    def lookups(self) -> int:
        return sum(self.asked.values())


def fresh_intel(
    incidents: Iterable[IncidentView], tenants: dict[str, Tenant], feeds: Sequence[Path]
) -> FreshIntel:
    """Ask the local ``feeds`` and each tenant's providers about every indicator of ``incidents``, each
    unique one once per tenant, with no provenance given (so the answers are what intel says now)."""
    wanted: dict[str, dict[Pair, Indicator]] = {}
    for incident in incidents:
        if incident.tenant not in tenants:
            continue
        mine = wanted.setdefault(incident.tenant, {})
        for stored in incident.indicators:
            pair = (stored.type, stored.value)
            if pair not in mine:
                bare = _bare(stored)
                if bare is not None:
                    mine[pair] = bare
    intel = FreshIntel()
    for tenant_id, indicators in wanted.items():
        tenant = tenants[tenant_id]
        try:
            result = enrich(
                list(indicators.values()), tenant=tenant_id, feeds=list(feeds), intel=tenant.intel
            )
        except Exception as error:  # noqa: BLE001 - a tenant's broken intel config must not stop the others
            # Providers never raise (their failures are in the snapshot); a secret reference that cannot be
            # resolved does: the local feeds still answer for this tenant.
            _log.error("tenant %s: online intel unavailable for the re-check: %s", tenant_id, error)
            result = enrich(
                list(indicators.values()), tenant=tenant_id, feeds=list(feeds), intel=IntelConfig()
            )
            result.snapshot["online_error"] = f"{type(error).__name__}: {error}"[:300]
        intel.answers[tenant_id] = {(i.type.value, i.value): list(i.provenance) for i in result.indicators}
        intel.asked[tenant_id] = len(indicators)
        intel.snapshots[tenant_id] = result.snapshot
    return intel


@dataclass
class IndicatorNews:
    """An incident's indicators with what intel says now merged in, and what is new."""

    indicators: list[Indicator]
    newly_listed: list[str]
    newly_malicious: list[str]


def news(incident: IncidentView, fresh: FreshIntel) -> IndicatorNews:
    """The incident's stored indicators (their provenance as it was when enriched) plus today's answers.
    A source is new for an indicator when it did not give that verdict then (a provider's reason text
    changes from day to day: "12/83 engines" is not news); an indicator is newly malicious when a source
    calls it malicious now and none did then."""
    merged: list[Indicator] = []
    listed: list[str] = []
    malicious: list[str] = []
    for stored in incident.indicators:
        then = [Provenance.model_validate(p) for p in stored.provenance]
        now = fresh.get(incident.tenant, stored.type, stored.value)
        seen = {(p.source, p.verdict) for p in then}
        added = [p for p in now if (p.source, p.verdict) not in seen]
        indicator = _indicator(stored, [*then, *added])
        if indicator is None:
            continue
        merged.append(indicator)
        shown = f"{stored.type} {defang(stored.value)}"[:300]
        if added:
            sources = ", ".join(sorted({f"{p.source} ({p.verdict})" for p in added}))
            listed.append(f"{shown}: {sources}"[:400])
        if any(p.verdict == "malicious" for p in added) and not any(p.verdict == "malicious" for p in then):
            by = ", ".join(sorted({p.source for p in added if p.verdict == "malicious"}))
            malicious.append(f"{shown} is now listed malicious by {by}"[:400])
    return IndicatorNews(merged, listed, malicious)


def _bare(stored: IndicatorView) -> Indicator | None:
    return _indicator(stored, [])


def _indicator(stored: IndicatorView, provenance: list[Provenance]) -> Indicator | None:
    # Stored rows were validated when they were written; one edited by hand since is left out, not fatal.
    try:
        return Indicator(
            type=IndicatorType(stored.type), value=stored.value, field=stored.field, provenance=provenance
        )
    except ValueError:
        return None
