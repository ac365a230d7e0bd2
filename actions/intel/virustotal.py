"""VirusTotal API v3: files, domains, IP addresses and URLs (``GET /{collection}/{id}``, ``x-apikey``).

The verdict comes from ``last_analysis_stats``: at least ``malicious_engines`` engines (default 3) saying
malicious is malicious, fewer or any "suspicious" is suspicious, none is no record (no engine knowing an
indicator is absence of evidence, not a benign verdict). 404 ``NotFoundError`` means VirusTotal does not
know it: no record. A URL's id is its base64url form without padding. The answer's own ``id`` and
``links`` are not trusted (sanitised fixtures carry placeholders such as ``:domain_id:``): the record names
the indicator that was asked. Public API keys allow 4 lookups a minute: the default limit.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote

from pydantic import Field

from .._vendor import VendorSettings
from ..http import VendorPolicy
from ._answers import count, known, obj, texts
from ._provider import (
    DomainValue,
    HashValue,
    IntelSession,
    IpValue,
    LookupInput,
    Provider,
    UrlValue,
    intel_lookup,
)
from ._provider import register_provider as _register
from ._record import IntelRecord
from ._text import iso, join

NAME = "virustotal"
_THREAT_WORDS = re.compile(
    r"malware|malicious|phish|command|c2|infection|botnet|spam|suspicious|exploit", re.I
)
SECRETS = ("virustotal_api_key",)
DOCS = "https://docs.virustotal.com/reference"


class VirusTotalSettings(VendorSettings):
    base_url: str = Field(
        default="https://www.virustotal.com/api/v3", description="VirusTotal API v3 base URL."
    )
    malicious_engines: int = Field(
        default=3, ge=1, description="Engines that must say malicious for a malicious verdict."
    )


PROVIDER = _register(
    Provider(
        name=NAME,
        description="VirusTotal: multi-engine verdicts on files, domains, IP addresses and URLs.",
        doc_url=f"{DOCS}/overview",
        settings=VirusTotalSettings,
        headers=lambda ctx: {"x-apikey": ctx.secret("virustotal_api_key"), "Accept": "application/json"},
        # Public API: 4 requests a minute (500 a day) per key; premium keys raise it in the settings.
        policy=VendorPolicy(rate_per_second=4 / 60, burst=4, retry_after_default=60.0),
        rate=1.0,
        burst=4,
        secrets=SECRETS,
        required_secrets=SECRETS,
    )
)


class FileInput(LookupInput):
    id: HashValue = Field(description="SHA-256, SHA-1 or MD5 of the file.")


class DomainInput(LookupInput):
    domain: DomainValue = Field(description="Domain name.")


class IpInput(LookupInput):
    ip: IpValue = Field(description="IPv4 or IPv6 address.")


class UrlInput(LookupInput):
    url: UrlValue = Field(description="URL; its identifier is sent as base64url without padding.")


def url_id(url: str) -> str:
    """VirusTotal's URL identifier.

    >>> url_id("http://js.mykings.top:280/v.sct")
    'aHR0cDovL2pzLm15a2luZ3MudG9wOjI4MC92LnNjdA'
    """
    return base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


@intel_lookup(
    key="virustotal.lookup_file",
    inputs=FileInput,
    types=("md5", "sha1", "sha256"),
    doc_url=f"{DOCS}/file-info",
)
async def lookup_file(inputs: FileInput, session: IntelSession) -> list[IntelRecord]:
    """Get a file report by hash (GET /files/{id})."""
    kind = {32: "md5", 40: "sha1", 64: "sha256"}[len(inputs.id)]
    return await _lookup(session, f"/files/{inputs.id}", kind, inputs.id, f"file/{inputs.id}")


@intel_lookup(
    key="virustotal.lookup_domain", inputs=DomainInput, types=("domain",), doc_url=f"{DOCS}/domain-info"
)
async def lookup_domain(inputs: DomainInput, session: IntelSession) -> list[IntelRecord]:
    """Get a domain report (GET /domains/{domain})."""
    return await _lookup(
        session,
        f"/domains/{quote(inputs.domain, safe='')}",
        "domain",
        inputs.domain,
        f"domain/{inputs.domain}",
    )


@intel_lookup(key="virustotal.lookup_ip", inputs=IpInput, types=("ipv4", "ipv6"), doc_url=f"{DOCS}/ip-info")
async def lookup_ip(inputs: IpInput, session: IntelSession) -> list[IntelRecord]:
    """Get an IP address report (GET /ip_addresses/{ip})."""
    kind = "ipv6" if ":" in inputs.ip else "ipv4"
    return await _lookup(
        session, f"/ip_addresses/{quote(inputs.ip, safe='')}", kind, inputs.ip, f"ip-address/{inputs.ip}"
    )


@intel_lookup(key="virustotal.lookup_url", inputs=UrlInput, types=("url",), doc_url=f"{DOCS}/url-info")
async def lookup_url(inputs: UrlInput, session: IntelSession) -> list[IntelRecord]:
    """Get a URL report (GET /urls/{id}, id = base64url of the URL without padding)."""
    return await _lookup(session, f"/urls/{url_id(inputs.url)}", "url", inputs.url, None)


async def _lookup(
    session: IntelSession, path: str, kind: str, value: str, gui: str | None
) -> list[IntelRecord]:
    found = await known(session, "GET", path)
    if found is None:
        return []
    attributes = obj(obj(found.get("data")).get("attributes"))
    stats = obj(attributes.get("last_analysis_stats"))
    settings: VirusTotalSettings = session.settings  # type: ignore[assignment]
    malicious, suspicious = count(stats.get("malicious")), count(stats.get("suspicious"))
    if malicious >= settings.malicious_engines:
        verdict = "malicious"
    elif malicious or suspicious:
        verdict = "suspicious"
    else:
        return []
    total = sum(count(v) for v in stats.values())
    detections = f"{malicious} of {total} engines flag it malicious" + (
        f", {suspicious} suspicious" if suspicious else ""
    )
    return [
        session.record(
            kind,
            value,
            verdict,
            join([f"VirusTotal: {detections}", *_details(kind, attributes)]),
            first_seen=iso(attributes.get("first_submission_date")),
            last_seen=iso(attributes.get("last_analysis_date"))
            or iso(attributes.get("last_modification_date")),
            reference=f"https://www.virustotal.com/gui/{gui}" if gui else None,
        )
    ]


def _details(kind: str, attributes: dict[str, Any]) -> list[str]:
    found: list[str] = []
    threat = obj(attributes.get("popular_threat_classification"))
    if isinstance(threat.get("suggested_threat_label"), str):
        found.append(f"labelled {threat['suggested_threat_label']}")
    found += [f"threat {name}" for name in texts(attributes.get("threat_names"), 2)]
    # Vendors' categories mix "information technology" with "command and control": the telling ones first.
    categories = texts(attributes.get("categories"), 10)
    categories = sorted(categories, key=lambda c: not _THREAT_WORDS.search(c))[:3]
    if categories:
        found.append(f"categories: {', '.join(categories)}")
    registered = iso(attributes.get("creation_date")) if kind == "domain" else None
    if registered:
        found.append(f"registered {registered[:10]}")
    owner = texts([attributes.get("as_owner"), attributes.get("country")], 2)
    if kind in ("ipv4", "ipv6") and owner:
        found.append(f"network {' / '.join(owner)}")
    reputation = attributes.get("reputation")
    if isinstance(reputation, int) and not isinstance(reputation, bool) and reputation < 0:
        found.append(f"community reputation {reputation}")
    tags = texts(attributes.get("tags"), 3)
    if tags:
        found.append(f"tags: {', '.join(tags)}")
    return found
