"""Alert formats: OCSF (native), Suricata EVE, Wazuh, Elastic Security, and mapped generic JSON."""

from ._check import Conformance, conformance
from ._errors import NormalizeError, TenantMismatch
from ._generic import FieldMapping
from ._normalize import Format, Normalized, detect, normalize
from ._paths import get, text

__all__ = [
    "Conformance",
    "FieldMapping",
    "Format",
    "NormalizeError",
    "Normalized",
    "TenantMismatch",
    "conformance",
    "detect",
    "get",
    "normalize",
    "text",
]
