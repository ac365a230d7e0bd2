"""``lookup``: one request per unique indicator and provider, cached per type with a TTL, queued under
per-tenant-key and per-provider rate limits (fake clock), Retry-After honoured, failures reported and never
raised, nothing private sent to a third party, secrets nowhere."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from actions.http import HttpPool
from actions.intel import IntelCache, IntelRecord, intel_registry, lookup
from tests.actions._support import FakeClock
from tests.actions.intel._helpers import BASES, CANARIES, SECRETS, SETTINGS, ask, assert_no_secret, fixture

Answer = Callable[[httpx.Request], httpx.Response]
UNKNOWN: dict[str, Answer] = {
    "virustotal": lambda r: httpx.Response(404, json=fixture("providers/vt-v3-not-found.json")),
    "abuseipdb": lambda r: httpx.Response(
        200, json={"data": {"abuseConfidenceScore": 0, "isWhitelisted": False}}
    ),
    "greynoise": lambda r: httpx.Response(404, json={"message": "IP not observed scanning the internet."}),
    "urlhaus": lambda r: httpx.Response(200, json={"query_status": "no_results"}),
    "threatfox": lambda r: httpx.Response(200, json=fixture("providers/threatfox-no-result.json")),
    "misp": lambda r: httpx.Response(200, json={"response": {"Attribute": []}}),
}


class FakeProviders:
    """Every provider, answering "not known" unless a test says otherwise; requests counted and timed."""

    def __init__(self, mock: respx.MockRouter, clock: FakeClock) -> None:
        self.clock = clock
        self.answers = dict(UNKNOWN)
        self.times: dict[str, list[float]] = defaultdict(list)
        self.requests: dict[str, list[httpx.Request]] = defaultdict(list)
        self.routes = {
            name: mock.route(url__startswith=base + "/", name=name).mock(side_effect=self._answer(name))
            for name, base in BASES.items()
        }

    def _answer(self, name: str) -> Answer:
        def answer(request: httpx.Request) -> httpx.Response:
            self.times[name].append(self.clock.monotonic())
            self.requests[name].append(request)
            return self.answers[name](request)

        return answer

    def counts(self) -> Counter[str]:
        return Counter({name: route.call_count for name, route in self.routes.items() if route.call_count})


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeProviders]:
    with respx.mock(assert_all_called=False) as mock:
        yield FakeProviders(mock, clock)


def _abuse(score: int) -> Answer:
    answer = fixture("providers/abuseipdb-check.json")

    def respond(request: httpx.Request) -> httpx.Response:
        data = {**answer["data"], "abuseConfidenceScore": score, "ipAddress": request.url.params["ipAddress"]}
        return httpx.Response(200, json={"data": data})

    return respond


def _hash(algorithm: str, i: int) -> str:
    return hashlib.new(algorithm, f"payload-{i}".encode()).hexdigest()


# -- the storm bound ---------------------------------------------------------------------------------------


def test_a_storm_of_50_unique_indicators_makes_at_most_50_calls_per_provider(
    fake: FakeProviders, pool: HttpPool, clock: FakeClock
) -> None:
    unique = (
        [("ipv4", f"45.83.{i}.7") for i in range(10)]
        + [("domain", f"c2-{i}.evil-cdn.net") for i in range(10)]
        + [("url", f"http://dl-{i}.evil-cdn.net/v.sct") for i in range(10)]
        + [("sha256", _hash("sha256", i)) for i in range(10)]
        + [("md5", _hash("md5", i)) for i in range(10)]
    )
    # Each indicator many times, as alerts of a storm name it: plain, defanged, upper-cased.
    variants = [
        (
            kind,
            value.replace("http://", "hxxp://").replace(".", "[.]")
            if kind in ("url", "domain")
            else value.upper(),
        )
        for kind, value in unique
    ]
    storm = (unique + variants) * 20
    cache = IntelCache(clock, negative_ttls=dict.fromkeys(("ipv4", "domain", "url", "sha256", "md5"), 86_400))

    result = ask(storm, pool, cache)

    # What each provider supports of the 50: VirusTotal, ThreatFox and MISP all 50, URLhaus URLs + hosts.
    expected = Counter(virustotal=50, threatfox=50, misp=50, urlhaus=30, abuseipdb=10, greynoise=10)
    assert fake.counts() == expected
    assert all(count <= 50 for count in fake.counts().values())
    assert result.calls == expected and result.failures == [] and result.not_asked == []
    assert set(result) == set(storm)
    assert sorted(result.providers) == sorted(BASES)

    again = ask(storm, pool, cache)

    assert fake.counts() == expected  # not one more request: all answered from the cache
    assert again.cache_hits == expected and again.calls == Counter()


def test_the_storm_bound_holds_for_concurrent_lookups_of_one_indicator(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    async def storm() -> list[Any]:
        return await asyncio.gather(
            *(
                lookup([("domain", "evil-cdn.net")], tenant="acme", providers=["virustotal"], secrets=SECRETS,
                       pool=pool, cache=cache)
                for _ in range(10)
            )
        )  # fmt: skip

    results = asyncio.run(storm())

    assert fake.counts() == Counter(virustotal=1)
    assert sum(r.calls["virustotal"] for r in results) == 1
    assert sum(r.cache_hits["virustotal"] for r in results) == 9


# -- the cache: a TTL per indicator type -------------------------------------------------------------------


def test_answers_expire_per_indicator_type(fake: FakeProviders, pool: HttpPool, clock: FakeClock) -> None:
    answers = {
        "/ip_addresses/": fixture("providers/vt-v3-ip.json"),
        "/domains/": fixture("providers/vt-v3-domain.json"),
        "/files/": fixture("providers/vt-v3-file.json"),
    }
    fake.answers["virustotal"] = lambda r: httpx.Response(
        200, json=next(body for part, body in answers.items() if part in r.url.path)
    )
    asked = [("ipv4", "45.83.66.1"), ("domain", "down.mykings.pw"), ("sha256", _hash("sha256", 1))]
    cache = IntelCache(clock)

    def calls_after(minutes: float) -> int:
        clock.advance(minutes * 60)
        before = fake.routes["virustotal"].call_count
        result = ask(asked, pool, cache, providers=["virustotal"])
        assert all(result[key] for key in asked)
        return fake.routes["virustotal"].call_count - before

    assert calls_after(0) == 3
    assert calls_after(30) == 0  # every answer still fresh
    assert calls_after(31) == 1  # an hour on: the IP is asked again, the domain and the hash are not
    assert calls_after(6 * 60) == 2  # six hours on: the domain too (and the IP, again)
    assert calls_after(7 * 24 * 60) == 3  # a week on: even the hash


def test_an_unknown_answer_is_kept_for_less_time(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache, clock: FakeClock
) -> None:
    asked = [("ipv4", "45.83.66.1")]

    ask(asked, pool, cache, providers=["greynoise"])
    clock.advance(10 * 60)
    ask(asked, pool, cache, providers=["greynoise"])
    clock.advance(6 * 60)
    ask(asked, pool, cache, providers=["greynoise"])

    assert fake.routes["greynoise"].call_count == 2


def test_public_answers_are_shared_between_tenants_but_misp_answers_are_not(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    for tenant in ("acme", "globex"):
        ask([("domain", "evil-cdn.net")], pool, cache, providers=["virustotal", "misp"], tenant=tenant)

    assert fake.counts() == Counter(virustotal=1, misp=2)


# -- rate limits that queue --------------------------------------------------------------------------------


def test_a_burst_queues_at_the_tenant_keys_rate_and_every_lookup_succeeds(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    fake.answers["abuseipdb"] = _abuse(100)
    ips = [("ipv4", f"45.83.66.{i}") for i in range(1, 11)]
    settings = {**SETTINGS, "abuseipdb": {"rate_per_second": 1.0, "burst": 2}}

    result = ask(ips, pool, cache, providers=["abuseipdb"], settings=settings)

    assert result.failures == [] and all(len(result[ip]) == 1 for ip in ips)
    assert fake.times["abuseipdb"] == pytest.approx([1000.0, 1000.0, *(1000.0 + s for s in range(1, 9))])


def test_the_provider_limit_holds_across_tenants(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    fake.answers["abuseipdb"] = _abuse(100)
    settings = {"abuseipdb": {"rate_per_second": 100.0, "burst": 100}}

    async def two_tenants() -> list[Any]:
        return await asyncio.gather(
            *(
                lookup([("ipv4", f"45.83.{n}.{i}") for i in range(5)], tenant=tenant, providers=["abuseipdb"],
                       secrets=SECRETS, settings=settings, pool=pool, cache=cache,
                       provider_limits={"abuseipdb": (2.0, 1)})
                for n, tenant in enumerate(("acme", "globex"))
            )
        )  # fmt: skip

    results = asyncio.run(two_tenants())

    assert all(r.failures == [] for r in results)
    # Ten calls, one provider-wide slot every 0.5 s, whichever tenant asked.
    assert fake.times["abuseipdb"] == pytest.approx([1000.0 + 0.5 * i for i in range(10)])


def test_each_tenants_key_has_its_own_limit(fake: FakeProviders, pool: HttpPool, cache: IntelCache) -> None:
    fake.answers["abuseipdb"] = _abuse(100)
    settings = {"abuseipdb": {"rate_per_second": 1.0, "burst": 1}}

    async def two_tenants() -> list[Any]:
        return await asyncio.gather(
            *(
                lookup([("ipv4", f"45.83.{n}.{i}") for i in range(4)], tenant=tenant, providers=["abuseipdb"],
                       secrets=SECRETS, settings=settings, pool=pool, cache=cache)
                for n, tenant in enumerate(("acme", "globex"))
            )
        )  # fmt: skip

    asyncio.run(two_tenants())

    # One call a second per tenant key, the two tenants side by side (not one queue of eight).
    assert fake.times["abuseipdb"] == pytest.approx(
        [1000.0, 1000.0, 1001.0, 1001.0, 1002.0, 1002.0, 1003.0, 1003.0]
    )


def test_a_429_waits_for_retry_after_and_is_asked_again(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "30"}, json={"errors": [{"detail": "slow"}]})]
    )
    good = _abuse(100)
    fake.answers["abuseipdb"] = lambda r: next(answers, None) or good(r)

    result = ask([("ipv4", "45.83.66.1")], pool, cache, providers=["abuseipdb"])

    assert result.failures == [] and result[("ipv4", "45.83.66.1")][0].verdict == "malicious"
    assert result.calls["abuseipdb"] == 2
    first, second = fake.times["abuseipdb"]
    assert second - first >= 30.0


def test_a_deadline_ends_the_lookup_and_reports_what_was_not_asked(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    ips = [("ipv4", f"45.83.66.{i}") for i in range(1, 11)]  # VirusTotal's public key: 4 a minute

    result = ask(ips, pool, cache, providers=["virustotal"], deadline=60)

    asked = fake.routes["virustotal"].call_count
    late = [f for f in result.failures if "deadline" in f.error]
    assert 4 <= asked < 10 and asked + len(late) == 10
    assert all(f.transient and f.provider == "virustotal" for f in late)
    assert set(result) == set(ips)


# -- failures are reported, never raised -------------------------------------------------------------------


def test_repeated_5xx_are_retried_then_the_circuit_opens(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache, debug_logs: pytest.LogCaptureFixture
) -> None:
    fake.answers["abuseipdb"] = lambda r: httpx.Response(503, json={"errors": [{"detail": "maintenance"}]})
    ips = [("ipv4", f"45.83.66.{i}") for i in range(1, 4)]

    result = ask(ips, pool, cache, providers=["abuseipdb"])

    assert (
        fake.routes["abuseipdb"].call_count == 5
    )  # five failures open the circuit; no more calls after that
    assert [f.indicator for f in result.failures] == ips or sorted(
        f.indicator for f in result.failures
    ) == ips
    assert all(f.transient for f in result.failures)
    assert any("circuit open" in f.error for f in result.failures)
    assert all(result[ip] == [] for ip in ips)
    assert "intel abuseipdb for ipv4 45.83.66.1" in debug_logs.text
    assert_no_secret(debug_logs.text, json.dumps(result.snapshot()))


def test_a_refused_key_is_reported_once_without_the_key(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache, debug_logs: pytest.LogCaptureFixture
) -> None:
    key = CANARIES["abuseipdb_api_key"]
    fake.answers["abuseipdb"] = lambda r: httpx.Response(401, json={"errors": [{"detail": f"bad key {key}"}]})

    result = ask([("ipv4", "45.83.66.1")], pool, cache, providers=["abuseipdb"])

    [failure] = result.failures
    assert not failure.transient and "refused (401): bad key ***" in failure.error
    assert fake.routes["abuseipdb"].call_count == 1  # permanent: not retried
    assert_no_secret(str(failure), debug_logs.text)


def test_a_providers_bug_is_a_reported_failure(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = intel_registry.get("greynoise.lookup_ip")

    async def broken(inputs: Any, session: Any) -> list[IntelRecord]:
        raise RuntimeError(f"boom with {CANARIES['greynoise_api_key']}")

    monkeypatch.setitem(intel_registry.lookups, spec.key, dataclasses.replace(spec, fn=broken))

    result = ask([("ipv4", "45.83.66.1")], pool, cache, providers=["greynoise", "abuseipdb"])

    [failure] = result.failures
    assert failure.provider == "greynoise" and failure.error == "unexpected RuntimeError: boom with ***"
    assert fake.routes["abuseipdb"].call_count == 1  # the other provider still answered


def test_unknown_providers_and_missing_secrets_are_failures(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    result = ask([("domain", "evil-cdn.net")], pool, cache, providers=["virustotal", "shodan"], secrets={})

    assert sorted((f.provider, f.indicator, f.error) for f in result.failures) == [
        ("shodan", None, "unknown intel provider"),
        ("virustotal", None, "secret 'virustotal_api_key' is not configured for tenant acme"),
    ]
    assert result[("domain", "evil-cdn.net")] == [] and fake.counts() == Counter()


def test_the_configured_providers_are_asked_by_default(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    only_vt = {"virustotal_api_key": SECRETS["virustotal_api_key"]}
    with_greynoise = {**only_vt, "greynoise_api_key": SECRETS["greynoise_api_key"]}

    assert ask([("ipv4", "45.83.66.1")], pool, cache, secrets=only_vt, settings={}).providers == [
        "virustotal"
    ]
    assert ask([("ipv4", "45.83.66.2")], pool, cache, secrets=with_greynoise, settings={}).providers == [
        "greynoise",
        "virustotal",
    ]
    assert ask([("ipv4", "45.83.66.3")], pool, cache, secrets={}, settings={}).providers == []


# -- what is never sent ------------------------------------------------------------------------------------


def test_private_addresses_and_internal_names_never_reach_a_third_party(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    private = [
        ("ipv4", "10.0.0.5"),
        ("domain", "dc01.corp.local"),
        ("url", "http://192.168.1.10/x"),
        ("ipv6", "fe80::1"),
    ]
    public = ("ipv4", "45.83.66.1")

    result = ask([*private, public], pool, cache, providers=["virustotal", "misp"])

    assert [r.url.path for r in fake.requests["virustotal"]] == ["/api/v3/ip_addresses/45.83.66.1"]
    assert fake.routes["misp"].call_count == 5  # the tenant's own MISP may know its internal indicators
    assert {(n.provider, n.indicator) for n in result.not_asked} == {("virustotal", p) for p in private}
    assert all("not sent to a third party" in n.reason for n in result.not_asked)


def test_hostile_indicator_values_are_refused_before_any_call(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    hostile = [("ipv4", "999.1.1.1"), ("domain", "{{7*7}}"), ("url", "http://" + "a" * 10_000), ("md5", "x"),
               ("registry_value", "HKLM\\Run\\start"), ("domain", "evil.com\r\nX-Injected: 1")]  # fmt: skip

    result = ask(hostile, pool, cache)

    assert fake.counts() == Counter()
    assert set(result) == set(hostile) and all(v == [] for v in result.values())
    assert {n.indicator for n in result.not_asked} == set(hostile)


def test_variants_of_one_indicator_share_the_answer_and_the_snapshot_is_plain_data(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    fake.answers["virustotal"] = lambda r: httpx.Response(200, json=fixture("providers/vt-v3-domain.json"))
    asked = [("domain", "down.mykings.pw"), ("domain", "DOWN.mykings[.]pw")]

    result = ask(asked, pool, cache, providers=["virustotal"])

    assert fake.routes["virustotal"].call_count == 1
    assert result[asked[0]] == result[asked[1]] and len(result.records()) == 1
    snapshot = json.loads(json.dumps(result.snapshot()))
    assert snapshot["asked_at"] == "2025-11-22T02:00:00Z" and snapshot["providers"] == ["virustotal"]
    assert snapshot["results"][0]["records"][0]["reason"].startswith("VirusTotal: 8 of 98")
    assert IntelRecord.from_dict(snapshot["results"][1]["records"][0]) == result[asked[1]][0]
    assert_no_secret(json.dumps(snapshot))


def test_the_tenant_is_required(pool: HttpPool, cache: IntelCache) -> None:
    with pytest.raises(ValueError, match="tenant"):
        ask([("ipv4", "45.83.66.1")], pool, cache, tenant="")


def test_a_lookup_with_nothing_to_ask_makes_no_client(
    fake: FakeProviders, pool: HttpPool, cache: IntelCache
) -> None:
    result = ask([], pool, cache)

    assert dict(result) == {} and result.failures == [] and fake.counts() == Counter()
    assert copy.copy(result.calls) == Counter()
