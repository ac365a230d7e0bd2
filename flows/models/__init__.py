"""Garrison's domain models (pydantic): alerts, indicators, verdicts and incidents."""

from actions.indicators import refang

from ._alert import (
    MAX_ATTACKS,
    Alert,
    Device,
    FindingInfo,
    Metadata,
    Observable,
    Product,
    RegistryValueRef,
    attack_name,
    tactic_uid,
    technique_uid,
)
from ._cloud import MAX_RESOURCES, CloudAccount, CloudResource
from ._indicator import Indicator, IndicatorType, Provenance, defang, defang_text, host_of
from ._text_iocs import iocs_in_text
from ._verdict import Reason, Verdict, VerdictLabel

__all__ = [
    "MAX_ATTACKS",
    "MAX_RESOURCES",
    "Alert",
    "CloudAccount",
    "CloudResource",
    "Device",
    "FindingInfo",
    "Indicator",
    "IndicatorType",
    "Metadata",
    "Observable",
    "Product",
    "Provenance",
    "Reason",
    "RegistryValueRef",
    "Verdict",
    "VerdictLabel",
    "attack_name",
    "defang",
    "defang_text",
    "host_of",
    "iocs_in_text",
    "refang",
    "tactic_uid",
    "technique_uid",
]
