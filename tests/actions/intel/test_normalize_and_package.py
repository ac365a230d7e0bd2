"""Normalization rules, the record type, the cache in isolation, and the package's contract: public names,
doctests, the intel registry's conventions, and no dependency on ``flows``."""

from __future__ import annotations

import ast
import asyncio
import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import actions.indicators
import actions.intel
from actions import PolicyViolation, registry
from actions.http import HttpPool
from actions.intel import (
    INDICATOR_TYPES,
    IntelCache,
    IntelRecord,
    InvalidIndicator,
    guess_type,
    intel_registry,
    normalize,
)
from actions.intel._normalize import private_reason, url_or_domain
from tests.actions._support import FakeClock
from tests.actions.intel._helpers import make_ctx, run

PACKAGE = Path(actions.intel.__file__).parent


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("domain", " Evil[.]Example[.]NET. ", ("domain", "evil.example.net")),
        ("domain", "bücher.example", ("domain", "xn--bcher-kva.example")),
        ("domain", "_dmarc.evil.example.net", ("domain", "_dmarc.evil.example.net")),
        ("url", "hxxps://Evil.Example.net[:]8443/Path?Q=A#F", ("url", "https://evil.example.net:8443/Path?Q=A#F")),
        ("url", "http://user:pw@[2001:DB8::1]:80/x", ("url", "http://[2001:db8::1]:80/x")),
        ("url", "fxp://files.evil.example.net/a", ("url", "ftp://files.evil.example.net/a")),
        ("ip", " 45.83.66.1\t", ("ipv4", "45.83.66.1")),
        ("ipv6", "[2001:0DB8::0001]", ("ipv6", "2001:db8::1")),
        ("ipv4", "::ffff:10.0.0.1", ("ipv4", "10.0.0.1")),  # an IPv4 peer as a dual-stack socket writes it
        ("hash", "D41D8CD98F00B204E9800998ECF8427E", ("md5", "d41d8cd98f00b204e9800998ecf8427e")),
        ("x509_sha1", "5A:3F:0D:8F:5E:1C:2B:4D:6A:7B:8C:9D:0E:1F:2A:3B:4C:5D:6E:7F",
         ("x509_sha1", "5a3f0d8f5e1c2b4d6a7b8c9d0e1f2a3b4c5d6e7f")),
    ],
)  # fmt: skip
def test_values_are_made_canonical(kind: str, raw: str, expected: tuple[str, str]) -> None:
    assert normalize(kind, raw) == expected
    assert normalize(*expected) == expected  # idempotent


@pytest.mark.parametrize(
    ("kind", "raw", "why"),
    [
        ("ipv4", "010.1.1.1", "no IP address"),
        ("ipv6", "fe80::1%eth0", "zone index"),
        ("domain", "*.evil.example.net", "wildcard"),
        ("domain", "localhost", "no domain name"),
        ("domain", "evil.example.net\u202e", "control characters"),
        ("url", "evil.example.net/x", "no scheme"),
        ("url", "http:///x", "no host"),
        ("url", "http://evil.example.net:99999/", "Port out of range"),
        ("sha256", "d41d8cd98f00b204e9800998ecf8427e", "no SHA256 hash"),
        ("md5", "g" * 32, "no MD5 hash"),
        ("registry_value", "HKLM\\Run", "unknown indicator type"),
        ("url", "http://" + "a" * 5000 + ".net/", "too long"),
    ],
)
def test_unusable_values_say_why(kind: str, raw: str, why: str) -> None:
    with pytest.raises(InvalidIndicator, match=why):
        normalize(kind, raw)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["ip", "domain", "url", "hash", *INDICATOR_TYPES]), st.text(max_size=300))
def test_normalize_never_fails_otherwise(kind: str, raw: str) -> None:
    try:
        typed, value = normalize(kind, raw)
    except InvalidIndicator:
        return
    assert typed in INDICATOR_TYPES and normalize(typed, value) == (typed, value)
    assert not any(c.isspace() for c in value) and guess_type(value) in (typed, None, "sha1", "domain")


@pytest.mark.parametrize(
    "raw",
    [
        "http://admin:hunter2@{{7*7}}/",
        "http://admin:hunter2@evil.example.net:99999/",
        "http://admin:hunter2\uff20evil.example.net/",
        "http://admin:hunter2%40evil.example.net/",
        "hxxp://admin:hunter2[@]evil.example.net/\u202e",
        "http://admin:hunter2" + "x" * 300 + "@evil.example.net:99999/",  # the @ beyond what is quoted
    ],
)
def test_a_refused_url_is_never_quoted_with_its_password(raw: str) -> None:
    with pytest.raises(InvalidIndicator) as refused:
        normalize("url", raw)

    assert "hunter2" not in str(refused.value)


def test_what_intel_adds_a_scheme_less_url_and_what_stays_private() -> None:
    assert url_or_domain("evil[.]example[.]net/x") == ("url", "http://evil.example.net/x")
    assert url_or_domain("evil(dot)onion") == ("domain", "evil.onion")
    # A single-label host is resolved by the network's search domains: internal.
    assert private_reason("url", "http://ws-finance-07/share") == "internal name: not sent to a third party"
    assert private_reason(*normalize("url", "http://[::ffff:10.0.0.5]/")) is not None
    assert private_reason(*normalize("url", "http://3735928559/")) is None


