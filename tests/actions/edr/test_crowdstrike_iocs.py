"""CrowdStrike Falcon custom IOCs (adapter ``crowdstrike_iocs``): block a domain, an IP or a SHA-256 with
the strongest action Falcon allows (``prevent`` for a hash, ``detect`` otherwise — and the result says so),
idempotent, undone by deleting the IOC, read back for reconciliation; hostile values never reach FQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

import actions.edr.crowdstrike  # noqa: F401 - registers the crowdstrike_iocs.* actions
from actions import ActionContext, ActionStatus, Effect, RateLimited, TransientError, registry
from actions.http import HttpPool
from tests.actions._support import FakeClock, read, run
from tests.actions.edr._indicator_shapes import FakeFalconIocs, assert_no_secret_of, context

BASE = "https://falcon.test"
TOKEN = "CANARY-issued-token-falcon"
SECRETS = {
    "crowdstrike_iocs_client_id": "CANARY-cs-ioc-client-id-71c3",
    "crowdstrike_iocs_client_secret": "CANARY-cs-ioc-client-secret-0d9a",
}
SHA = "5e0b8f7c6b5a4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b"
EXPIRES = "2025-12-22T02:00:00Z"  # the fake clock's wall time plus the default 30 days


@pytest.fixture
def falcon() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield FakeFalconIocs(mock, TOKEN)


def ctx(pool: HttpPool, **kwargs: Any) -> ActionContext:
    return context(pool, "crowdstrike_iocs", {"base_url": BASE}, SECRETS, **kwargs)


def _no_secret(*texts: str) -> None:
    assert_no_secret_of(SECRETS, *texts)


def test_blocking_a_hash_sends_the_documented_body_with_prevent(
    falcon: FakeFalconIocs, pool: HttpPool, debug_logs: Any
) -> None:
    result = run("crowdstrike_iocs.block_hash", {"sha256": SHA.upper()}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.changed is True
    assert result.detail == "file hash blocked (prevent)" and result.vendor_ref == falcon.iocs[0]["id"]
    query = falcon.query.calls[0].request
    assert query.url.params["filter"] == f"type:'sha256'+value:'{SHA}'"
    assert query.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(falcon.create.calls.last.request.content) == {
        "comment": "Garrison incident inc-1",
        "indicators": [
            {
                "type": "sha256",
                "value": SHA,
                "action": "prevent",
                "severity": "high",
                "applied_globally": True,
                "platforms": ["windows", "mac", "linux"],
                "expiration": EXPIRES,
                "description": "Garrison incident inc-1",
                "source": "Garrison",
            }
        ],
    }
    _no_secret(result.model_dump_json(), debug_logs.text)


@pytest.mark.parametrize(
    ("key", "inputs", "kind", "value"),
    [
        ("crowdstrike_iocs.block_domain", {"domain": "JS.MyKings[.]top"}, "domain", "js.mykings.top"),
        ("crowdstrike_iocs.block_ip", {"ip": "203.0.113.7"}, "ipv4", "203.0.113.7"),
        ("crowdstrike_iocs.block_ip", {"ip": "2001:DB8::7"}, "ipv6", "2001:db8::7"),
    ],
)
def test_a_domain_or_an_ip_can_only_be_detected_and_the_result_says_so(
    falcon: FakeFalconIocs, pool: HttpPool, key: str, inputs: dict[str, str], kind: str, value: str
) -> None:
    result = run(key, inputs, ctx(pool))

    assert result.ok and "detect only: Falcon cannot prevent" in result.detail
    [sent] = json.loads(falcon.create.calls.last.request.content)["indicators"]
    assert (sent["type"], sent["value"], sent["action"]) == (kind, value, "detect")


def test_an_existing_blocking_ioc_is_success_without_a_create(falcon: FakeFalconIocs, pool: HttpPool) -> None:
    falcon.add("domain", "js.mykings.top", "detect")

    result = run("crowdstrike_iocs.block_domain", {"domain": "js.mykings.top"}, ctx(pool))

    assert result.ok and result.changed is False and result.detail.startswith("domain already blocked")
    assert not falcon.create.called


def test_a_duplicate_answer_is_read_back_as_already_blocked(falcon: FakeFalconIocs, pool: HttpPool) -> None:
    falcon.query.side_effect = None
    answers = iter([[], None])  # not there at the first read; created meanwhile (a crash, an analyst)

    def query(request: httpx.Request) -> httpx.Response:
        if next(answers, None) == []:
            return httpx.Response(200, json={"resources": [], "errors": []})
        return falcon._query(request)

    falcon.query.mock(side_effect=query)
    falcon.add("sha256", SHA, "prevent")

    result = run("crowdstrike_iocs.block_hash", {"sha256": SHA}, ctx(pool))

    assert result.ok and result.changed is False and falcon.create.call_count == 1


def test_an_analysts_allow_entry_is_never_overridden_nor_deleted(
    falcon: FakeFalconIocs, pool: HttpPool
) -> None:
    falcon.add("domain", "intranet.example.com", "allow")

    blocked = run("crowdstrike_iocs.block_domain", {"domain": "intranet.example.com"}, ctx(pool))
    unblocked = run("crowdstrike_iocs.unblock_domain", {"domain": "intranet.example.com"}, ctx(pool))

    assert blocked.status is ActionStatus.FAILED and "'allow'" in blocked.detail
    assert unblocked.ok and unblocked.changed is False and "left in place" in unblocked.detail
    assert not falcon.create.called and not falcon.delete.called


def test_unblock_deletes_the_ioc_by_id(falcon: FakeFalconIocs, pool: HttpPool) -> None:
    ioc = falcon.add("sha256", SHA, "prevent")

    result = run("crowdstrike_iocs.unblock_hash", {"sha256": SHA}, ctx(pool))

    assert result.ok and result.changed is True and result.detail == "file hash unblocked"
    request = falcon.delete.calls.last.request
    assert request.method == "DELETE" and request.url.params["ids"] == ioc["id"]
    assert falcon.iocs == []


def test_unblocking_what_is_not_listed_is_success_without_a_call(
    falcon: FakeFalconIocs, pool: HttpPool
) -> None:
    result = run("crowdstrike_iocs.unblock_ip", {"ip": "203.0.113.7"}, ctx(pool))

    assert result.ok and result.changed is False and not falcon.delete.called


def test_a_404_on_delete_means_already_unblocked(falcon: FakeFalconIocs, pool: HttpPool) -> None:
    falcon.add("sha256", SHA, "prevent")
    falcon.delete.mock(side_effect=None).respond(
        404, json={"errors": [{"code": 404, "message": "not found"}]}
    )

    result = run("crowdstrike_iocs.unblock_hash", {"sha256": SHA}, ctx(pool))

    assert result.ok and result.changed is False and result.detail == "file hash was already unblocked"


def test_a_429_is_rate_limited_with_retry_after(
    falcon: FakeFalconIocs, pool: HttpPool, clock: FakeClock
) -> None:
    falcon.create.mock(side_effect=None).respond(429, headers={"Retry-After": "3"})

    with pytest.raises(RateLimited) as caught:
        run("crowdstrike_iocs.block_hash", {"sha256": SHA}, ctx(pool))

    assert caught.value.retry_after is not None and caught.value.retry_after >= 3


def test_a_5xx_is_transient_and_carries_no_secret(
    falcon: FakeFalconIocs, pool: HttpPool, debug_logs: Any
) -> None:
    falcon.create.mock(side_effect=None).respond(503, json={"errors": [{"code": 503, "message": "busy"}]})

    with pytest.raises(TransientError) as caught:
        run("crowdstrike_iocs.block_domain", {"domain": "js.mykings.top"}, ctx(pool))

    _no_secret(str(caught.value), debug_logs.text)


def test_read_state_reports_the_ioc_for_reconciliation(falcon: FakeFalconIocs, pool: HttpPool) -> None:
    before = read("crowdstrike_iocs.block_hash", {"sha256": SHA}, ctx(pool))
    falcon.add("sha256", SHA, "prevent")
    after = read("crowdstrike_iocs.block_hash", {"sha256": SHA}, ctx(pool))
    inverse = read("crowdstrike_iocs.unblock_hash", {"sha256": SHA}, ctx(pool))

    assert (
        before.effect is Effect.ABSENT and after.effect is Effect.APPLIED and inverse.effect is Effect.ABSENT
    )
    assert after.observed == {"id": falcon.iocs[0]["id"], "action": "prevent"}
    assert not falcon.create.called


def test_dry_run_reads_but_never_creates(falcon: FakeFalconIocs, pool: HttpPool) -> None:
    result = run("crowdstrike_iocs.block_domain", {"domain": "js.mykings.top"}, ctx(pool, dry_run=True))

    assert (
        result.status is ActionStatus.SKIPPED and "would run crowdstrike_iocs.block_domain" in result.detail
    )
    assert falcon.query.called and not falcon.create.called


def test_each_block_is_undone_by_its_unblock_and_reads_state() -> None:
    for kind in ("domain", "ip", "hash"):
        spec = registry.get(f"crowdstrike_iocs.block_{kind}")
        assert spec.inverse == f"crowdstrike_iocs.unblock_{kind}" and spec.can_read_state and spec.idempotent
    assert "crowdstrike_iocs.block_url" not in registry.keys()  # Falcon has no URL indicator


@pytest.mark.parametrize(
    ("key", "inputs"),
    [
        ("crowdstrike_iocs.block_domain", {"domain": "evil.com;rm"}),
        ("crowdstrike_iocs.block_domain", {"domain": "evil.com' or value:*'"}),
        ("crowdstrike_iocs.block_domain", {"domain": 'evil.com"'}),
        ("crowdstrike_iocs.block_domain", {"domain": "evil.com\nrm -rf"}),
        ("crowdstrike_iocs.block_domain", {"domain": "*"}),
        ("crowdstrike_iocs.block_domain", {"domain": "*.evil.com"}),
        ("crowdstrike_iocs.block_domain", {"domain": "$(id).evil.com"}),
        ("crowdstrike_iocs.block_domain", {"domain": "evil.com", "action": "allow"}),
        ("crowdstrike_iocs.block_hash", {"sha256": "*"}),
        ("crowdstrike_iocs.block_hash", {"sha256": SHA[:-1]}),
        ("crowdstrike_iocs.block_hash", {"sha256": SHA[:-1] + "'"}),
        ("crowdstrike_iocs.block_ip", {"ip": "203.0.113.0/24"}),
    ],
)
def test_hostile_values_are_refused_before_any_call(
    falcon: FakeFalconIocs, pool: HttpPool, key: str, inputs: dict[str, str]
) -> None:
    with pytest.raises(ValidationError):
        run(key, inputs, ctx(pool))

    assert not falcon.query.called and not falcon.create.called
