"""Triage: the analyst's questions answered from intel, telemetry and the alert; an explained verdict."""

from ._classify import TriageResult, classify, destinations, triage
from ._enrich import Enrichment, enrich, local_index
from ._telemetry import MemoryTelemetry, StoreTelemetry, Telemetry

__all__ = [
    "Enrichment",
    "MemoryTelemetry",
    "StoreTelemetry",
    "Telemetry",
    "TriageResult",
    "classify",
    "destinations",
    "enrich",
    "local_index",
    "triage",
]
