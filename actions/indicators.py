"""Indicator values made comparable: refanged, typed, canonical — or refused with a reason.

The one indicator normalizer. Intel feeds and providers (``actions.intel``) and the engine's alert
indicators (``flows.models.Indicator.parse``) both go through ``normalize``, so an intel record matches an
alert's indicator whenever both name the same thing. It lives in ``actions`` because adapters may not
import the engine, while the engine may import adapters.

Feeds and sensors write one indicator many ways; ``normalize`` gives one:

- refanged: ``hxxp``/``hxxps``/``fxp`` schemes; ``[.]`` ``(.)`` ``{.}`` ``[dot]`` ``(dot)``; ``[://]``
  ``[:]//`` ``:[//]`` ``http:\\\\``; ``[@]`` ``[at]``;
- domains lower-case, internationalized names in punycode (UTS 46, as browsers), no trailing dot;
- IP addresses canonical; an IPv4-mapped IPv6 address (``::ffff:1.2.3.4``, how a dual-stack socket
  writes an IPv4 peer) is that IPv4 address;
- URLs with scheme and host lower-case, the host canonical as above (a numeric host as browsers read
  it: ``http://3735928559/`` is ``http://222.173.190.239/``), and **no credentials**: neither the URL's
  own ``user:pass@`` nor those of URLs inside it. A password in a feed or an alert is never stored nor
  sent to a provider;
- hashes lower-case (an X.509 fingerprint without its colons).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import unquote, urlsplit, urlunsplit

import idna

__all__ = [
    "MAX_LENGTH",
    "TYPES",
    "InvalidIndicator",
    "guess_type",
    "normalize",
    "parse_any",
    "refang",
    "strip_credentials",
]

TYPES = ("ipv4", "ipv6", "domain", "url", "sha256", "sha1", "md5", "x509_sha1")
MAX_LENGTH = 4096


class InvalidIndicator(ValueError):
    """The value is not a usable indicator of the given type; the message says why."""


# -- refanging ---------------------------------------------------------------------------------------------

_TOKEN = r"\s*(\.|dot|://|:/|:|//|/|@|at)\s*"
_BRACKETED = re.compile(rf"\[{_TOKEN}\]|\({_TOKEN}\)|\{{{_TOKEN}\}}", re.I)
_WORDS = {"dot": ".", "at": "@"}
# Only as a scheme: ``fxpro.com`` is a domain, not ``ftpro.com``.
_DEFANGED_SCHEME = re.compile(r"^(?:(hxxp)|fxp)(?=s?:)", re.I)
# Browsers read ``http:\\x`` as ``http://x`` (special schemes only: ``C:\\x`` stays a path).
_BACKSLASHED = re.compile(r"^((?:https?|ftps?|wss?):)(?:\\\\|\\/|/\\)", re.I)


def refang(value: str) -> str:
    """Undo common defanging: ``hxxp://evil[.]com`` → ``http://evil.com``.

    >>> refang("hxxps[:]//evil(dot)example{.}com[/]x"), refang("fxpro.com")
    ('https://evil.example.com/x', 'fxpro.com')
    """
    # Until nothing changes: ``[[.]]`` is ``[.]`` once refanged, and ``.`` after that.
    while (refanged := _refanged_once(value)) != value:
        value = refanged
    return value


def _refanged_once(value: str) -> str:
    value = _BRACKETED.sub(_token, value)
    value = _DEFANGED_SCHEME.sub(lambda m: "http" if m.group(1) else "ftp", value)
    return _BACKSLASHED.sub(r"\1//", value)


def _token(match: re.Match[str]) -> str:
    token = next(group for group in match.groups() if group is not None).lower()
    return _WORDS.get(token, token)


# -- credentials -------------------------------------------------------------------------------------------

# ``scheme://userinfo@`` anywhere: the separator and the ``@`` also percent-encoded or in their fullwidth
# and small forms (NFKC makes them ``:``, ``/`` and ``@``), the userinfo up to the first delimiter.
_SEPARATOR = r"(?:[:\uff1a\ufe55]|%3a)(?:[/\\\uff0f\uff3c]|%2f|%5c){2}"
_USERINFO = r"(?:(?!%2f|%5c|%3f|%23|%40)[^/\\?#@\uff20\ufe6b\s])*"
_CREDENTIALS = re.compile(rf"({_SEPARATOR}){_USERINFO}(?:@|%40|\uff20|\ufe6b)", re.I)


def strip_credentials(text: str) -> str:
    """``text`` without the credentials of any URL in it (the ``user:pass@`` part).

    >>> strip_credentials("curl http://admin:hunter2@evil.example/x")
    'curl http://evil.example/x'
    """
    while (stripped := _CREDENTIALS.sub(r"\1", text)) != text:
        text = stripped
    return text


# -- normalizing -------------------------------------------------------------------------------------------

_HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "x509_sha1": 40}
_TYPE_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(r"^[0-9a-f]+$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,15}://", re.I)
_SPECIAL_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "ws", "wss"})
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+(?!-)[a-z][a-z0-9-]{{1,62}}(?<!-)$")
_HOST_LABEL = re.compile(rf"^{_LABEL}$")  # ``http://ws-finance-07/``: a host, though no domain
_IPV4_SHAPE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_NUMBER = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_DIGITS = {8: "01234567", 10: "0123456789", 16: "0123456789abcdef"}
_BRACKETED_HOST = re.compile(r"^\[[0-9a-f:.]+\](?::[0-9]*)?$", re.I)
_ASCII_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


def normalize(kind: str, value: str) -> tuple[str, str]:
    """(type, canonical value) of ``value`` read as ``kind``; raises InvalidIndicator saying why.

    ``kind`` is one of ``TYPES``, or ``ip`` / ``hash`` to let the value decide which one.

    >>> normalize("url", "hxxp://user:pw@JS[.]MyKings[.]top:280/v.sct")
    ('url', 'http://js.mykings.top:280/v.sct')
    >>> normalize("ip", "::FFFF:0a00:0001"), normalize("ip", "2001:0DB8::0001")
    (('ipv4', '10.0.0.1'), ('ipv6', '2001:db8::1'))
    """
    if not isinstance(value, str):
        raise InvalidIndicator(f"not text ({type(value).__name__})")
    text = refang(value.strip())
    if not text:
        raise InvalidIndicator("empty value")
    if len(text) > MAX_LENGTH:
        raise InvalidIndicator(f"value of {len(text)} characters is too long")
    if _unsafe(text):
        raise InvalidIndicator(f"{_show(text)} contains whitespace or control characters")
    if kind in ("ip", "ipv4", "ipv6"):
        typed = _ip(text)
    elif kind == "domain":
        typed = "domain", _domain(text)
    elif kind == "url":
        typed = "url", _url(text)
    else:
        if kind == "hash":
            found = _TYPE_BY_LENGTH.get(len(text))
            if found is None:
                raise InvalidIndicator(f"{_show(text)} is no MD5, SHA-1 or SHA-256 hash")
            kind = found
        if kind not in _HASH_LENGTHS:
            known = ", ".join(TYPES)
            raise InvalidIndicator(f"unknown indicator type {_show(str(kind), 40)}; known: {known}")
        typed = kind, _hash(kind, text)
    if len(typed[1]) > MAX_LENGTH:
        raise InvalidIndicator(f"value of {len(typed[1])} characters is too long once normalized")
    return typed


def guess_type(value: str) -> str | None:
    """The indicator type a (possibly defanged) value looks like, or None.

    >>> [guess_type(v) for v in ("1.2.3.4", "evil.com", "hxxp://evil[.]com/x", "d41d8cd98f00b204" * 2)]
    ['ipv4', 'domain', 'url', 'md5']
    """
    text = refang(value.strip())
    if _SCHEME.match(text):
        return "url"
    if len(text) in _TYPE_BY_LENGTH and _HEX.match(text.lower()):
        return _TYPE_BY_LENGTH[len(text)]
    try:
        if _IPV4_SHAPE.match(text) or ":" in text:
            return _ip(text)[0]
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


def _unsafe(text: str) -> bool:
    # Whitespace, controls and invisible format characters (zero-width, bidi) have no place in an
    # indicator: they hide what it is from the analyst reading it.
    if text.isascii():
        return _ASCII_UNSAFE.search(text) is not None
    return any(unicodedata.category(char)[0] in "CZ" for char in text)


def _ip(text: str) -> tuple[str, str]:
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if "%" in bare:
        raise InvalidIndicator(f"{_show(text)} has a zone index: not a routable address")
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        raise InvalidIndicator(f"{_show(text)} is no IP address") from None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "ipv4", str(address.ipv4_mapped)
        return "ipv6", address.compressed
    return "ipv4", str(address)


def _ascii_name(text: str) -> str:
    # A host name as DNS sees it: lower-case, punycode, no trailing dot.
    name = text
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            try:  # IDNA 2003, for the names registered under it (emoji) that IDNA 2008 refuses
                name = name.encode("idna").decode("ascii")
            except UnicodeError:
                raise InvalidIndicator(f"{_show(text)} is no valid internationalized domain name") from None
    return name.lower().rstrip(".")


def _domain(text: str) -> str:
    if text.startswith("*."):
        raise InvalidIndicator(f"{_show(text)} is a wildcard, not one domain")
    name = _ascii_name(text)
    if len(name) > 253 or not _DOMAIN.match(name):
        raise InvalidIndicator(f"{_show(text)} is no domain name")
    return name


# What urlsplit says when it refuses a URL, said without echoing the URL (it may hold a password).
_URL_ERRORS = (
    ("Port out of range", "Port out of range 0-65535"),
    ("Port could not be cast", "port is no number"),
    ("Invalid IPv6 URL", "unbalanced brackets"),
    ("NFKC", "characters that normalize to URL delimiters"),
)


def _url(text: str) -> str:
    if not _SCHEME.match(text):
        raise InvalidIndicator(f"{_show(text)} is no URL (no scheme://)")
    if text.split(":", 1)[0].lower() in _SPECIAL_SCHEMES:
        # Browsers read a backslash before the query as a slash: ``http://evil.com\@good.com/`` is evil.com.
        head = len(re.split(r"[?#]", text, maxsplit=1)[0])
        text = text[:head].replace("\\", "/") + text[head:]
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        why = next((said for seen, said in _URL_ERRORS if seen in str(error)), "unparsable")
        raise InvalidIndicator(f"{_show(text)} is no URL ({why})") from None
    host = parts.hostname
    if not host:
        raise InvalidIndicator(f"{_show(text)} is no URL (no host)")
    hostport = parts.netloc.rpartition("@")[2]
    if "[" in hostport and not _BRACKETED_HOST.match(hostport):
        # urlsplit takes ``a%40[::1]`` for the host ``::1``; a browser takes it for no URL at all.
        raise InvalidIndicator(f"{_show(text)} is no URL (bad host)")
    netloc = _url_host(host, text)
    if port is not None:
        netloc = f"{netloc}:{port}"
    # Rebuilt from host and port, the URL's own userinfo is gone; URLs inside it lose theirs.
    url = strip_credentials(
        urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))
    )
    # What is left once they are gone may read as defanged (``/[://a@.]`` → ``/[.]``): once more, then.
    return url if refang(url) == url else _url(refang(url))


def _url_host(host: str, text: str) -> str:
    if ":" in host:
        kind, address = _ip(host)
        return f"[{address}]" if kind == "ipv6" else address
    if "%" in host:
        host = unquote(host)  # browsers decode a host's escapes: ``evil%2Ecom`` is evil.com
        if _unsafe(host) or "%" in host:
            raise InvalidIndicator(f"{_show(text)} is no URL (bad host)")
    name = _ascii_name(host)
    labels = name.split(".")
    if _NUMBER.match(labels[-1]):
        return _numeric_host(labels, text)
    if len(name) <= 253 and (_DOMAIN.match(name) or _HOST_LABEL.match(name)):
        return name
    raise InvalidIndicator(f"{_show(text)} is no URL (bad host)")


def _numeric_host(labels: list[str], text: str) -> str:
    # A host ending in a number is an IPv4 address in any form inet_aton takes (WHATWG URL standard):
    # ``0x7f.1``, ``0177.0.0.1`` and ``2130706433`` are all 127.0.0.1.
    numbers: list[int] = []
    for label in labels:
        if label[:2] == "0x":
            base, digits = 16, label[2:] or "0"
        elif len(label) > 1 and label.startswith("0"):
            base, digits = 8, label[1:]
        else:
            base, digits = 10, label
        if not digits or any(digit not in _DIGITS[base] for digit in digits):
            raise InvalidIndicator(f"{_show(text)} is no URL (bad IPv4 host)")
        numbers.append(int(digits, base))
    last = 256 ** (5 - len(numbers))
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]) or numbers[-1] >= last:
        raise InvalidIndicator(f"{_show(text)} is no URL (bad IPv4 host)")
    value = numbers[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(numbers[:-1]))
    return str(ipaddress.IPv4Address(value))


def _hash(kind: str, text: str) -> str:
    digest = text.lower().replace(":", "") if kind == "x509_sha1" else text.lower()
    if len(digest) != _HASH_LENGTHS[kind] or not _HEX.match(digest):
        raise InvalidIndicator(f"{_show(text)} is no {kind.replace('_', ' ').upper()} hash")
    return digest


# In reasons and logs: one line, bounded, never with the credentials a URL may carry.
_SHOWN_USERINFO = re.compile(rf"({_SEPARATOR})[^/\\?#\s]*(?:@|%40|\uff20|\ufe6b)", re.I)
_CUT_USERINFO = re.compile(rf"({_SEPARATOR})[^/\\?#\s]*\Z", re.I)  # an authority the cut left open
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")


def _show(text: str, limit: int = 60) -> str:
    shown = _SHOWN_USERINFO.sub(r"\1***@", text[: limit * 4])
    if len(text) > limit * 4:
        shown = _CUT_USERINFO.sub(r"\1***", shown)
    shown = " ".join(_CONTROL.sub(" ", shown).split())
    return repr(shown if len(shown) <= limit else shown[: limit - 1].rstrip() + "…")
