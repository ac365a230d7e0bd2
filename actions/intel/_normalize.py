"""Indicator values made comparable: refanged, typed, canonical — or refused with a reason.

Feeds and alerts write the same indicator many ways (``hxxp://Evil[.]com``, ``EVIL.com.``, upper-case
hashes, ``::FFFF:0:1``). Intel records carry the canonical form, so a record matches an alert's indicator
whenever both went through ``normalize``. URLs lose their credentials: a password in a feed or an alert is
never stored nor sent to a provider.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from ._record import INDICATOR_TYPES
from ._text import clean


class InvalidIndicator(ValueError):
    """The value is not a usable indicator of the given type; the message says why."""


_REFANG = [
    (re.compile(r"^hxxp", re.I), "http"),
    (re.compile(r"^fxp", re.I), "ftp"),
    (re.compile(r"\[://\]"), "://"),
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)", re.I), "."),
    (re.compile(r"\[:\]"), ":"),
    (re.compile(r"\[/\]"), "/"),
    (re.compile(r"\[@\]|\[at\]", re.I), "@"),
]
_HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "x509_sha1": 40}
_TYPE_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(r"^[0-9a-f]+$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,15}://", re.I)
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+(?!-)[a-z][a-z0-9-]{{1,62}}(?<!-)$")
_IPV4_SHAPE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
MAX_URL = 4096


def refang(value: str) -> str:
    """Undo common defanging: ``hxxp://evil[.]com`` → ``http://evil.com``."""
    for pattern, replacement in _REFANG:
        value = pattern.sub(replacement, value)
    return value


def normalize(kind: str, value: str) -> tuple[str, str]:
    """(type, canonical value) of ``value`` read as ``kind``; raises InvalidIndicator saying why.

    ``kind`` is an intel indicator type, or ``ip`` / ``hash`` to let the value decide which one.

    >>> normalize("url", "hxxp://user:pw@JS[.]MyKings[.]top:280/v.sct")
    ('url', 'http://js.mykings.top:280/v.sct')
    >>> normalize("ip", "::FFFF:0a00:0001")
    ('ipv6', '::ffff:a00:1')
    """
    if not isinstance(value, str):
        raise InvalidIndicator(f"not text ({type(value).__name__})")
    text = refang(value.strip())
    if not text:
        raise InvalidIndicator("empty value")
    if len(text) > MAX_URL:
        raise InvalidIndicator(f"value of {len(text)} characters is too long")
    if _BAD_CHARS.search(text):
        raise InvalidIndicator(f"{_show(text)} contains whitespace or control characters")
    if kind in ("ip", "ipv4", "ipv6"):
        return _ip(text)
    if kind == "domain":
        return "domain", _domain(text)
    if kind == "url":
        return "url", _url(text)
    if kind == "hash":
        found = _TYPE_BY_LENGTH.get(len(text))
        if found is None:
            raise InvalidIndicator(f"{_show(text)} is no MD5, SHA-1 or SHA-256 hash")
        kind = found
    if kind in _HASH_LENGTHS:
        return kind, _hash(kind, text)
    raise InvalidIndicator(f"unknown indicator type {clean(kind, 40)!r}; known: {', '.join(INDICATOR_TYPES)}")


def guess_type(value: str) -> str | None:
    """The intel indicator type a (refanged) value looks like, or None.

    >>> [guess_type(v) for v in ("1.2.3.4", "evil.com", "http://evil.com/x", "d41d8cd98f00b204" * 2)]
    ['ipv4', 'domain', 'url', 'md5']
    """
    text = refang(value.strip())
    if _SCHEME.match(text):
        return "url"
    if _HEX.match(text.lower()) and len(text) in _TYPE_BY_LENGTH:
        return _TYPE_BY_LENGTH[len(text)]
    if _IPV4_SHAPE.match(text) or ":" in text:
        try:
            return _ip(text)[0]
        except InvalidIndicator:
            return None
    try:
        _domain(text)
    except InvalidIndicator:
        return None
    return "domain"


def parse_any(value: str) -> tuple[str, str]:
    """(type, canonical value) of a value whose type is not given; raises InvalidIndicator."""
    kind = guess_type(value)
    if kind is None:
        raise InvalidIndicator(f"{_show(value)} is no IP, domain, URL or hash")
    return normalize(kind, value)


def url_or_domain(value: str) -> tuple[str, str]:
    """A feed's "URL" that may lack its scheme: ``evil.onion`` is a domain, ``evil.com/x`` an http URL."""
    text = refang(value.strip())
    if _SCHEME.match(text):
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


def is_public_name(domain: str) -> bool:
    return not f".{domain}".endswith(_INTERNAL_SUFFIXES)


def private_reason(kind: str, value: str) -> str | None:
    """Why a normalized indicator must not be sent to a third party (None: it may be).

    >>> private_reason("url", "http://10.0.0.5/x"), private_reason("domain", "evil.com")
    ('private or reserved address: not sent to a third party', None)
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


def _ip(text: str) -> tuple[str, str]:
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if "%" in bare:
        raise InvalidIndicator(f"{_show(text)} has a zone index: not a routable address")
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        raise InvalidIndicator(f"{_show(text)} is no IP address") from None
    return ("ipv4" if address.version == 4 else "ipv6"), str(address)


def _domain(text: str) -> str:
    name = text.lower().rstrip(".")
    if name.startswith("*."):
        raise InvalidIndicator(f"{_show(text)} is a wildcard, not one domain")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidIndicator(f"{_show(text)} is no valid internationalized domain name") from None
    if len(name) > 253 or not _DOMAIN.match(name):
        raise InvalidIndicator(f"{_show(text)} is no domain name")
    return name


def _url(text: str) -> str:
    if not _SCHEME.match(text):
        raise InvalidIndicator(f"{_show(text)} is no URL (no scheme://)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise InvalidIndicator(f"{_show(text)} is no URL ({error})") from None
    host = parts.hostname
    if not host:
        raise InvalidIndicator(f"{_show(text)} is no URL (no host)")
    if host.startswith("[") or ":" in host or _IPV4_SHAPE.match(host):
        kind, address = _ip(host)
        host = f"[{address}]" if kind == "ipv6" else address
    else:
        host = _domain(host)
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def _hash(kind: str, text: str) -> str:
    digest = text.lower().replace(":", "") if kind == "x509_sha1" else text.lower()
    if len(digest) != _HASH_LENGTHS[kind] or not _HEX.match(digest):
        raise InvalidIndicator(f"{_show(text)} is no {kind.replace('_', ' ').upper()} hash")
    return digest
