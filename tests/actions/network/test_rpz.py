"""RPZ on PowerDNS (adapter ``rpz``): a domain blocked as ``<domain>.<zone> CNAME .`` through the PowerDNS
zone API, read back first (idempotent), unblocked by deleting it; another policy an analyst set is left
alone; the zone's errors say what is wrong; hostile domains never reach the zone; the key never leaks."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr, ValidationError

import actions.network.rpz  # noqa: F401 - registers the rpz.* actions
from actions import (
    ActionContext,
    ActionStatus,
    CircuitOpen,
    Effect,
    PermanentError,
    PolicyViolation,
    RateLimited,
    RetryPolicy,
    TransientError,
    registry,
    retry_async,
)
from actions.http import HttpPool
from flows.tenants import TenantConfigError, load_tenants
from tests.actions._support import FakeClock, read, run, vendor_fixture

BASE = "https://pdns.acme.test"
ZONE = "rpz.acme.example."
ZONE_PATH = f"/api/v1/servers/localhost/zones/{ZONE}"
KEY = "CANARY-rpz-api-key-5a7e"
SETTINGS = {"base_url": BASE, "zone": ZONE}


class FakePowerDns:
    """PowerDNS's zone endpoint over the fixture zone: GET answers as PowerDNS does (only ``rrset_name``'s
    rrsets when asked, unless ``filters`` is off as on servers before 4.8), PATCH applies REPLACE/DELETE."""

    def __init__(self, mock: respx.MockRouter) -> None:
        self.zone = copy.deepcopy(vendor_fixture("rpz-zone.json"))
        self.filters = True
        self.get = mock.get(ZONE_PATH, name="get").mock(side_effect=self._get)
        self.patch = mock.patch(ZONE_PATH, name="patch").mock(side_effect=self._patch)

    def _get(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["x-api-key"] == KEY
        answer = dict(self.zone)
        name = request.url.params.get("rrset_name")
        if self.filters and name is not None:
            answer["rrsets"] = [r for r in self.zone["rrsets"] if r["name"].lower() == name.lower()]
        return httpx.Response(200, json=answer)

    def _patch(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["x-api-key"] == KEY
        for change in json.loads(request.content)["rrsets"]:
            key = (change["name"], change["type"])
            self.zone["rrsets"] = [r for r in self.zone["rrsets"] if (r["name"], r["type"]) != key]
            if change["changetype"] == "REPLACE":
                kept = {k: change[k] for k in ("name", "type", "ttl", "records", "comments")}
                self.zone["rrsets"].append(kept)
        return httpx.Response(204)

    def sent(self) -> list[dict[str, Any]]:
        return [json.loads(call.request.content) for call in self.patch.calls]

    def holds(self, name: str) -> list[str]:
        return [r["records"][0]["content"] for r in self.zone["rrsets"] if r["name"] == name]


@pytest.fixture
def pdns() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield FakePowerDns(mock)


def ctx(pool: HttpPool, **settings: Any) -> ActionContext:
    return ActionContext(
        tenant="acme",
        incident_id="inc-42",
        secrets={"rpz_api_key": SecretStr(KEY)},
        vendors={"rpz": {**SETTINGS, **settings}},
        http=pool,
    )


def _no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in text, "the PowerDNS API key leaked"


# -- blocking ------------------------------------------------------------------------------------------------


def test_block_reads_the_name_then_patches_the_nxdomain_trigger(
    pdns: FakePowerDns, pool: HttpPool, debug_logs: Any
) -> None:
    result = run("rpz.block_domain", {"domain": "Evil[.]Example"}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.changed is True
    assert result.detail == "evil.example blocked (NXDOMAIN) in RPZ zone rpz.acme.example."
    assert result.vendor_ref == "evil.example.rpz.acme.example."
    assert pdns.get.calls.last.request.url.params["rrset_name"] == "evil.example.rpz.acme.example."
    assert pdns.sent() == [
        {
            "rrsets": [
                {
                    "name": "evil.example.rpz.acme.example.",
                    "type": "CNAME",
                    "ttl": 60,
                    "changetype": "REPLACE",
                    "records": [{"content": ".", "disabled": False}],
                    "comments": [{"content": "garrison incident inc-42", "account": "garrison"}],
                }
            ]
        }
    ]
    assert read("rpz.block_domain", {"domain": "evil.example"}, ctx(pool)).effect is Effect.APPLIED
    _no_key(result.model_dump_json(), debug_logs.text)


def test_include_subdomains_adds_the_wildcard_as_a_second_rrset(pdns: FakePowerDns, pool: HttpPool) -> None:
    result = run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool, include_subdomains=True, ttl=300))

    assert result.ok and result.detail.startswith("evil.example and its subdomains blocked")
    [body] = pdns.sent()
    assert [(r["name"], r["ttl"]) for r in body["rrsets"]] == [
        ("evil.example.rpz.acme.example.", 300),
        ("*.evil.example.rpz.acme.example.", 300),
    ]
    assert pdns.holds("*.evil.example.rpz.acme.example.") == ["."]


def test_a_domain_already_blocked_is_success_without_a_patch(pdns: FakePowerDns, pool: HttpPool) -> None:
    result = run("rpz.block_domain", {"domain": "known-bad.example"}, ctx(pool, include_subdomains=True))

    assert result.ok and result.changed is False and "already blocked" in result.detail
    assert pdns.get.call_count == 2 and not pdns.patch.called


def test_only_the_missing_wildcard_is_written_when_the_name_is_blocked(
    pdns: FakePowerDns, pool: HttpPool
) -> None:
    run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool))

    result = run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool, include_subdomains=True))

    assert result.changed is True
    assert [r["name"] for r in pdns.sent()[-1]["rrsets"]] == ["*.evil.example.rpz.acme.example."]


def test_a_disabled_entry_does_not_block_and_is_replaced(pdns: FakePowerDns, pool: HttpPool) -> None:
    assert read("rpz.block_domain", {"domain": "paused.example"}, ctx(pool)).effect is Effect.ABSENT

    result = run("rpz.block_domain", {"domain": "paused.example"}, ctx(pool))

    assert result.changed is True and pdns.sent()[0]["rrsets"][0]["records"][0]["disabled"] is False


def test_an_analysts_passthru_is_never_overwritten_nor_deleted(pdns: FakePowerDns, pool: HttpPool) -> None:
    blocked = run("rpz.block_domain", {"domain": "allowed.example"}, ctx(pool))
    unblocked = run("rpz.unblock_domain", {"domain": "allowed.example"}, ctx(pool))

    assert blocked.status is ActionStatus.FAILED
    assert blocked.detail == (
        "allowed.example.rpz.acme.example. holds another policy (CNAME rpz-passthru.): "
        "left as an analyst set it"
    )
    assert (
        unblocked.ok
        and unblocked.changed is False
        and "CNAME rpz-passthru. is left in place" in unblocked.detail
    )
    assert not pdns.patch.called and pdns.holds("allowed.example.rpz.acme.example.") == ["rpz-passthru."]


def test_a_server_that_ignores_rrset_name_is_read_the_same(pdns: FakePowerDns, pool: HttpPool) -> None:
    pdns.filters = False  # PowerDNS before 4.8 answers with the whole zone

    already = run("rpz.block_domain", {"domain": "known-bad.example"}, ctx(pool))
    blocked = run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool))

    assert already.changed is False and blocked.changed is True


def test_a_zone_without_soa_edit_api_says_resolvers_will_not_see_it(
    pdns: FakePowerDns, pool: HttpPool
) -> None:
    pdns.zone["soa_edit_api"] = ""

    result = run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool))

    assert (
        result.ok
        and "has no SOA-EDIT-API" in result.detail
        and "resolvers keep their old copy" in result.detail
    )


# -- unblocking ----------------------------------------------------------------------------------------------


def test_unblock_deletes_the_trigger_and_its_wildcard(pdns: FakePowerDns, pool: HttpPool) -> None:
    result = run("rpz.unblock_domain", {"domain": "known-bad.example"}, ctx(pool))  # include_subdomains off

    assert result.ok and result.changed is True
    assert result.detail == "known-bad.example unblocked in RPZ zone rpz.acme.example."
    assert pdns.sent() == [
        {
            "rrsets": [
                {"name": "known-bad.example.rpz.acme.example.", "type": "CNAME", "changetype": "DELETE"},
                {"name": "*.known-bad.example.rpz.acme.example.", "type": "CNAME", "changetype": "DELETE"},
            ]
        }
    ]
    assert read("rpz.unblock_domain", {"domain": "known-bad.example"}, ctx(pool)).effect is Effect.APPLIED


def test_unblocking_what_is_absent_is_success_without_a_patch(pdns: FakePowerDns, pool: HttpPool) -> None:
    result = run("rpz.unblock_domain", {"domain": "evil.example"}, ctx(pool))

    assert result.ok and result.changed is False
    assert result.detail == "evil.example was not blocked in RPZ zone rpz.acme.example."
    assert not pdns.patch.called


def test_block_and_unblock_are_each_others_inverse_round_trip(pdns: FakePowerDns, pool: HttpPool) -> None:
    before = copy.deepcopy(pdns.zone["rrsets"])

    run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool, include_subdomains=True))
    run("rpz.unblock_domain", {"domain": "evil.example"}, ctx(pool))

    assert pdns.zone["rrsets"] == before


def test_read_state_reports_the_policies_it_rests_on(pdns: FakePowerDns, pool: HttpPool) -> None:
    blocked = read("rpz.block_domain", {"domain": "known-bad.example"}, ctx(pool, include_subdomains=True))
    inverse = read("rpz.unblock_domain", {"domain": "known-bad.example"}, ctx(pool))
    absent = read("rpz.block_domain", {"domain": "evil.example"}, ctx(pool))

    assert (
        blocked.effect is Effect.APPLIED
        and inverse.effect is Effect.ABSENT
        and absent.effect is Effect.ABSENT
    )
    assert blocked.observed == {
        "policies": {
            "known-bad.example.rpz.acme.example.": "CNAME .",
            "*.known-bad.example.rpz.acme.example.": "CNAME .",
        },
        "soa_edit_api": "DEFAULT",
    }
    assert not pdns.patch.called


def test_dry_run_reads_but_never_patches(pdns: FakePowerDns, pool: HttpPool) -> None:
    context = dataclasses.replace(ctx(pool), dry_run=True)

    result = run("rpz.block_domain", {"domain": "evil.example"}, context)

    assert result.status is ActionStatus.SKIPPED and "would run rpz.block_domain" in result.detail
    assert pdns.get.called and not pdns.patch.called


def test_the_actions_are_registered_as_an_idempotent_pair_that_reads_state() -> None:
    block, unblock = registry.get("rpz.block_domain"), registry.get("rpz.unblock_domain")

    assert (block.capability, unblock.capability) == ("block_domain", "unblock_domain")
    assert (block.inverse, unblock.inverse) == ("rpz.unblock_domain", "rpz.block_domain")
    assert block.idempotent and unblock.idempotent and block.can_read_state and unblock.can_read_state
    assert block.secrets == ("rpz_api_key",)
    assert {key: issues for key, issues in registry.problems().items() if key.startswith("rpz.")} == {}


# -- PowerDNS's errors ---------------------------------------------------------------------------------------


def test_a_missing_zone_is_permanent_and_names_the_zone(pool: HttpPool) -> None:
    with respx.mock(base_url=BASE) as mock:
        get = mock.get(ZONE_PATH).respond(404, json=vendor_fixture("rpz-error-not-found.json"))

        with pytest.raises(PermanentError) as caught:
            run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool))

    assert str(caught.value).startswith(
        "rpz: zone rpz.acme.example. was not found on PowerDNS server 'localhost' (404)"
    )
    assert get.call_count == 1


def test_a_422_is_permanent_with_powerdns_error_text(pdns: FakePowerDns, pool: HttpPool) -> None:
    pdns.patch.mock(side_effect=None).respond(422, json=vendor_fixture("rpz-error-conflict.json"))

    with pytest.raises(PermanentError) as caught:
        run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool))

    assert str(caught.value) == (
        "rpz: PowerDNS refused the request on zone rpz.acme.example. (422): "
        "RRset evil.example.rpz.acme.example. IN CNAME: Conflicts with pre-existing RRset"
    )


def test_rate_limited_waits_for_retry_after_then_succeeds(
    pdns: FakePowerDns, pool: HttpPool, clock: FakeClock
) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"})])
    apply = pdns.patch.side_effect

    def limited_once(request: httpx.Request) -> httpx.Response:
        limited = next(answers, None)
        return limited if limited is not None else apply(request)

    pdns.patch.mock(side_effect=limited_once)
    spec, start = registry.get("rpz.block_domain"), clock.now

    # As the engine runs it: the shared retry layer, no backoff of its own; the limiter does the waiting.
    result = asyncio.run(
        retry_async(RetryPolicy(attempts=3, clock=clock), spec.run, {"domain": "evil.example"}, ctx(pool))
    )

    assert result.ok and result.changed is True
    assert [call.response.status_code for call in pdns.patch.calls] == [429, 204]
    assert clock.now - start >= 3  # the second PATCH waited past Retry-After
    assert pdns.holds("evil.example.rpz.acme.example.") == ["."]


def test_a_429_is_rate_limited_with_its_retry_after(pdns: FakePowerDns, pool: HttpPool) -> None:
    pdns.patch.mock(side_effect=None).respond(429, headers={"Retry-After": "3"})

    with pytest.raises(RateLimited) as caught:
        run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool))

    assert caught.value.retry_after is not None and caught.value.retry_after >= 3


def test_5xx_are_transient_then_the_circuit_opens_without_a_call(
    pdns: FakePowerDns, pool: HttpPool, debug_logs: Any
) -> None:
    pdns.get.mock(side_effect=None).respond(503, json={"error": f"backend down ({KEY})"})

    for _ in range(5):  # the policy's breaker threshold
        with pytest.raises(TransientError) as caught:
            run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool))
        assert not isinstance(caught.value, CircuitOpen)
        _no_key(str(caught.value))

    with pytest.raises(CircuitOpen):
        run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool))

    assert pdns.get.call_count == 5 and not pdns.patch.called
    _no_key(debug_logs.text)


def test_the_api_key_echoed_in_an_error_never_reaches_the_message(pdns: FakePowerDns, pool: HttpPool) -> None:
    pdns.patch.mock(side_effect=None).respond(422, json={"error": f"bad key {KEY} for zone"})

    with pytest.raises(PermanentError) as caught:
        run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool))

    assert str(caught.value).endswith("(422): bad key *** for zone")


# -- hostile input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain",
    [
        "*",
        "*.evil.example",
        "evil.*.example",
        "evil .example",
        "evil.example;rm -rf /",
        "evil.example\nmalware.example. CNAME .",
        "evil.example\r\nx",
        "192.0.2.7",
        "2001:db8::7",
        "[2001:db8::7]",
        ("a" * 49 + ".") * 5 + "a" * 50,  # 300 characters
        "24.0.2.0.192.rpz-ip",  # an RPZ IP trigger, not a domain
        "ns.evil.rpz-nsdname",
        "evil.example'",
        "$(id).evil.example",
        "",
    ],
)
def test_hostile_domains_are_refused_before_any_call(pdns: FakePowerDns, pool: HttpPool, domain: str) -> None:
    with pytest.raises(ValidationError):
        run("rpz.block_domain", {"domain": domain}, ctx(pool))

    assert not pdns.get.called and not pdns.patch.called


def test_extra_inputs_are_refused(pdns: FakePowerDns, pool: HttpPool) -> None:
    with pytest.raises(ValidationError):
        run("rpz.block_domain", {"domain": "evil.example", "ttl": 1}, ctx(pool))


@pytest.mark.parametrize("domain", ["rpz.acme.example", "x.rpz.acme.example", "Evil.RPZ.acme.example."])
@pytest.mark.parametrize("key", ["rpz.block_domain", "rpz.unblock_domain"])
def test_a_name_inside_the_rpz_zone_itself_is_refused_before_any_call(
    pdns: FakePowerDns, pool: HttpPool, domain: str, key: str
) -> None:
    with pytest.raises(PolicyViolation, match="inside the RPZ zone rpz.acme.example. itself"):
        run(key, {"domain": domain}, ctx(pool))

    assert not pdns.get.called and not pdns.patch.called


def test_a_name_too_long_for_the_zone_is_refused_before_any_call(pdns: FakePowerDns, pool: HttpPool) -> None:
    long = ".".join(["a" * 63] * 3 + ["toolong"])  # 199 characters: a domain, too long for this zone
    wildcard_only = ".".join(["a" * 63] * 3 + ["b" * 40, "ex"])  # its name fits, "*." it does not

    with pytest.raises(PermanentError, match="too long to be a name in RPZ zone"):
        run("rpz.block_domain", {"domain": long}, ctx(pool, zone="x" * 55 + ".example."))
    with pytest.raises(PermanentError, match=r"\*\..* is too long"):
        run("rpz.block_domain", {"domain": wildcard_only}, ctx(pool, include_subdomains=True))
    assert not pdns.get.called

    # Without room for a wildcard none can exist: the unblock looks at the name alone.
    assert run("rpz.unblock_domain", {"domain": wildcard_only}, ctx(pool)).changed is False
    assert pdns.get.call_count == 1


# -- settings and the tenants file ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "why"),
    [
        ({"zone": "rpz.acme.example"}, "ending with a dot"),
        ({"zone": "rpz acme.example."}, "ending with a dot"),
        ({"zone": "*.rpz.example."}, "ending with a dot"),
        ({"server_id": "../../zones"}, "server_id"),
        ({"ttl": 0}, "ttl"),
        ({"base_url": "http://pdns.acme.test:8081"}, "https"),
        ({"zone_name": ZONE}, "zone_name"),
    ],
)
def test_bad_settings_fail_the_action_naming_the_field(
    pool: HttpPool, settings: dict[str, Any], why: str
) -> None:
    with respx.mock(base_url=BASE) as mock:
        with pytest.raises(PermanentError, match=why):
            run("rpz.block_domain", {"domain": "evil.example"}, ctx(pool, **settings))
        assert not mock.calls


def _tenants(tmp_path: Path, rpz: str) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n  - id: acme\n    name: Acme\n    adapters:\n      rpz:\n" + rpz,
        encoding="utf-8",
    )
    return path


def test_a_tenant_with_the_rpz_adapter_blocks_domains_there(tmp_path: Path) -> None:
    path = _tenants(
        tmp_path,
        "        settings:\n"
        "          base_url: 'https://pdns.acme.example:8443'\n"
        "          zone: rpz.acme.example.\n"
        "          include_subdomains: true\n"
        "        secrets: {rpz_api_key: {env: ACME_RPZ_KEY}}\n",
    )

    acme = load_tenants(path).get("acme")

    assert acme is not None
    assert acme.action_for("block_domain").key == "rpz.block_domain"
    assert acme.action_for("unblock_domain").key == "rpz.unblock_domain"


@pytest.mark.parametrize(
    ("rpz", "where", "why"),
    [
        (
            "        settings: {base_url: 'https://pdns.acme.example', zone: rpz.acme.example}\n"
            "        secrets: {rpz_api_key: {env: K}}\n",
            "adapters.rpz.settings.zone",
            "ending with a dot",
        ),
        (
            "        settings: {base_url: 'https://pdns.acme.example', zone: rpz.acme.example.}\n",
            "adapters.rpz.secrets.rpz_api_key",
            "missing",
        ),
        (
            "        settings: {base_url: 'https://pdns.acme.example'}\n"
            "        secrets: {rpz_api_key: {env: K}}\n",
            "adapters.rpz.settings.zone",
            "required",
        ),
    ],
    ids=["zone-without-dot", "no-api-key", "no-zone"],
)
def test_a_wrong_rpz_section_is_refused_when_the_tenants_file_loads(
    tmp_path: Path, rpz: str, where: str, why: str
) -> None:
    path = _tenants(tmp_path, rpz)

    with pytest.raises(TenantConfigError) as caught:
        load_tenants(path)

    message = str(caught.value)
    assert f"tenant acme: {where}: " in message and why in message
