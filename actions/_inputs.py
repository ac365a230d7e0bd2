"""Input models shared by adapters of several vendors (vendor-specific ones live with their adapter)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from pydantic import BaseModel, ConfigDict, Field


class IpInput(BaseModel):
    """An IP address that intel calls malicious."""

    model_config = ConfigDict(extra="forbid")

    ip: IPv4Address | IPv6Address = Field(description="IP address to block or unblock.")