def test_the_one_normalizer_keeps_its_contract() -> None:
    # ``actions.indicators`` is shared with the engine's alert indicators; intel is its first user.
    module = actions.indicators
    exported = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and not inspect.ismodule(v)
        and getattr(v, "__module__", module.__name__) == module.__name__
    }
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)

    assert set(module.__all__) == exported and failed == 0 and attempted > 0
    assert module.TYPES == INDICATOR_TYPES  # the record types are the normalizer's
    assert actions.intel.normalize is module.normalize and actions.intel.refang is module.refang


def test_a_record_refuses_unknown_types_and_verdicts_and_round_trips() -> None:
    with pytest.raises(ValueError, match="indicator type"):
        IntelRecord("registry_value", "x", "malicious", "s", "r")
    with pytest.raises(ValueError, match="verdict"):
        IntelRecord("domain", "evil.example.net", "unknown", "s", "r")
    record = IntelRecord("domain", "evil.example.net", "malicious", "s", "r", "2026-01-01", None)

    assert IntelRecord.from_dict({**record.to_dict(), "future_field": 1}) == record
    assert record.key == ("domain", "evil.example.net")


def test_the_cache_evicts_expired_then_oldest_entries() -> None:
    clock = FakeClock()
    cache = IntelCache(clock, ttls={"ipv4": 10}, negative_ttls={"ipv4": 5}, max_entries=3)
    record = IntelRecord("ipv4", "45.83.66.1", "malicious", "s", "r")
    for i in range(3):
        cache.put(("", "p", "ipv4", f"45.83.66.{i}"), [record] if i else [])
    clock.advance(6)  # the empty answer (5 s) is gone, the others (10 s) are not

    cache.put(("", "p", "ipv4", "45.83.66.9"), [record])
    cache.put(("", "p", "ipv4", "45.83.66.8"), [record])

    assert len(cache) == 3
    assert cache.get(("", "p", "ipv4", "45.83.66.0")) is None
    assert cache.get(("", "p", "ipv4", "45.83.66.1")) is None  # the oldest went to make room
    assert cache.get(("", "p", "ipv4", "45.83.66.2")) == [record]
    clock.advance(10)
    assert cache.get(("", "p", "ipv4", "45.83.66.2")) is None


def test_a_failed_fetch_is_shared_with_waiters_and_not_kept() -> None:
    cache = IntelCache(FakeClock())
    key = ("", "p", "domain", "evil.example.net")

    async def failing() -> list[IntelRecord]:
        await asyncio.sleep(0)
        raise RuntimeError("vendor down")

    async def both() -> list[object]:
        return await asyncio.gather(cache.get_or_fetch(key, failing), cache.get_or_fetch(key, failing),
                                    return_exceptions=True)  # fmt: skip

    outcomes = asyncio.run(both())

    assert [type(o).__name__ for o in outcomes] == ["RuntimeError", "RuntimeError"]
    assert cache.get(key) is None


# -- the package -------------------------------------------------------------------------------------------


def test_all_names_the_public_api() -> None:
    exported = {
        n for n, v in vars(actions.intel).items() if not n.startswith("_") and not inspect.ismodule(v)
    }

    assert set(actions.intel.__all__) == exported and len(actions.intel.__all__) == len(exported)
    assert {"IntelRecord", "load_feed", "lookup", "IntelCache", "FeedError", "LookupResult"} <= exported


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages([str(PACKAGE)], prefix="actions.intel."))


@pytest.mark.parametrize("name", _modules())
def test_doctests_pass(name: str) -> None:
    failed, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failed == 0


def test_nothing_in_the_package_imports_flows() -> None:
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n == "flows" or n.startswith("flows.") for n in names), path


def test_every_lookup_keeps_the_registry_contract() -> None:
    intel_registry.load()

    assert intel_registry.load_errors == {} and intel_registry.problems() == {}
    assert sorted(intel_registry.providers) == [
        "abuseipdb",
        "greynoise",
        "misp",
        "threatfox",
        "urlhaus",
        "virustotal",
    ]
    for key, spec in intel_registry.lookups.items():
        provider = intel_registry.providers[spec.provider]
        assert key.startswith(f"{provider.name}.lookup_") and spec.doc_url.startswith("https://")
        assert spec.inputs.model_config.get("extra") == "forbid"
        assert all(secret.startswith(f"{provider.name}_") for secret in provider.secrets)
        assert set(spec.types) <= set(INDICATOR_TYPES)
    covered = {t for spec in intel_registry.lookups.values() for t in spec.types}
    assert covered == set(INDICATOR_TYPES)
    assert intel_registry.declared_secrets(["virustotal", "misp"]) == ["misp_api_key", "virustotal_api_key"]


def test_intel_lookups_are_not_response_actions() -> None:
    # The engine picks response actions by target kind: an intel lookup must never be one.
    assert not any(key.split(".")[0] in intel_registry.providers for key in registry.keys())
    assert not any(name in intel_registry.providers for name in registry.plugin_errors)


def test_a_lookup_run_alone_refuses_to_send_a_private_address_to_a_third_party(pool: HttpPool) -> None:
    with pytest.raises(PolicyViolation, match="private or reserved address"):
        run("virustotal.lookup_ip", {"ip": "192.168.1.5"}, make_ctx(pool))
