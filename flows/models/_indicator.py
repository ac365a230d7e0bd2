"""Indicators of compromise: typing, refanging what sensors send, defanging what people read."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field


class IndicatorType(StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    DOMAIN = "domain"
    URL = "url"
    SHA256 = "sha256"
    SHA1 = "sha1"
    MD5 = "md5"
    X509_SHA1 = "x509_sha1"
    REGISTRY_VALUE = "registry_value"
    FILE_PATH = "file_path"
    ACCOUNT = "account"


class Provenance(BaseModel):
    """Why an indicator is watched: which feed listed it, as what, since when."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="Feed or provider name.")
    verdict: str = Field(description="What the source says: malicious, suspicious, benign.")
    reason: str = Field(default="", description="Why the source lists it (family, relation).")
    first_seen: str | None = Field(default=None, description="When the source first saw it (ISO 8601).")
    last_seen: str | None = Field(default=None, description="When the source last confirmed it (ISO 8601).")


class Indicator(BaseModel):
    """One observable value, normalized (refanged, lower-cased where case does not matter).

    >>> Indicator.parse("hxxp://js[.]mykings[.]top:280/v.sct").value
    'http://js.mykings.top:280/v.sct'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: IndicatorType
    value: str = Field(max_length=4096)
    field: str = Field(default="", description="Where in the alert it was found (OCSF path).")
    provenance: list[Provenance] = Field(default_factory=list)

    @classmethod
    def parse(cls, raw: str, field: str = "", hint: IndicatorType | None = None) -> Indicator | None:
        """Type and normalize ``raw``; ``None`` when it is not a recognizable indicator (or not the
        hinted type: a hostname observable ``WS-FINANCE-07`` is no domain)."""
        return _parse(raw, field, hint)

    @property
    def defanged(self) -> str:
        return defang(self.value)


_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}\.?$", re.I
)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_URL_START = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
_IPV4_SHAPE = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
_IPV6_CHARS = re.compile(r"^[0-9a-fA-F:.]+(%\w+)?$")
_HASH_BY_LENGTH = {32: IndicatorType.MD5, 40: IndicatorType.SHA1, 64: IndicatorType.SHA256}


def guess_type(value: str) -> IndicatorType | None:
    """The indicator type a refanged string looks like, or ``None``."""
    if _URL_START.match(value):
        return IndicatorType.URL
    if _HEX.match(value) and len(value) in _HASH_BY_LENGTH:
        return _HASH_BY_LENGTH[len(value)]
    if _IPV4_SHAPE.match(value) or (":" in value and _IPV6_CHARS.match(value)):
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return None
        return IndicatorType.IPV4 if address.version == 4 else IndicatorType.IPV6
    if _DOMAIN.match(value):
        return IndicatorType.DOMAIN
    return None


@lru_cache(maxsize=65_536)
def _parse(raw: str, field: str, hint: IndicatorType | None) -> Indicator | None:
    # Memoized (indicators are frozen): a storm repeats the same values thousands of times.
    typed = _typed(raw, hint)
    return None if typed is None else Indicator(type=typed[0], value=typed[1], field=field)


@lru_cache(maxsize=65_536)
def _typed(raw: str, hint: IndicatorType | None) -> tuple[IndicatorType, str] | None:
    """(type, normalized value) of a raw string, memoized: storms repeat the same indicators."""
    value = refang(raw.strip())
    if not value or len(value) > 4096:
        return None
    guessed = guess_type(value)
    kind = hint or guessed
    if kind is None or not _fits(kind, guessed):
        return None
    if kind in (IndicatorType.DOMAIN, IndicatorType.SHA256, IndicatorType.SHA1, IndicatorType.MD5):
        value = value.lower().rstrip(".")
    elif kind is IndicatorType.X509_SHA1:
        value = value.lower()
    elif kind in (IndicatorType.IPV4, IndicatorType.IPV6):
        address = ipaddress.ip_address(value)
        kind = IndicatorType.IPV4 if address.version == 4 else IndicatorType.IPV6
        value = str(address)
    elif kind is IndicatorType.URL:
        value = _normalize_url(value)
    return kind, value


_FREE_FORM = (IndicatorType.REGISTRY_VALUE, IndicatorType.FILE_PATH, IndicatorType.ACCOUNT)
_IPS = (IndicatorType.IPV4, IndicatorType.IPV6)


def _fits(kind: IndicatorType, guessed: IndicatorType | None) -> bool:
    """Whether a value that looks like ``guessed`` may be typed as ``kind``."""
    if kind in _FREE_FORM:
        return True
    if kind in _IPS:
        return guessed in _IPS
    if kind is IndicatorType.X509_SHA1:
        return guessed is IndicatorType.SHA1
    return kind is guessed


def _normalize_url(url: str) -> str:
    # Scheme and host are case-insensitive; path and query are not.
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = parts.netloc
    if host:
        userinfo, _, hostport = netloc.rpartition("@")
        hostport = hostport.lower()
        netloc = f"{userinfo}@{hostport}" if userinfo else hostport
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


_REFANG = [
    (re.compile(r"^hxxp", re.I), "http"),
    (re.compile(r"^fxp", re.I), "ftp"),
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]", re.I), "."),
    (re.compile(r"\[:\]"), ":"),
    (re.compile(r"\[/\]"), "/"),
    (re.compile(r"\[@\]|\[at\]", re.I), "@"),
]


def refang(value: str) -> str:
    """Undo common defanging so the value can be matched: ``hxxp://evil[.]com`` → ``http://evil.com``."""
    for pattern, replacement in _REFANG:
        value = pattern.sub(replacement, value)
    return value


def defang(value: str) -> str:
    """Make an indicator safe to show: no clickable scheme, no resolvable dots.

    >>> defang("http://evil.com/x")
    'hxxp://evil[.]com/x'
    """
    value = refang(value)
    value = re.sub(r"^http", "hxxp", value, flags=re.I)
    value = re.sub(r"^ftp", "fxp", value, flags=re.I)
    return value.replace(".", "[.]")


# URLs, IPv4 addresses and domain names inside free text, for defanging messages.
_TEXT_IOC = re.compile(
    r"(?:\b(?:https?|ftp|hxxps?|fxp)(?::|\[:\])//[^\s<>\"']+)"
    r"|(?:\b\d{1,3}(?:(?:\.|\[\.\])\d{1,3}){3}\b)"
    r"|(?:\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.|\[\.\]))+[a-z]{2,63}\b)",
    re.I,
)


def defang_text(text: str) -> str:
    """Defang every URL, IPv4 address and domain name found in free text."""
    return _TEXT_IOC.sub(lambda m: defang(m.group(0)), text)


@lru_cache(maxsize=16_384)
def host_of(url: str) -> str | None:
    """The host part of a URL, without credentials or port; ``None`` when it has none."""
    try:
        return urlsplit(refang(url)).hostname
    except ValueError:
        return None
