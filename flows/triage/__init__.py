"""Triage: the analyst's questions answered from intel, telemetry and the alert; an explained verdict."""

from ._classify import TriageResult, classify, destinations, triage
from ._feeds import FeedError, LocalFeeds, feeds_from
from ._telemetry import MemoryTelemetry, StoreTelemetry, Telemetry

__all__ = [
    "FeedError",
    "LocalFeeds",
    "MemoryTelemetry",
    "StoreTelemetry",
    "Telemetry",
    "TriageResult",
    "classify",
    "destinations",
    "feeds_from",
    "triage",
]
