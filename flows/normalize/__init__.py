"""Alert formats: OCSF (native), Suricata EVE, Wazuh, Elastic Security, and mapped generic JSON."""

from ._generic import FieldMapping
from ._normalize import Format, Normalized, NormalizeError, TenantMismatch, detect, normalize

__all__ = [
    "FieldMapping",
    "Format",
    "NormalizeError",
    "Normalized",
    "TenantMismatch",
    "detect",
    "normalize",
]
