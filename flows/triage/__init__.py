"""Triage: the analyst's questions answered from intel, telemetry and the alert; an explained verdict."""

from ._classify import TriageResult, classify, triage
from ._destinations import destinations
from ._enrich import Enrichment, enrich, local_index
from ._evaluate import LABELS, Evaluation, evaluate
from ._offline import TriageInputError, triage_files
from ._standing import covers, scopes_of
from ._telemetry import MemoryTelemetry, StoreTelemetry, Telemetry

__all__ = [
    "LABELS",
    "Enrichment",
    "Evaluation",
    "TriageInputError",
    "evaluate",
    "triage_files",
    "MemoryTelemetry",
    "StoreTelemetry",
    "Telemetry",
    "TriageResult",
    "classify",
    "covers",
    "scopes_of",
    "destinations",
    "enrich",
    "local_index",
    "triage",
]
