"""Input models shared by adapters of several vendors (vendor-specific ones live with their adapter)."""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address

from pydantic import BaseModel, ConfigDict, Field

from .indicators import InvalidIndicator, normalize

# After normalizing (IDNA, lower case, no trailing dot): plain labels only, so no wildcard, quote,
# separator or whitespace from an alert reaches a vendor filter (FQL, OData), an indicator list or a zone.
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def plain_domain(value: str) -> str:
    """``value`` as a plain domain name a vendor can be given, or ValueError (a pydantic validator).

    >>> plain_domain("JS.MyKings.TOP.")
    'js.mykings.top'
    """
    try:
        _, domain = normalize("domain", value)
    except InvalidIndicator as error:
        raise ValueError(f"not a domain: {error}") from None
    if not _DOMAIN.match(domain):
        raise ValueError("not a plain domain name (no wildcard, quote, separator or space)")
    return domain


class IpInput(BaseModel):
    """An IP address that intel calls malicious."""

    model_config = ConfigDict(extra="forbid")

    ip: IPv4Address | IPv6Address = Field(description="IP address to block or unblock.")
