"""URLhaus (POST /v1/url/ and /v1/host/ forms), ThreatFox (POST /api/v1/ search_ioc JSON), both with the
Auth-Key header, and MISP (POST /attributes/restSearch, Authorization header) contracts."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
import respx

from actions import PermanentError
from actions.http import HttpPool
from actions.intel import IntelCache
from tests.actions._support import vendor_fixture
from tests.actions.intel._helpers import (
    BASES,
    CANARIES,
    MISP,
    SECRETS,
    ask,
    assert_no_secret,
    fixture,
    make_ctx,
    run,
)

URL = "http://sskymedia.com/VMYB-ht_JAQo-gi/INV/99401FORPO/20673114777/US/Outstanding-Invoices/"


@pytest.fixture
def urlhaus() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASES["urlhaus"], assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def threatfox() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASES["threatfox"], assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def misp() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=MISP, assert_all_called=False) as mock:
        yield mock


def _form(request: Any) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


# -- URLhaus -----------------------------------------------------------------------------------------------


def test_urlhaus_url_contract(urlhaus: respx.MockRouter, pool: HttpPool) -> None:
    route = urlhaus.post("/url/", name="url").respond(200, json=fixture("providers/urlhaus-url.json"))

    [record] = run("urlhaus.lookup_url", {"url": URL.replace("http", "hxxp", 1)}, make_ctx(pool))

    request = route.calls.last.request
    assert request.method == "POST" and request.url.path == "/v1/url/"
    assert request.headers["Auth-Key"] == CANARIES["urlhaus_auth_key"]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert _form(request) == {"url": [URL]}
    assert (record.type, record.value, record.verdict, record.source) == ("url", URL, "malicious", "urlhaus")
    assert record.reason == (
        "URLhaus: malware_download (emotet, epoch2, heodo); status online; payloads: Heodo; "
        "reported by Cryptolaemus1"
    )
    assert record.first_seen == "2019-01-19T01:33:26Z"
    # last_online is null but the URL is online: confirmed as of the lookup.
    assert record.last_seen == record.retrieved_at == "2025-11-22T02:00:00Z"
    assert record.reference == "https://urlhaus.abuse.ch/url/105821/"


def test_urlhaus_placeholder_answer_gives_no_indicator(
    urlhaus: respx.MockRouter, pool: HttpPool, cache: IntelCache
) -> None:
    # The origin's host fixture says "query_status": "query_status" and "spamhaus_dbl": "spamhaus_dbl".
    urlhaus.post("/host/").respond(200, json=fixture("providers/urlhaus-host.json"))

    with pytest.raises(PermanentError, match="unexpected query_status 'query_status'"):
        run("urlhaus.lookup_host", {"host": "vektorex.com"}, make_ctx(pool))
    result = ask([("domain", "vektorex.com")], pool, cache, providers=["urlhaus"])

    assert result.records() == [] and result[("domain", "vektorex.com")] == []
    [failure] = result.failures
    assert failure.provider == "urlhaus" and failure.indicator == ("domain", "vektorex.com")
    assert not failure.transient
    assert all("vektorex.com/source" not in str(v) for v in result.snapshot()["results"])


@pytest.mark.parametrize(
    ("dbl", "verdict"),
    [("not listed", "suspicious"), ("abused_legit_malware", "suspicious"), ("botnet_cc_domain", "malicious")],
)
def test_urlhaus_host_verdict_follows_spamhaus(
    urlhaus: respx.MockRouter, pool: HttpPool, dbl: str, verdict: str
) -> None:
    answer = copy.deepcopy(fixture("providers/urlhaus-host.json"))
    answer.update(
        query_status="ok", host="somewhere-else.example", blacklists={"spamhaus_dbl": dbl, "surbl": "x"}
    )
    route = urlhaus.post("/host/").respond(200, json=answer)

    [record] = run("urlhaus.lookup_host", {"host": "VEKTOREX.com"}, make_ctx(pool))

    assert _form(route.calls.last.request) == {"host": ["vektorex.com"]}
    # The record names what was asked, never the answer's host or its URL list.
    assert (record.type, record.value, record.verdict) == ("domain", "vektorex.com", verdict)
    assert record.reason.startswith(
        "URLhaus: served 120 malware URLs, 2 online now; tags: AZORult, exe, Loki"
    )
    assert record.first_seen == "2019-01-15T07:09:01Z"


def test_urlhaus_no_results_and_ip_hosts(urlhaus: respx.MockRouter, pool: HttpPool) -> None:
    route = urlhaus.post("/host/").respond(200, json={"query_status": "no_results"})
    urlhaus.post("/url/").respond(200, json={"query_status": "invalid_url"})

    assert run("urlhaus.lookup_host", {"host": "45.83.66.1"}, make_ctx(pool)) == []
    assert _form(route.calls.last.request) == {"host": ["45.83.66.1"]}
    assert run("urlhaus.lookup_url", {"url": "http://evil.example.net/x"}, make_ctx(pool)) == []


# -- ThreatFox ---------------------------------------------------------------------------------------------


def test_threatfox_search_ioc_contract_for_an_ip(threatfox: respx.MockRouter, pool: HttpPool) -> None:
    route = threatfox.post("/api/v1/", name="api").respond(
        200, json=fixture("providers/threatfox-search-ioc.json")
    )

    records = run(
        "threatfox.lookup_ioc", {"search_term": "139.180.203.104", "exact_match": False}, make_ctx(pool)
    )

    request = route.calls.last.request
    assert request.method == "POST" and request.url.path == "/api/v1/"
    assert request.headers["Auth-Key"] == CANARIES["threatfox_auth_key"]
    assert json.loads(request.content) == {
        "query": "search_ioc",
        "search_term": "139.180.203.104",
        "exact_match": False,
    }
    # Both ip:port entries of this address, one family; the near miss 139.180.203.10:443 (Dridex) is not it.
    [record] = records
    assert (record.type, record.value, record.verdict, record.source) == (
        "ipv4",
        "139.180.203.104",
        "malicious",
        "threatfox",
    )
    assert (
        record.reason
        == "ThreatFox: botnet_cc of Cobalt Strike (confidence 100%); port 443, 8080; tags: c2, CobaltStrike"
    )
    assert (record.first_seen, record.last_seen) == ("2020-12-08T13:36:27Z", "2020-12-20T10:00:00Z")
    assert record.reference == "https://threatfox.abuse.ch/ioc/41/"


def test_threatfox_searches_other_iocs_exactly(
    threatfox: respx.MockRouter, pool: HttpPool, cache: IntelCache
) -> None:
    item = {"id": "7", "ioc": "Gaga.COM", "threat_type": "botnet_cc", "malware_printable": "Dridex"}
    item.update(confidence_level=25, tags=None, first_seen="2020-12-08 13:36:27 UTC", last_seen=None)
    low = {"query_status": "ok", "data": [item]}
    route = threatfox.post("/api/v1/").respond(200, json=low)

    result = ask([("domain", "gaga[.]com")], pool, cache, providers=["threatfox"])

    assert json.loads(route.calls.last.request.content)["exact_match"] is True
    [record] = result[("domain", "gaga[.]com")]
    assert (record.value, record.verdict) == ("gaga.com", "suspicious")


def test_threatfox_no_result_and_refusals(threatfox: respx.MockRouter, pool: HttpPool) -> None:
    threatfox.post("/api/v1/").mock(
        side_effect=[
            respx.MockResponse(200, json=fixture("providers/threatfox-no-result.json")),
            respx.MockResponse(200, json={"query_status": "unknown_auth_key"}),
        ]
    )

    assert run("threatfox.lookup_ioc", {"search_term": "evil.example.net"}, make_ctx(pool)) == []
    with pytest.raises(PermanentError, match="query_status 'unknown_auth_key'") as caught:
        run("threatfox.lookup_ioc", {"search_term": "evil.example.net"}, make_ctx(pool))
    assert_no_secret(str(caught.value))


# -- MISP --------------------------------------------------------------------------------------------------


def test_misp_rest_search_contract(misp: respx.MockRouter, pool: HttpPool) -> None:
    route = misp.post("/attributes/restSearch", name="search").respond(
        200, json=fixture("providers/misp-attributes-restsearch.json")
    )
    # This answer carries only the event stub (a MISP that ignores includeContext): one events search
    # fetches the event's metadata.
    events = misp.post("/events/restSearch", name="events").respond(
        200, json=vendor_fixture("misp-events-restsearch-metadata.json")
    )

    records = run("misp.lookup_attribute", {"value": "203.0.113.10"}, make_ctx(pool))

    request = route.calls.last.request
    assert request.method == "POST" and str(request.url) == f"{MISP}/attributes/restSearch"
    assert request.headers["Authorization"] == CANARIES["misp_api_key"]
    assert request.headers["Accept"] == "application/json"
    assert json.loads(request.content) == {
        "returnFormat": "json",
        "value": "203.0.113.10",
        "to_ids": True,
        "includeEventTags": True,
        "includeContext": True,
        "enforceWarninglist": True,
        "deleted": False,
        "limit": 50,
        "page": 1,
    }
    assert events.call_count == 1
    assert json.loads(events.calls.last.request.content) == {
        "returnFormat": "json",
        "eventid": ["149"],
        "metadata": True,
        "limit": 1,
        "page": 1,
    }
    # Both attributes name the IP (ip-dst, and the ip half of domain|ip); the domain half was not asked.
    # Event 149's threat level is "undefined" (4): the word of an unrated event is "suspicious".
    assert [(r.type, r.value, r.verdict, r.source) for r in records] == [
        ("ipv4", "203.0.113.10", "suspicious", "CIRCL (MISP)")
    ] * 2
    assert records[0].reason == (
        "MISP event 'DUOBEAN loader infrastructure' of 2025-11-09; loader C2, beacons every 15 minutes; "
        "malpedia DUOBEAN; threat level undefined"
    )
    assert records[0].first_seen == "2026-10-01T00:00:00Z" and records[0].last_seen == "2025-11-12T00:00:00Z"
    assert records[1].first_seen == "2025-11-09"  # no first_seen of its own: the event's date
    assert records[0].reference == "misp:5e6b336e-5224-445f-b1b3-457dd7dd9f6d"
    assert all(r.retrieved_at == "2025-11-22T02:00:00Z" for r in records)


@pytest.mark.parametrize("answer", [{"response": {"Attribute": []}}, {"response": []}, {"response": None}])
def test_misp_empty_answers(misp: respx.MockRouter, pool: HttpPool, answer: dict[str, Any]) -> None:
    misp.post("/attributes/restSearch").respond(200, json=answer)

    assert run("misp.lookup_attribute", {"value": "evil.example.net"}, make_ctx(pool)) == []


def test_misp_is_asked_about_private_addresses_but_needs_its_url(
    misp: respx.MockRouter, pool: HttpPool, cache: IntelCache
) -> None:
    route = misp.post("/attributes/restSearch").respond(200, json={"response": {"Attribute": []}})

    asked = ask([("ipv4", "10.1.2.3")], pool, cache, providers=["misp"])
    unconfigured = ask([("ipv4", "10.1.2.4")], pool, cache, providers=["misp"], settings={})

    assert asked.failures == [] and route.call_count == 1
    [failure] = unconfigured.failures
    assert failure.indicator is None and "misp is not configured for tenant acme: base_url" in failure.error
    assert SECRETS  # the secret was given; only the instance is missing
