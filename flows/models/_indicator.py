"""Indicators of compromise: typing, refanging what sensors send, defanging what people read.

Typing and normalizing is ``actions.indicators``'s (the one normalizer, shared with the intel feeds and
providers, which may not import the engine); this module adds the model, the hints and the defanging.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import suppress
from enum import StrEnum
from functools import cache, lru_cache
from html.entities import html5 as html5_entities
from itertools import takewhile
from urllib.parse import urlsplit

import idna
from publicsuffixlist import PublicSuffixList
from pydantic import BaseModel, ConfigDict, Field, field_validator

from actions.indicators import MAX_LENGTH, InvalidIndicator, normalize, parse_any, refang, strip_credentials


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
    value: str = Field(max_length=MAX_LENGTH)
    field: str = Field(default="", description="Where in the alert it was found (OCSF path).")
    provenance: list[Provenance] = Field(default_factory=list)

    @field_validator("value")
    @classmethod
    def _without_credentials(cls, value: str) -> str:
        # However it was built (parsed, read back from the store, found in text), an indicator never
        # keeps a URL's credentials, defanged or not: it is stored on the incident and shown to people.
        refanged = refang(value)
        stripped = strip_credentials(refanged)
        return value if stripped == refanged else stripped

    @classmethod
    def parse(cls, raw: str, field: str = "", hint: IndicatorType | None = None) -> Indicator | None:
        """Type and normalize ``raw``; ``None`` when it is not a recognizable indicator (or not the
        hinted type: a hostname observable ``WS-FINANCE-07`` is no domain)."""
        return _parse(raw, field, hint)

    @property
    def defanged(self) -> str:
        return defang(self.value)


@lru_cache(maxsize=65_536)
def _parse(raw: str, field: str, hint: IndicatorType | None) -> Indicator | None:
    # Memoized (indicators are frozen): a storm repeats the same values thousands of times.
    typed = _typed(raw, hint)
    return None if typed is None else Indicator(type=typed[0], value=typed[1], field=field)


_FREE_FORM = (IndicatorType.REGISTRY_VALUE, IndicatorType.FILE_PATH, IndicatorType.ACCOUNT)


@lru_cache(maxsize=65_536)
def _typed(raw: str, hint: IndicatorType | None) -> tuple[IndicatorType, str] | None:
    """(type, normalized value) of a raw string, memoized: storms repeat the same indicators."""
    if hint is not None and hint in _FREE_FORM:
        # Host evidence, kept as the sensor wrote it (refanged), less any URL's credentials.
        value = strip_credentials(refang(raw.strip()))
        return (hint, value) if value and len(value) <= MAX_LENGTH else None
    try:
        # The one normalizer, shared with intel: an alert's indicator matches an intel record. A hinted
        # value must be of that type (an IP hint takes either version).
        kind, value = normalize(hint.value, raw) if hint else parse_any(raw)
    except InvalidIndicator:
        return None
    return IndicatorType(kind), value


def defang(value: str) -> str:
    """One indicator made safe to show: ``defang_text`` on its refanged value, and every dot bracketed
    (an indicator is a host, an address or a URL through and through).

    >>> defang("http://evil.com/x")
    'hxxp://evil[.]com/x'
    """
    # Every full stop IDNA reads as a dot is one here (the ideographic one too: a value is no sentence).
    return _BARE_DOT.sub("[.]", defang_text(_ANY_DOT.sub(".", refang(value))))


# -- defanging: the one function every reader-facing value goes through -----------------------------------
#
# Whatever the input, nothing in the output may be made a link by a renderer Garrison's readers use:
# CommonMark + GFM autolinks (the Prefect UI: ``www.x.com``, ``x.com/path``, entity references decoded),
# HTML, Slack mrkdwn, and mail/chat clients that linkify plain text. So:
#   1. invisible characters go (zero-width, soft hyphen, bidi controls and marks; controls become spaces):
#      ``ht\u200btp://`` and ``evil\u200b.com`` are, to the reader's client, ``http://`` and ``evil.com``;
#   2. character references to anything but markup (``&#46;`` ``&colon;``) are decoded, as Markdown would;
#   3. every ``://`` is defanged: http/https/ftp/ftps → hxxp/hxxps/fxp/fxps, any other scheme (or none,
#      or a scheme glued to a word, ``xhttp://``) → ``scheme[://]``; ``http:/`` and ``http:\\`` too;
#   4. hosts in URLs, and dotted names that end in a real TLD, are shown in punycode (``xn--``): an IDN
#      or a confusable (Cyrillic а in ``exаmple``) is seen for what it is;
#   5. a dot between two name characters becomes ``[.]`` — in any token, glued to anything — when what
#      follows could be a TLD (letters only, in any script; ``xn--``; a known TLD glued to more: ``.com_x``),
#      after ``www``, in an address (``10.0.0.1``, ``0x7f.0.0.1``) and after ``@``; not in a file name with
#      an extension that is no TLD (``regsvr32.exe``), nor in ``0.95`` or ``lab.block_ip``, which no client
#      links. Inside a URL every dot is bracketed.

# Scheme → its defanged form (a defanged scheme stays as it is, lower-cased).
_SAFE_SCHEMES = {"http": "hxxp", "https": "hxxps", "ftp": "fxp", "ftps": "fxps"}
_SAFE_SCHEMES.update({safe: safe for safe in ("hxxp", "hxxps", "fxp", "fxps")})
_SEPARATOR = re.compile(r"\[://\]|([A-Za-z0-9+.\-]*)://")
# Browsers read http:/x and http:\\x as http://x.
_LOOSE_SCHEME = re.compile(r"(?:https?|ftps?)(?=:[/\\])", re.I | re.A)
# What follows ``://``: up to a path, a delimiter or the next URL glued on (``http://a.bhttp://c``).
_HOST_AFTER_SEPARATOR = re.compile(r"(\[://\]|://)((?:(?![A-Za-z0-9+.\-]*://)[^/\\?#\s<>\"'`,;|()\[\]{}])*)")
_URL_TAIL = re.compile(r"(?:\[://\]|://)[^\s<>\"'`]*")
# Full stop, fullwidth and halfwidth ideographic full stops, one dot leader: IDNA reads them all as dots.
_DOTS = ".\uff0e\uff61\u2024"
# A run of dots, bracketed ones included (``bücher[.]de`` is one name). The ideographic full stop ends
# Japanese and Chinese sentences: it is a dot only next to an ASCII letter or digit.
_DOT_GROUP = re.compile(rf"(?:\[\.\]|[{_DOTS}]|(?<=[A-Za-z0-9])\u3002|\u3002(?=[A-Za-z0-9]))+")
_ANY_DOT = re.compile(rf"[{_DOTS}\u3002]")
_BARE_DOT = re.compile(rf"\[\.\]|[{_DOTS}\u3002]")
_RUN = re.compile(rf"(?:\[\.\]|[A-Za-z0-9_\-{_DOTS}]|[^\x00-\x7f\s])+")
_SUSPECT = re.compile(r"[^\x20-\x7e\t\n\r]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CHAR_REF = re.compile(r"&(?:#[xX]([0-9a-fA-F]{1,6})|#([0-9]{1,7})|([A-Za-z][A-Za-z0-9]{1,31}));")
# Labels of an address in any form inet_aton takes (``127.0.0.1``, ``0x7f.0.0.1``, ``0177.0.1``).
_ADDRESS_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_DIGITS = re.compile(r"[0-9]\.+[0-9]")  # a dot between digits, in a name with several: 10.0.0.1 glued to more
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Invisible although not "format" characters: combining grapheme joiner, Hangul fillers, Khmer inherent
# vowels, Mongolian variation selectors, variation selectors.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u3164\uffa0") | frozenset(
    map(chr, range(0xFE00, 0xFE10))
)
# File name extensions that are no top-level domain (a test checks them against the Public Suffix List):
# ``scrobj.dll`` reads better intact and no client links it. ``.zip``, ``.mov``, ``.py``, ``.sh`` are TLDs.
_FILE_EXTENSIONS = frozenset(
    "exe dll sys sct msi ps1 psm1 psd1 bat cmd vbs vbe js jse wsf wsh hta lnk cpl ocx scr txt log dat tmp "
    "ini cfg conf xml json yml yaml rar 7z gz tgz bz2 xz tar iso img vhd vhdx doc docx docm xls xlsx xlsm "
    "ppt pptx pptm pdf rtf png jpg jpeg gif bmp htm html css csv evtx etl reg inf jar asp aspx jsp php db "
    "sqlite dmp bin".split()
)
_RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost", "local", "internal"})


def defang_text(text: str) -> str:
    """Free text (or one value) as people may read it anywhere: no link, no address and no invisible
    character left for a client to act on. The one defanging function; ``defang`` builds on it.

    >>> defang_text("http://a.example/x,http://3735928559/login and www.bücher.de ran regsvr32.exe")
    'hxxp://a[.]example/x,hxxp://3735928559/login and www[.]xn--bcher-kva[.]de ran regsvr32.exe'
    """
    text = str(text)
    while (decoded := _CHAR_REF.sub(_decoded_reference, text)) != text:  # ``&#&#52;6;`` is ``&#46;``
        text = decoded
    text = _SUSPECT.sub(_visible, text)
    text = _schemes_defanged(text)
    text = _HOST_AFTER_SEPARATOR.sub(lambda m: m.group(1) + _ascii_authority(m.group(2)), text)
    # Until nothing changes: a name put in punycode can make a dot of the ideographic full stop next to
    # it (``пример。рф.com`` → ``пример。xn--p1ai[.]com``), or end in "http" (``xn--…http://``).
    for _ in range(8):
        done, text = text, _schemes_defanged(_RUN.sub(_defanged_run, text))
        if text == done:
            break
    return _URL_TAIL.sub(_url_dots_bracketed, text)


def _url_dots_bracketed(match: re.Match[str]) -> str:
    # Inside a URL every dot is bracketed; the ideographic full stop when a browser would read it as one.
    text, at = match.string, match.start()
    out: list[str] = []
    for dot in _BARE_DOT.finditer(text, match.start(), match.end()):
        char, where = dot.group(0), dot.start()
        ideographic = (
            char == "\u3002" and _DOT_GROUP.match(text, where) and _between(text, where - 1, where + 1)
        )
        out += [text[at:where], "[.]" if char in _DOTS or ideographic else char]
        at = dot.end()
    return "".join([*out, text[at : match.end()]])


def _schemes_defanged(text: str) -> str:
    text = _SEPARATOR.sub(_defanged_separator, text)
    return _LOOSE_SCHEME.sub(lambda m: _SAFE_SCHEMES[m.group(0).lower()], text)


def _decoded_reference(match: re.Match[str]) -> str:
    # Markdown decodes ``&#46;`` into ``.`` after we have looked: decode first, except what is markup.
    hexadecimal, decimal, name = match.groups()
    if name is not None:
        decoded = html5_entities.get(name + ";", "")
    else:
        code = int(hexadecimal, 16) if hexadecimal else int(decimal)
        decoded = chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else ""
    return decoded if len(decoded) == 1 and decoded not in "<>&\"'" else match.group(0)


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    category = unicodedata.category(char)
    if category == "Cc" or char in _BIDI:
        return " "  # a control or a reordering mark separates what it stood between
    if category == "Cf" or char in _INVISIBLE or 0xE0100 <= ord(char) <= 0xE01EF:
        return ""  # zero-width: the reader's client joins what it stood between
    return "\ufffd" if category == "Cs" else char


def _defanged_separator(match: re.Match[str]) -> str:
    scheme = match.group(1)
    if scheme is None:
        return match.group(0)  # already [://]
    safe = _SAFE_SCHEMES.get(scheme.lower())
    return f"{safe}://" if safe else f"{scheme}[://]"


def _ascii_authority(authority: str) -> str:
    # The user part too: ``http://pаypal.com@evil.com`` shows its confusable for what it is.
    parts = re.split(f"([@:]|{_ANY_DOT.pattern})", authority)  # labels at even places
    return "".join(part if i % 2 else _ascii_label(part) for i, part in enumerate(parts))


@lru_cache(maxsize=16_384)
def _ascii_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        return idna.encode(label, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        mapped = unicodedata.normalize("NFKC", label).casefold()
        return mapped if mapped.isascii() else "xn--" + mapped.encode("punycode").decode("ascii")


def _defanged_run(match: re.Match[str]) -> str:
    start, end = match.span()
    text, piece_start = match.string, start
    if not _ANY_DOT.search(text, start, end):
        return match.group(0)  # a word: nothing to defang
    out: list[str] = []
    for candidate in _NON_ASCII.finditer(text, start, end):
        if _splits(text, at := candidate.start()):
            out += [_defanged_piece(text, piece_start, at), text[at]]
            piece_start = at + 1
    out.append(_defanged_piece(text, piece_start, end))
    return "".join(out)


def _splits(text: str, at: int) -> bool:
    """Whether a non-ASCII punctuation or space (not a dot) ends a name: ``evil.com、次`` has ``evil.com``."""
    char = text[at]
    if char.isascii() or char in _DOTS:
        return False
    if char == "\u3002" and _DOT_GROUP.match(text, at):
        return False
    return unicodedata.category(char)[0] in "PZC"


def _defanged_piece(text: str, start: int, end: int) -> str:
    piece = text[start:end]
    groups = list(_DOT_GROUP.finditer(text, start, end))
    inner = [i for i, g in enumerate(groups) if _between(text, g.start() - 1, g.end())]
    if not inner:
        return piece
    bounds = [start, *(i for g in groups for i in g.span()), end]
    labels = [text[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2)]
    if len(inner) == 1 and _file_name(groups[inner[0]].group(0), labels[inner[0] + 1 :]):
        return piece
    address = len(inner) > 1 and all(_ADDRESS_LABEL.fullmatch(label) for label in labels if label)
    mail = start > 0 and text[start - 1] == "@"
    bracketed = {
        i
        for i in inner
        if address
        or mail
        or (len(inner) > 1 and _DIGITS.fullmatch(text, groups[i].start() - 1, groups[i].end() + 1))
        or labels[i].casefold().endswith("www")
        or _tld_like(labels[i + 1])
    }
    if not bracketed:
        return piece
    if not piece.isascii() and _domain_like(labels):
        labels = [_ascii_label(label) for label in labels]
    out = [labels[0]]
    for i, (group, label) in enumerate(zip(groups, labels[1:], strict=True)):
        out += [_BARE_DOT.sub("[.]", group.group(0)) if i in bracketed else group.group(0), label]
    return "".join(out)


def _file_name(dot: str, after: list[str]) -> bool:
    # ``regsvr32.exe``: one dot, then a file extension that is no TLD, then nothing but trailing dots.
    return dot == "." and after[0].casefold() in _FILE_EXTENSIONS and not any(after[1:])


def _tld_like(label: str) -> bool:
    """Whether a label after a dot could end a domain name a client links: letters only (any script), a
    punycode label, or a known TLD glued to more (``evil.com_x``, ``evil.com2``)."""
    if len(label) >= 2 and all(unicodedata.category(char)[0] in "LM" for char in label):
        return True
    if _ascii_label(label)[:4].lower() == "xn--":  # punycode, or any label with more than ASCII
        return True
    letters = "".join(takewhile(lambda char: unicodedata.category(char)[0] in "LM", label))
    return len(letters) >= 2 and _known_tld(letters)


def _between(text: str, left: int, right: int) -> bool:
    if left < 0 or right >= len(text):
        return False
    before, after = text[left], text[right]
    return not (before in "-_" and after in "-_") and _host_char(before) and _host_char(after)


def _host_char(char: str) -> bool:
    # What linkifiers take for part of a name: letters, marks, digits, symbols (emoji domains), - and _.
    if char in "-_":
        return True
    return char not in "<>" and unicodedata.category(char)[0] in "LMNS"


def _domain_like(labels: list[str]) -> bool:
    """Whether dotted labels end in a real top-level domain (then their IDN labels go to punycode)."""
    tld = next((label for label in reversed(labels) if label), "")
    return bool(tld) and _known_tld(tld)


@lru_cache(maxsize=16_384)
def _known_tld(label: str) -> bool:
    # As browsers read it (ß stays ß: ``xn--zca``) and as older clients do (ß is ss, a TLD).
    forms = {_ascii_label(label).lower()}
    with suppress(UnicodeError):
        forms.add(label.encode("idna").decode("ascii").lower())  # IDNA 2003
    suffixes = public_suffixes()
    return any(tld in _RESERVED_TLDS or suffixes.publicsuffix(f"x.{tld}") is not None for tld in forms)


@cache
def public_suffixes() -> PublicSuffixList:
    return PublicSuffixList(accept_unknown=False)


@lru_cache(maxsize=16_384)
def host_of(url: str) -> str | None:
    """The host part of a URL, without credentials or port; ``None`` when it has none."""
    try:
        return urlsplit(refang(url)).hostname
    except ValueError:
        return None
