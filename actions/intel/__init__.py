"""Threat intel for triage: local feeds (STIX 2.1, MISP, CSV, plain lists) and online providers
(VirusTotal, AbuseIPDB, GreyNoise, URLhaus, ThreatFox, MISP), as ``IntelRecord``s with provenance.

- ``load_feed(path)`` / ``parse_feed(path)`` read a local feed (format detected from the content);
  ``IntelIndex`` answers look-ups over many feeds, ranges included.
- ``await lookup(indicators, tenant=…, secrets=…)`` asks the online providers, deduplicated, cached per
  indicator type (``IntelCache``; ``SharedIntelCache`` keeps them in the store for every worker) and
  within queueing rate limits per tenant key and per provider;
  failures come back in ``LookupResult.failures`` and never raise.
- Providers register in ``intel_registry`` (``<provider>.lookup_<object>`` keys, strict pydantic inputs,
  declared secrets, doc links). Depends on nothing in ``flows``.
- ``normalize`` / ``guess_type`` / ``refang`` are ``actions.indicators``'s, the one indicator normalizer
  (alerts go through it too), re-exported.
"""

from actions.indicators import InvalidIndicator, guess_type, normalize, refang

from ._cache import DEFAULT_NEGATIVE_TTLS, DEFAULT_TTLS, IntelCache, default_cache
from ._lookup import LookupResult, NotAsked, ProviderFailure, lookup
from ._provider import (
    IntelRegistry,
    IntelSession,
    IntelSpec,
    LookupInput,
    Provider,
    intel_lookup,
    intel_registry,
    register_provider,
)
from ._record import INDICATOR_TYPES, VERDICTS, IntelRecord
from ._shared_cache import IntelMetadata, SharedIntelCache, shared_cache
from .feeds import FeedError, FeedResult, IntelIndex, IntelNetwork, Skipped, load_feed, parse_feed

__all__ = [
    "DEFAULT_NEGATIVE_TTLS",
    "DEFAULT_TTLS",
    "INDICATOR_TYPES",
    "VERDICTS",
    "FeedError",
    "FeedResult",
    "IntelCache",
    "IntelIndex",
    "IntelMetadata",
    "IntelNetwork",
    "IntelRecord",
    "IntelRegistry",
    "IntelSession",
    "IntelSpec",
    "InvalidIndicator",
    "LookupInput",
    "LookupResult",
    "NotAsked",
    "Provider",
    "ProviderFailure",
    "SharedIntelCache",
    "Skipped",
    "default_cache",
    "guess_type",
    "intel_lookup",
    "intel_registry",
    "load_feed",
    "lookup",
    "normalize",
    "parse_feed",
    "refang",
    "register_provider",
    "shared_cache",
]
