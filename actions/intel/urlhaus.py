"""URLhaus (abuse.ch): ``POST /v1/url/`` (form ``url``) and ``POST /v1/host/`` (form ``host``), header
``Auth-Key``.

``query_status`` ``ok`` lists the indicator, ``no_results`` (and ``invalid_url``/``invalid_host``) means
not listed; any other value — sanitised sample answers say ``"query_status": "query_status"`` — is an
unusable answer, reported as a failure and never read further. A URL URLhaus lists is a malware
distribution URL: malicious, with its threat, tags and status. A host that served malware URLs may be a
hacked or shared site (a code host, a file share): it is malicious only when Spamhaus DBL lists it as
the adversary's own (spam, phishing, malware, botnet C&C domain), otherwise suspicious. Values inside the
answer (its host, its URL list) never become indicators: the record names what was asked.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .._vendor import VendorSettings
from ._abusech import abusech_provider, search
from ._answers import count, obj, texts
from ._provider import DomainValue, IntelSession, IpValue, LookupInput, UrlValue, intel_lookup
from ._record import IntelRecord
from ._text import clean, iso, join, latest

NAME = "urlhaus"
DOCS = "https://urlhaus-api.abuse.ch/"
_NOT_LISTED = {"no_results", "invalid_url", "invalid_host"}
_ADVERSARY_DOMAINS = {"spammer_domain", "phishing_domain", "botnet_cc_domain", "malware_domain"}


class UrlhausSettings(VendorSettings):
    base_url: str = Field(default="https://urlhaus-api.abuse.ch/v1", description="URLhaus API base URL.")


PROVIDER = abusech_provider(
    NAME, "URLhaus: URLs and hosts used to distribute malware.", DOCS, UrlhausSettings
)


class UrlInput(LookupInput):
    url: UrlValue = Field(description="The URL to look up.")


class HostInput(LookupInput):
    host: DomainValue | IpValue = Field(description="The host (domain name or IPv4 address) to look up.")


@intel_lookup(key="urlhaus.lookup_url", inputs=UrlInput, types=("url",), doc_url=f"{DOCS}#urlinfo")
async def lookup_url(inputs: UrlInput, session: IntelSession) -> list[IntelRecord]:
    """Look up a URL (POST /url/)."""
    data = await search(session, "/url/", not_listed=_NOT_LISTED, data={"url": inputs.url})
    if data is None:
        return []
    status = clean(data.get("url_status"), 20)
    tags = texts(data.get("tags"), 4)
    payloads = [obj(p) for p in data.get("payloads") or [] if isinstance(p, dict)]
    signatures = texts([p.get("signature") for p in payloads], 3)
    reason = join(
        [
            f"URLhaus: {clean(data.get('threat'), 40) or 'listed'}"
            + (f" ({', '.join(tags)})" if tags else ""),
            f"status {status}" if status else "",
            f"payloads: {', '.join(signatures)}" if signatures else "",
            f"reported by {clean(data.get('reporter'), 40)}" if data.get("reporter") else "",
        ]
    )
    # "online" is what URLhaus saw on its last check: the listing is confirmed as of now.
    last = iso(data.get("last_online")) or (session.now() if status == "online" else None)
    return [
        session.record(
            "url",
            inputs.url,
            "malicious",
            reason,
            first_seen=iso(data.get("date_added")),
            last_seen=last,
            reference=_reference(data),
        )
    ]


@intel_lookup(
    key="urlhaus.lookup_host", inputs=HostInput, types=("domain", "ipv4"), doc_url=f"{DOCS}#hostinfo"
)
async def lookup_host(inputs: HostInput, session: IntelSession) -> list[IntelRecord]:
    """Look up a host: the malware URLs it served (POST /host/)."""
    data = await search(session, "/host/", not_listed=_NOT_LISTED, data={"host": inputs.host})
    if data is None:
        return []
    urls = [obj(u) for u in data.get("urls") or [] if isinstance(u, dict)]
    online = sum(1 for u in urls if u.get("url_status") == "online")
    listed = max(count(data.get("url_count")), len(urls))
    dbl = str(obj(data.get("blacklists")).get("spamhaus_dbl") or "")
    verdict = "malicious" if dbl in _ADVERSARY_DOMAINS else "suspicious"
    tags = texts([t for u in urls for t in (u.get("tags") or [])], 4)
    reason = join(
        [
            f"URLhaus: served {listed} malware URLs, {online} online now",
            f"tags: {', '.join(tags)}" if tags else "",
            f"Spamhaus DBL: {clean(dbl, 40)}" if dbl and dbl != "not listed" else "",
        ]
    )
    last = session.now() if online else latest(*(iso(u.get("date_added")) for u in urls))
    kind = "ipv4" if all(c.isdigit() or c == "." for c in inputs.host) else "domain"
    return [
        session.record(
            kind,
            inputs.host,
            verdict,
            reason,
            first_seen=iso(data.get("firstseen")),
            last_seen=last,
            reference=_reference(data),
        )
    ]


def _reference(data: dict[str, Any]) -> str | None:
    link = data.get("urlhaus_reference")
    if isinstance(link, str) and link.startswith("https://urlhaus.abuse.ch/") and clean(link, 200) == link:
        return link
    return None
