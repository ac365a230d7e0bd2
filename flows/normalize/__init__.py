"""Alert formats: OCSF (native), Suricata EVE, Wazuh, Elastic Security, and mapped generic JSON."""

from ._generic import FieldMapping
from ._normalize import Format, Normalized, NormalizeError, TenantMismatch, detect, normalize
from ._paths import get, text

__all__ = [
    "FieldMapping",
    "Format",
    "NormalizeError",
    "Normalized",
    "TenantMismatch",
    "detect",
    "get",
    "normalize",
    "text",
]
