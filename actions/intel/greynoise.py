"""GreyNoise Community API: ``GET /v3/community/{ip}`` (header ``key``, optional for the community plan).

``riot`` true (a common business service: a CDN, Google Public DNS …) or ``classification`` benign →
benign; ``classification`` malicious → malicious; unknown → no record. 404 ("IP not observed scanning the
internet or contained in RIOT data set") → no record. IPv4 only. Without an API key the community plan
allows very few lookups a day; the provider is only asked by default when a key is configured.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Any

from pydantic import Field

from .._context import ActionContext
from .._vendor import VendorSettings
from ..http import VendorPolicy
from ._answers import known
from ._provider import IntelSession, LookupInput, Provider, intel_lookup
from ._provider import register_provider as _register
from ._record import IntelRecord
from ._text import clean, iso, join

NAME = "greynoise"
SECRETS = ("greynoise_api_key",)
DOC = "https://docs.greynoise.io/reference/get_v3-community-ip"


class GreyNoiseSettings(VendorSettings):
    base_url: str = Field(default="https://api.greynoise.io", description="GreyNoise API base URL.")


def _headers(ctx: ActionContext) -> dict[str, str]:
    key = ctx.secrets.get("greynoise_api_key")
    return {"Accept": "application/json", **({"key": key.get_secret_value()} if key else {})}


PROVIDER = _register(
    Provider(
        name=NAME,
        description="GreyNoise Community: is this IP internet background noise, a business service, or bad?",
        doc_url=DOC,
        settings=GreyNoiseSettings,
        headers=_headers,
        policy=VendorPolicy(rate_per_second=1.0, burst=3, retry_after_default=60.0),
        rate=2.0,
        burst=3,
        secrets=SECRETS,
    )
)


class CommunityInput(LookupInput):
    ip: IPv4Address = Field(description="The IPv4 address to look up.")


@intel_lookup(key="greynoise.lookup_ip", inputs=CommunityInput, types=("ipv4",), doc_url=DOC)
async def lookup_ip(inputs: CommunityInput, session: IntelSession) -> list[IntelRecord]:
    """Look up an IP in GreyNoise's community data set (GET /v3/community/{ip})."""
    address = str(inputs.ip)
    data = await known(session, "GET", f"/v3/community/{address}")
    if data is None:
        return []
    classification = str(data.get("classification") or "").lower()
    name = clean(data.get("name"), 80)
    if name.lower() in ("unknown", "none"):
        name = ""
    if data.get("riot") is True:
        verdict, why = "benign", f"a common business service (RIOT){f': {name}' if name else ''}"
    elif classification == "benign":
        verdict, why = "benign", f"a benign internet scanner{f': {name}' if name else ''}"
    elif classification == "malicious":
        verdict, why = (
            "malicious",
            f"seen scanning or attacking the internet, classified malicious{f' ({name})' if name else ''}",
        )
    else:
        return []
    return [
        session.record(
            "ipv4",
            address,
            verdict,
            join([f"GreyNoise: {why}", "internet background noise" if data.get("noise") is True else ""]),
            last_seen=iso(data.get("last_seen")),
            reference=_link(data, address),
        )
    ]


def _link(data: dict[str, Any], address: str) -> str:
    # Only ever a GreyNoise address: the answer's own link is not trusted to point anywhere else.
    link = data.get("link")
    if isinstance(link, str) and link.startswith("https://viz.greynoise.io/") and clean(link, 200) == link:
        return link
    return f"https://viz.greynoise.io/ip/{address}"
