"""Indicators: what sensors send is refanged and typed; what people read is defanged."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.models import Indicator, IndicatorType, defang, defang_text, host_of, refang

# -- refang / defang ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("defanged", "expected"),
    [
        ("hxxp://evil[.]com/x", "http://evil.com/x"),
        ("hxxps://evil[.]com/x", "https://evil.com/x"),
        ("HXXP://evil[.]com", "http://evil.com"),
        ("evil(.)com", "evil.com"),
        ("evil{.}com", "evil.com"),
        ("evil[dot]com", "evil.com"),
        ("1[.]2[.]3[.]4", "1.2.3.4"),
        ("fxp://files[.]evil[.]com", "ftp://files.evil.com"),
        ("hxxp[:]//evil[.]com[/]x", "http://evil.com/x"),
        ("user[at]evil[.]com", "user@evil.com"),
    ],
)
def test_refang_undoes_common_defanging(defanged: str, expected: str) -> None:
    assert refang(defanged) == expected


def test_refang_leaves_plain_values_alone() -> None:
    assert refang("http://example.com/a.b") == "http://example.com/a.b"
    assert refang("WS-FINANCE-07") == "WS-FINANCE-07"


def test_hxxp_is_only_a_scheme_at_the_start() -> None:
    assert refang("http://example.com/hxxp") == "http://example.com/hxxp"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://evil.com/x", "hxxp://evil[.]com/x"),
        ("https://evil.com", "hxxps://evil[.]com"),
        ("ftp://evil.com", "fxp://evil[.]com"),
        ("evil.com", "evil[.]com"),
        ("8.8.8.8", "8[.]8[.]8[.]8"),
    ],
)
def test_defang_removes_the_scheme_and_every_dot(value: str, expected: str) -> None:
    assert defang(value) == expected


def test_defanging_an_already_defanged_value_does_not_double_it() -> None:
    assert defang("hxxp://evil[.]com") == "hxxp://evil[.]com"


@given(st.from_regex(r"\Ahttps?://[a-z]{1,10}(\.[a-z]{2,5}){1,3}(/[a-z0-9]{0,8})?\Z"))
def test_defang_then_refang_gives_the_url_back(url: str) -> None:
    shown = defang(url)
    assert "." not in shown.replace("[.]", "")
    assert not shown.lower().startswith("http")
    assert refang(shown) == url


def test_defang_text_defangs_every_url_ip_and_domain_in_a_sentence() -> None:
    sentence = "Beacon to http://evil.com/a.php and 8.8.8.8, then to cdn.evil.example.org."

    shown = defang_text(sentence)

    assert (
        shown == "Beacon to hxxp://evil[.]com/a[.]php and 8[.]8[.]8[.]8, then to cdn[.]evil[.]example[.]org."
    )
    assert not re.search(r"https?://", shown, re.I)


def test_defang_text_leaves_words_without_indicators_unchanged() -> None:
    text = "The host WS-FINANCE-07 ran regsvr32 at boot."
    assert defang_text(text) == text


def test_defang_text_catches_urls_that_were_already_half_defanged() -> None:
    assert defang_text("see hxxps://evil.com/x") == "see hxxps://evil[.]com/x"


# -- Indicator.parse ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("203.0.113.7", IndicatorType.IPV4, "203.0.113.7"),
        ("203[.]0[.]113[.]7", IndicatorType.IPV4, "203.0.113.7"),
        ("2001:DB8::1", IndicatorType.IPV6, "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", IndicatorType.IPV6, "2001:db8::1"),
        ("js.mykings.top", IndicatorType.DOMAIN, "js.mykings.top"),
        ("JS.MyKings.TOP.", IndicatorType.DOMAIN, "js.mykings.top"),
        ("js[.]mykings[.]top", IndicatorType.DOMAIN, "js.mykings.top"),
        ("hxxp://js[.]mykings[.]top:280/v[.]sct", IndicatorType.URL, "http://js.mykings.top:280/v.sct"),
        ("https://example.com/Path?Q=1", IndicatorType.URL, "https://example.com/Path?Q=1"),
        ("D41D8CD98F00B204E9800998ECF8427E", IndicatorType.MD5, "d41d8cd98f00b204e9800998ecf8427e"),
        (
            "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
            IndicatorType.SHA1,
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ),
        ("E3B0C442" + "98FC1C14" * 7, IndicatorType.SHA256, "e3b0c442" + "98fc1c14" * 7),
        ("  js.mykings.top  ", IndicatorType.DOMAIN, "js.mykings.top"),
    ],
)
def test_parse_types_and_normalizes(raw: str, kind: IndicatorType, value: str) -> None:
    indicator = Indicator.parse(raw)

    assert indicator is not None
    assert (indicator.type, indicator.value) == (kind, value)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "not an indicator",
        "WS-FINANCE-07",  # a bare hostname is not a domain
        "localhost",
        "999.1.1.1",
        "g" * 32,  # hash-length but not hex
        "a" * 33,  # hex but no hash length
        "evil.c",  # one-letter TLD
        "-evil.com",
    ],
)
def test_parse_returns_none_for_what_is_not_an_indicator(raw: str) -> None:
    assert Indicator.parse(raw) is None


def test_parse_keeps_the_field_it_was_found_in() -> None:
    indicator = Indicator.parse("evil.com", field="evidences[0].dst_endpoint.hostname")

    assert indicator is not None
    assert indicator.field == "evidences[0].dst_endpoint.hostname"
    assert indicator.provenance == []


def test_parse_with_an_ip_hint_rejects_a_non_ip() -> None:
    assert Indicator.parse("evil.com", hint=IndicatorType.IPV4) is None


@pytest.mark.parametrize(
    ("raw", "hint"),
    [
        ("WS-FINANCE-07", IndicatorType.DOMAIN),
        ("not a domain", IndicatorType.DOMAIN),
        ("js.mykings.top", IndicatorType.MD5),
        ("just words", IndicatorType.URL),
    ],
)
def test_a_hint_does_not_make_a_malformed_value_an_indicator(raw: str, hint: IndicatorType) -> None:
    assert Indicator.parse(raw, hint=hint) is None


def test_a_hint_decides_the_type() -> None:
    indicator = Indicator.parse("hxxp://evil[.]com/x", hint=IndicatorType.URL)

    assert indicator is not None
    assert (indicator.type, indicator.value) == (IndicatorType.URL, "http://evil.com/x")


def test_url_paths_keep_their_case() -> None:
    indicator = Indicator.parse("http://evil.com/Payload.EXE")

    assert indicator is not None
    assert indicator.value.endswith("/Payload.EXE")


def test_url_scheme_and_host_are_lower_cased_so_they_match_intel() -> None:
    indicator = Indicator.parse("HXXP://JS[.]MYKINGS[.]TOP:280/v[.]sct")

    assert indicator is not None
    assert indicator.value == "http://js.mykings.top:280/v.sct"


def test_defanged_property_is_safe_to_show() -> None:
    indicator = Indicator.parse("hxxp://js[.]mykings[.]top:280/v[.]sct")

    assert indicator is not None
    assert indicator.defanged == "hxxp://js[.]mykings[.]top:280/v[.]sct"


def test_indicator_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError):
        Indicator(type=IndicatorType.DOMAIN, value="evil.com", colour="red")  # type: ignore[call-arg]


# -- host_of -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://evil.com/x", "evil.com"),
        ("hxxp://js[.]mykings[.]top:280/v[.]sct", "js.mykings.top"),
        ("https://user:secret@Evil.COM:8443/x", "evil.com"),
        ("http://203.0.113.7/x", "203.0.113.7"),
        ("http://[2001:db8::1]:8080/", "2001:db8::1"),
    ],
)
def test_host_of_gives_the_host_without_credentials_or_port(url: str, host: str) -> None:
    assert host_of(url) == host


@pytest.mark.parametrize("url", ["not a url", "evil.com/x", "http://[::1"])
def test_host_of_is_none_when_there_is_no_host(url: str) -> None:
    assert host_of(url) is None
