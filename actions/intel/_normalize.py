"""What intel adds to indicator normalization: a feed's scheme-less "URL", and which values must never
reach a third party.

The rules themselves (refanging, canonical forms, URLs without credentials) are ``actions.indicators``,
the one normalizer the engine's alert indicators go through too: a record matches an alert's indicator
whenever both were normalized, and a password in a feed or an alert is never stored nor sent to a
provider. Its names are re-exported here for the intel modules.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from actions.indicators import InvalidIndicator, guess_type, normalize, parse_any, refang

from ._text import clean

__all__ = [
    "InvalidIndicator",
    "guess_type",
    "is_public_address",
    "is_public_name",
    "normalize",
    "parse_any",
    "private_reason",
    "refang",
    "url_or_domain",
]


def url_or_domain(value: str) -> tuple[str, str]:
    """A feed's "URL" that may lack its scheme: ``evil.onion`` is a domain, ``evil.com/x`` an http URL.

    >>> url_or_domain("evil[.]onion"), url_or_domain("evil.example/x")
    (('domain', 'evil.onion'), ('url', 'http://evil.example/x'))
    """
    text = refang(value.strip())
    if guess_type(text) == "url":
        return normalize("url", text)
    try:
        return normalize("domain", text)
    except InvalidIndicator:
        pass
    host = re.split(r"[/:?#]", text, maxsplit=1)[0]
    if host and "." in host and not text.startswith(("/", "\\")):
        return normalize("url", f"http://{text}")
    raise InvalidIndicator(f"{_show(text)} is neither a URL nor a domain")


def is_public_address(value: str) -> bool:
    """Whether an IP is globally routable (a private or reserved one must never reach a third party)."""
    try:
        return ipaddress.ip_address(value).is_global
    except ValueError:
        return False


# Names that only mean something inside a network: asking a public service about them leaks them.
_INTERNAL_SUFFIXES = (
    ".local", ".localhost", ".localdomain", ".internal", ".intranet", ".lan", ".home", ".home.arpa",
    ".corp", ".private", ".test", ".example", ".invalid", ".arpa",
)  # fmt: skip
_IPV4_SHAPE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def is_public_name(domain: str) -> bool:
    # A single label (``http://ws-finance-07/``) is resolved by the local network's search domains.
    return "." in domain and not f".{domain}".endswith(_INTERNAL_SUFFIXES)


def private_reason(kind: str, value: str) -> str | None:
    """Why a normalized indicator must not be sent to a third party (None: it may be).

    >>> private_reason("url", "http://10.0.0.5/x"), private_reason("domain", "evil.com")
    ('private or reserved address: not sent to a third party', None)
    >>> private_reason("url", "http://ws-finance-07/share")
    'internal name: not sent to a third party'
    """
    host = value
    if kind == "url":
        host = (urlsplit(value).hostname or "").strip("[]")
        kind = "ipv4" if _IPV4_SHAPE.match(host) or ":" in host else "domain"
    if kind in ("ipv4", "ipv6") and not is_public_address(host):
        return "private or reserved address: not sent to a third party"
    if kind == "domain" and not is_public_name(host):
        return "internal name: not sent to a third party"
    return None


_USERINFO = re.compile(r"(//)[^/@\s]*@")


def _show(text: str) -> str:
    # Quoted in reasons and logs: never with the credentials a URL may carry.
    return repr(clean(_USERINFO.sub(r"\1***@", text), 60))
