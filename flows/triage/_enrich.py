"""Enrichment: what intel says about an incident's indicators — local feeds in any format, and the
tenant's online providers — snapshotted as provenance (C2 infrastructure is short-lived)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from actions import resolve_secrets
from actions.intel import IntelIndex, IntelRecord, intel_registry, lookup, parse_feed
from flows.models import Indicator, Provenance
from flows.tenants import IntelConfig

_log = logging.getLogger("garrison.triage")
_ASKABLE = ("ipv4", "ipv6", "domain", "url", "sha256", "sha1", "md5", "x509_sha1")


@dataclass
class Enrichment:
    indicators: list[Indicator]
    snapshot: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=8)
def _index(paths: tuple[Path, ...], mtimes: tuple[int, ...]) -> IntelIndex:
    return IntelIndex.of(parse_feed(path) for path in paths)


def local_index(paths: Sequence[Path]) -> IntelIndex:
    """All local feeds as one index, re-read when a file changes."""
    ordered = tuple(paths)
    return _index(ordered, tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in ordered))


def _provenance(record: IntelRecord) -> Provenance:
    return Provenance(
        source=record.source,
        verdict=record.verdict,
        reason=record.reason,
        first_seen=record.first_seen,
        last_seen=record.last_seen,
    )


def _add(indicator: Indicator, records: Sequence[IntelRecord]) -> Indicator:
    known = {(p.source, p.verdict, p.reason) for p in indicator.provenance}
    extra = [_provenance(r) for r in records if (r.source, r.verdict, r.reason) not in known]
    return (
        indicator.model_copy(update={"provenance": [*indicator.provenance, *extra]}) if extra else indicator
    )


def enrich(
    indicators: Sequence[Indicator],
    *,
    tenant: str,
    feeds: Sequence[Path],
    intel: IntelConfig,
    incident_id: str = "",
) -> Enrichment:
    """Local feeds first, then the tenant's online providers (if any); a failing provider is recorded in
    the snapshot and never stops the rest."""
    index = local_index([p for p in feeds if p.exists()])
    enriched = [_add(i, index.get(i.type.value, i.value)) for i in indicators]
    snapshot: dict[str, Any] = {"local_feeds": [str(p) for p in feeds]}
    if intel.providers:
        pairs = [(i.type.value, i.value) for i in enriched if i.type.value in _ASKABLE]
        secrets = resolve_secrets(intel_registry.declared_secrets(), intel.secrets)
        answers = asyncio.run(
            lookup(
                pairs,
                tenant=tenant,
                providers=intel.providers,
                secrets=secrets,
                settings=intel.settings,
                incident_id=incident_id,
            )
        )
        enriched = [_add(i, answers.get((i.type.value, i.value), [])) for i in enriched]
        snapshot["online"] = answers.snapshot()
        for failure in answers.failures:
            _log.warning("intel provider %s failed: %s", failure.provider, failure.error)
    return Enrichment(indicators=enriched, snapshot=snapshot)
