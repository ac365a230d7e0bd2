"""ThreatFox (abuse.ch): ``POST /api/v1/`` with ``{"query": "search_ioc", "search_term": …}``, header
``Auth-Key``.

ThreatFox lists IPs as ``ip:port``: an address is searched without ``exact_match`` and every entry for
that address (any port) counts; other indicators are searched exactly. Each listed malware family gives
one record, malicious when ``confidence_level`` reaches ``malicious_confidence`` (50), suspicious below.
``query_status`` ``no_result`` is no record; any other non-``ok`` status (``illegal_search_term``,
``unknown_auth_key`` …) is a failure.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .._errors import PermanentError
from .._vendor import VendorSettings
from ._abusech import abusech_provider, search
from ._answers import count, obj, texts
from ._normalize import InvalidIndicator, normalize, parse_any
from ._provider import IntelSession, LookupInput, intel_lookup
from ._record import IntelRecord
from ._text import clean, iso, join

NAME = "threatfox"
DOC = "https://threatfox.abuse.ch/api/#search-ioc"
_TYPES = ("ipv4", "domain", "url", "md5", "sha256")


class ThreatFoxSettings(VendorSettings):
    base_url: str = Field(default="https://threatfox-api.abuse.ch", description="ThreatFox API base URL.")
    malicious_confidence: int = Field(
        default=50, ge=0, le=100, description="Confidence for a malicious verdict."
    )


PROVIDER = abusech_provider(
    NAME,
    "ThreatFox: IOCs (C2 servers, payload URLs and hashes) tied to malware families.",
    DOC,
    ThreatFoxSettings,
)


class SearchInput(LookupInput):
    search_term: str = Field(min_length=1, max_length=4096, description="The IOC to search for.")
    exact_match: bool = Field(default=True, description="Only IOCs equal to the search term.")


def _inputs(kind: str, value: str) -> SearchInput:
    return SearchInput(search_term=value, exact_match=kind != "ipv4")


@intel_lookup(key="threatfox.lookup_ioc", inputs=SearchInput, types=_TYPES, to_inputs=_inputs, doc_url=DOC)
async def lookup_ioc(inputs: SearchInput, session: IntelSession) -> list[IntelRecord]:
    """Search ThreatFox for an IOC (search_ioc)."""
    try:
        kind, value = parse_any(inputs.search_term)
    except InvalidIndicator as error:
        raise PermanentError(f"threatfox: {error}") from None
    payload = {"query": "search_ioc", "search_term": value, "exact_match": inputs.exact_match}
    data = await search(session, "/api/v1/", not_listed={"no_result"}, json=payload)
    if data is None:
        return []
    settings: ThreatFoxSettings = session.settings  # type: ignore[assignment]
    by_family: dict[str, list[dict[str, Any]]] = {}
    items = data.get("data")
    for item in items if isinstance(items, list) else []:
        entry = obj(item)
        if _same(kind, value, entry.get("ioc")):
            family = clean(entry.get("malware_printable") or entry.get("malware"), 60) or "unknown malware"
            by_family.setdefault(family, []).append(entry)
    return [
        _record(session, kind, value, family, entries, settings.malicious_confidence)
        for family, entries in list(by_family.items())[:5]
    ]


def _same(kind: str, value: str, ioc: Any) -> bool:
    if not isinstance(ioc, str):
        return False
    if kind == "ipv4":
        host, _, port = ioc.rpartition(":")
        ioc = host if port.isdigit() else ioc
    try:
        return normalize(kind, ioc) == (kind, value)
    except InvalidIndicator:
        return False


def _record(
    session: IntelSession, kind: str, value: str, family: str, entries: list[dict[str, Any]], threshold: int
) -> IntelRecord:
    best = max(count(e.get("confidence_level")) for e in entries)
    threats = texts([e.get("threat_type") for e in entries], 2)
    ports = texts([str(e.get("ioc")).rpartition(":")[2] for e in entries if kind == "ipv4"], 3, 6)
    tags = texts([t for e in entries for t in (e.get("tags") or [])], 4)
    reason = join(
        [
            f"ThreatFox: {' / '.join(threats) or 'IOC'} of {family} (confidence {best}%)",
            f"port {', '.join(ports)}" if ports else "",
            f"tags: {', '.join(tags)}" if tags else "",
        ]
    )
    ids = [str(e.get("id")) for e in entries if str(e.get("id", "")).isdigit()]
    return session.record(
        kind,
        value,
        "malicious" if best >= threshold else "suspicious",
        reason,
        first_seen=min((d for e in entries if (d := iso(e.get("first_seen")))), default=None),
        last_seen=max((d for e in entries if (d := iso(e.get("last_seen")))), default=None),
        reference=f"https://threatfox.abuse.ch/ioc/{ids[0]}/" if ids else None,
    )
