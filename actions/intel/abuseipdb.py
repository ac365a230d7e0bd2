"""AbuseIPDB API v2: ``GET /check?ipAddress=…&maxAgeInDays=…`` with the ``Key`` header.

``abuseConfidenceScore`` (0–100) sets the verdict: from ``malicious_score`` (75) malicious, from
``suspicious_score`` (25) suspicious, below that no record. ``isWhitelisted`` (true, false or null when no
whitelist lookup was made) makes a low-scored address benign; a whitelisted address with a high score is
suspicious, never benign. The free plan allows 1,000 checks a day: calls queue, and a 429 holds the key for
its Retry-After.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pydantic import Field

from .._vendor import VendorSettings
from ..http import VendorPolicy
from ._answers import count, known, obj
from ._provider import IntelSession, LookupInput, Provider, intel_lookup
from ._provider import register_provider as _register
from ._record import IntelRecord
from ._text import clean, iso, join, plural

NAME = "abuseipdb"
SECRETS = ("abuseipdb_api_key",)
DOC = "https://docs.abuseipdb.com/#check-endpoint"


class AbuseIpdbSettings(VendorSettings):
    base_url: str = Field(
        default="https://api.abuseipdb.com/api/v2", description="AbuseIPDB API v2 base URL."
    )
    max_age_in_days: int = Field(default=90, ge=1, le=365, description="Only count reports this recent.")
    malicious_score: int = Field(default=75, ge=1, le=100, description="Confidence score for malicious.")
    suspicious_score: int = Field(default=25, ge=1, le=100, description="Confidence score for suspicious.")


PROVIDER = _register(
    Provider(
        name=NAME,
        description="AbuseIPDB: community abuse reports and a confidence score per IP address.",
        doc_url=DOC,
        settings=AbuseIpdbSettings,
        headers=lambda ctx: {"Key": ctx.secret("abuseipdb_api_key"), "Accept": "application/json"},
        policy=VendorPolicy(rate_per_second=1.0, burst=5, retry_after_default=60.0),
        rate=2.0,
        burst=5,
        secrets=SECRETS,
        required_secrets=SECRETS,
    )
)


class CheckInput(LookupInput):
    ipAddress: IPv4Address | IPv6Address = Field(description="The IPv4 or IPv6 address to check.")  # noqa: N815
    maxAgeInDays: int = Field(default=90, ge=1, le=365, description="Count reports up to this many days old.")  # noqa: N815


@intel_lookup(key="abuseipdb.lookup_ip", inputs=CheckInput, types=("ipv4", "ipv6"), doc_url=DOC)
async def lookup_ip(inputs: CheckInput, session: IntelSession) -> list[IntelRecord]:
    """Check an IP address's abuse reports (GET /check)."""
    settings: AbuseIpdbSettings = session.settings  # type: ignore[assignment]
    max_age = (
        settings.max_age_in_days if "maxAgeInDays" not in inputs.model_fields_set else inputs.maxAgeInDays
    )
    address = str(inputs.ipAddress)
    found = await known(session, "GET", "/check", params={"ipAddress": address, "maxAgeInDays": str(max_age)})
    if found is None:
        return []
    data = obj(found.get("data"))
    score = count(data.get("abuseConfidenceScore"))
    whitelisted = data.get("isWhitelisted") is True
    if score >= settings.malicious_score:
        verdict = "suspicious" if whitelisted else "malicious"
    elif score >= settings.suspicious_score:
        verdict = "suspicious"
    elif whitelisted:
        verdict = "benign"
    else:
        return []
    kind = "ipv6" if inputs.ipAddress.version == 6 else "ipv4"
    return [
        session.record(
            kind,
            address,
            verdict,
            _reason(data, score, whitelisted, max_age),
            last_seen=iso(data.get("lastReportedAt")),
            reference=f"https://www.abuseipdb.com/check/{address}",
        )
    ]


def _reason(data: dict[str, Any], score: int, whitelisted: bool, max_age: int) -> str:
    reports, users = count(data.get("totalReports")), count(data.get("numDistinctUsers"))
    network = [clean(data.get(k), 60) for k in ("usageType", "isp", "countryCode") if data.get(k)]
    return join(
        [
            f"AbuseIPDB: abuse confidence {score}% from {plural(reports, 'report')}"
            f" by {plural(users, 'user')} in {max_age} days",
            "on an AbuseIPDB whitelist" if whitelisted else "",
            "Tor exit node" if data.get("isTor") is True else "",
            ", ".join(network),
        ]
    )
