"""AbuseIPDB (GET /api/v2/check, Key header) and GreyNoise community (GET /v3/community/{ip}, key header)
contracts: documented shapes, nulls, whitelists, RIOT, 404 for an unknown IP."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import respx

from actions.http import HttpPool
from actions.intel import IntelCache
from tests.actions.intel._helpers import BASES, CANARIES, SECRETS, ask, fixture, jsonl, make_ctx, run

RIOT, EXAMPLE = jsonl("providers/greynoise-community.jsonl")


@pytest.fixture
def abuseipdb() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASES["abuseipdb"], assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def greynoise() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASES["greynoise"], assert_all_called=False) as mock:
        yield mock


def _check(**changes: Any) -> dict[str, Any]:
    answer = copy.deepcopy(fixture("providers/abuseipdb-check.json"))
    answer["data"].update(changes)
    return answer


# -- AbuseIPDB ---------------------------------------------------------------------------------------------


def test_abuseipdb_check_contract(abuseipdb: respx.MockRouter, pool: HttpPool) -> None:
    route = abuseipdb.get("/check", name="check").respond(200, json=fixture("providers/abuseipdb-check.json"))

    [record] = run("abuseipdb.lookup_ip", {"ipAddress": "118.25.6.39"}, make_ctx(pool))

    request = route.calls.last.request
    assert request.method == "GET" and request.url.path == "/api/v2/check"
    assert dict(request.url.params) == {"ipAddress": "118.25.6.39", "maxAgeInDays": "90"}
    assert request.headers["Key"] == CANARIES["abuseipdb_api_key"]
    assert request.headers["Accept"] == "application/json"
    assert (record.type, record.value, record.verdict, record.source) == (
        "ipv4",
        "118.25.6.39",
        "malicious",
        "abuseipdb",
    )
    assert record.reason == (
        "AbuseIPDB: abuse confidence 100% from 1 report by 1 user in 90 days; "
        "Data Center/Web Hosting/Transit, Tencent Cloud Computing (Beijing) Co. Ltd, CN"
    )
    assert record.last_seen == "2018-12-20T20:55:14Z"
    assert record.reference == "https://www.abuseipdb.com/check/118.25.6.39"


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({"abuseConfidenceScore": 40}, "suspicious"),
        ({"abuseConfidenceScore": 0, "isWhitelisted": True, "totalReports": 0}, "benign"),
        ({"abuseConfidenceScore": 90, "isWhitelisted": True}, "suspicious"),  # never benign with a high score
        ({"abuseConfidenceScore": 0, "isWhitelisted": None}, None),  # no whitelist lookup was made
        ({"abuseConfidenceScore": None, "isWhitelisted": None, "lastReportedAt": None}, None),
        ({"abuseConfidenceScore": "100", "isTor": True}, "malicious"),
    ],
)
def test_abuseipdb_score_and_whitelist_set_the_verdict(
    abuseipdb: respx.MockRouter, pool: HttpPool, changes: dict[str, Any], verdict: str | None
) -> None:
    abuseipdb.get("/check").respond(200, json=_check(**changes))

    records = run("abuseipdb.lookup_ip", {"ipAddress": "118.25.6.39"}, make_ctx(pool))

    assert [r.verdict for r in records] == ([verdict] if verdict else [])


def test_abuseipdb_settings_and_ipv6(abuseipdb: respx.MockRouter, pool: HttpPool) -> None:
    route = abuseipdb.get("/check").respond(
        200, json=_check(ipAddress="2a00:1450:4001:80b::200e", ipVersion=6)
    )
    ctx = make_ctx(pool, abuseipdb={"max_age_in_days": 30, "malicious_score": 99})

    [record] = run("abuseipdb.lookup_ip", {"ipAddress": "2A00:1450:4001:080b:0::200E"}, ctx)

    assert dict(route.calls.last.request.url.params) == {
        "ipAddress": "2a00:1450:4001:80b::200e",
        "maxAgeInDays": "30",
    }
    assert (record.type, record.value, record.verdict) == ("ipv6", "2a00:1450:4001:80b::200e", "malicious")


# -- GreyNoise ---------------------------------------------------------------------------------------------


def test_greynoise_riot_is_benign(greynoise: respx.MockRouter, pool: HttpPool) -> None:
    route = greynoise.get("/v3/community/8.8.8.8", name="community").respond(200, json=RIOT)

    [record] = run("greynoise.lookup_ip", {"ip": "8.8.8.8"}, make_ctx(pool))

    request = route.calls.last.request
    assert request.method == "GET" and request.headers["key"] == CANARIES["greynoise_api_key"]
    assert (record.value, record.verdict, record.source) == ("8.8.8.8", "benign", "greynoise")
    assert record.reason == "GreyNoise: a common business service (RIOT): Google Public DNS"
    assert record.last_seen == "2023-01-30" and record.reference == "https://viz.greynoise.io/riot/8.8.8.8"


def test_greynoise_without_a_key_sends_no_key_header(greynoise: respx.MockRouter, pool: HttpPool) -> None:
    route = greynoise.get("/v3/community/1.2.3.4").respond(200, json=EXAMPLE)

    [record] = run("greynoise.lookup_ip", {"ip": "1.2.3.4"}, make_ctx(pool, secrets={}))

    assert "key" not in route.calls.last.request.headers
    assert record.verdict == "benign" and "Cloudflare" in record.reason


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ({"ip": "45.83.66.1", "noise": True, "riot": False, "classification": "malicious", "name": "unknown",
          "link": "https://viz.greynoise.io/ip/45.83.66.1", "last_seen": "2026-11-20", "message": "Success"},
         "malicious"),
        ({"ip": "45.83.66.1", "noise": True, "riot": False, "classification": "unknown", "name": "unknown",
          "link": "https://viz.greynoise.io/ip/45.83.66.1", "last_seen": "2026-11-20", "message": "Success"},
         None),
        ({"ip": "45.83.66.1", "noise": None, "riot": None, "classification": None, "name": None, "link": None,
          "last_seen": None, "message": "Success"},
         None),
    ],
)  # fmt: skip
def test_greynoise_classification(
    greynoise: respx.MockRouter, pool: HttpPool, answer: dict[str, Any], verdict: str | None
) -> None:
    greynoise.get("/v3/community/45.83.66.1").respond(200, json=answer)

    records = run("greynoise.lookup_ip", {"ip": "45.83.66.1"}, make_ctx(pool))

    assert [r.verdict for r in records] == ([verdict] if verdict else [])
    if verdict == "malicious":
        assert records[0].reason == (
            "GreyNoise: seen scanning or attacking the internet, classified malicious; "
            "internet background noise"
        )


def test_greynoise_404_is_no_record(greynoise: respx.MockRouter, pool: HttpPool, cache: IntelCache) -> None:
    not_seen = {
        "ip": "45.83.66.99",
        "noise": False,
        "riot": False,
        "message": "IP not observed scanning the internet or contained in RIOT data set.",
    }
    route = greynoise.get("/v3/community/45.83.66.99").respond(404, json=not_seen)

    result = ask([("ipv4", "45.83.66.99")], pool, cache, providers=["greynoise"], secrets=SECRETS)

    assert result[("ipv4", "45.83.66.99")] == [] and result.failures == []
    assert route.call_count == 1


def test_greynoise_link_pointing_elsewhere_is_not_kept(greynoise: respx.MockRouter, pool: HttpPool) -> None:
    greynoise.get("/v3/community/8.8.8.8").respond(200, json={**RIOT, "link": "https://evil.example/phish"})

    [record] = run("greynoise.lookup_ip", {"ip": "8.8.8.8"}, make_ctx(pool))

    assert record.reference == "https://viz.greynoise.io/ip/8.8.8.8"
