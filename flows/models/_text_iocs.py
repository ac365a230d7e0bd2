"""Indicators inside free text (command lines, log lines, descriptions), defanged forms included."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from actions.indicators import refang

from ._indicator import Indicator, IndicatorType, public_suffixes

# Free text is full of dotted names that are not domains: .NET types (Net.WebClient, System.IO.File),
# object members, versions. A name found in text is a domain only if it ends in a real public suffix
# (the bundled Public Suffix List; nothing is fetched), or in a name reserved for documentation (RFC 2606).
_DOCUMENTATION_TLDS = frozenset({"example", "test"})

# File names look like domains (scrobj.dll, v.sct); a command line is full of them.
_FILE_SUFFIXES = frozenset(
    "exe dll sys sct msi ps1 psm1 bat cmd vbs vbe js jse wsf hta lnk cpl ocx scr txt log dat tmp ini cfg "
    "xml json yml yaml zip rar 7z gz tar iso img doc docx xls xlsx xlsm ppt pptx pdf rtf png jpg gif "
    "py sh pl rb php asp aspx jsp html htm css db evtx etl reg inf".split()
)
# A dot as written, or defanged as ``refang`` undoes it: [.] (.) {.} [dot] (dot) {dot}.
_DOT = r"(?:\.|\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\})"
_URL = re.compile(r"\b(?:hxxps?|https?|fxp|ftp)(?:://|\[://\]|\[:\]//|:\[//\])[^\s\"'<>|^`]+", re.I)
_IPV4 = re.compile(rf"(?<![\d.])(?:\d{{1,3}}{_DOT}){{3}}\d{{1,3}}(?![\d.])", re.I)
_DOMAIN = re.compile(
    rf"(?<![\w@.\\/-])(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?{_DOT})+[a-z][a-z0-9-]{{1,62}}(?![\w-])", re.I
)
_HASH = re.compile(r"(?<![0-9a-f])(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})(?![0-9a-f])", re.I)
_REGISTRY = re.compile(r"\b(?:HKLM|HKCU|HKCR|HKU|HKEY_[A-Z_]+)\\[^\"'\r\n]+?(?=\"|'|\s/|$)", re.I)


def iocs_in_text(text: str, field: str) -> tuple[Indicator, ...]:
    """Every URL, IPv4 address, domain, hash and registry path in ``text`` (memoized: a storm repeats
    the same command line thousands of times; callers must not mutate the results)."""
    return _iocs_in_text(text, field)


@lru_cache(maxsize=4096)
def _iocs_in_text(text: str, field: str) -> tuple[Indicator, ...]:
    return tuple(_scan(text, field))


def _scan(text: str, field: str) -> Iterator[Indicator]:
    spans: list[tuple[int, int]] = []
    for match in _URL.finditer(text):
        spans.append(match.span())
        if found := Indicator.parse(match.group(0).rstrip(".,;)]"), field=field, hint=IndicatorType.URL):
            yield found
    for match in _IPV4.finditer(text):
        if not _inside(match.span(), spans) and (found := Indicator.parse(match.group(0), field=field)):
            yield found
    for match in _DOMAIN.finditer(text):
        value = match.group(0)
        suffix = refang(value).rsplit(".", 1)[-1].lower()
        if _inside(match.span(), spans) or suffix in _FILE_SUFFIXES or not _real_suffix(value):
            continue
        if found := Indicator.parse(value, field=field, hint=IndicatorType.DOMAIN):
            yield found
    for match in _HASH.finditer(text):
        if not _inside(match.span(), spans) and (found := Indicator.parse(match.group(0), field=field)):
            yield found
    for match in _REGISTRY.finditer(text):
        yield Indicator(type=IndicatorType.REGISTRY_VALUE, value=match.group(0).strip(), field=field)


def _real_suffix(value: str) -> bool:
    name = refang(value).lower().rstrip(".")
    tld = name.rsplit(".", 1)[-1]
    return tld in _DOCUMENTATION_TLDS or public_suffixes().publicsuffix(name) is not None


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in spans)
