"""Microsoft Defender for Endpoint custom indicators (adapter ``defender_indicators``): block a domain, an
IP, a URL or a file SHA-256 (``Block``; ``BlockAndRemediate`` for files), idempotent, undone by deleting
the indicator, read back for reconciliation; hostile values never reach the OData filter."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx
from pydantic import ValidationError

import actions.edr.defender  # noqa: F401 - registers the defender_indicators.* actions
from actions import ActionContext, ActionStatus, Effect, RateLimited, TransientError, registry
from actions.http import HttpPool
from tests.actions._support import read, run
from tests.actions.edr._indicator_shapes import FakeMdeIndicators, assert_no_secret_of, context

API = "https://mde.test"
LOGIN = "https://login.test"
AAD_TENANT = "8c3f0d2e-1b4a-4c5d-9e6f-7a8b9c0d1e2f"
TOKEN = "CANARY-issued-token-mde"
SECRETS = {
    "defender_indicators_client_id": "CANARY-mde-ti-client-id-5e5e",
    "defender_indicators_client_secret": "CANARY-mde-ti-client-secret-a7a7",
}
SETTINGS = {"base_url": API, "login_url": LOGIN, "tenant_id": AAD_TENANT}
SHA = "5e0b8f7c6b5a4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b"


@pytest.fixture
def mde() -> Any:
    with respx.mock(assert_all_called=False) as mock:
        yield FakeMdeIndicators(mock, API, LOGIN, AAD_TENANT, TOKEN)


def ctx(pool: HttpPool, **kwargs: Any) -> ActionContext:
    return context(pool, "defender_indicators", SETTINGS, SECRETS, **kwargs)


def _no_secret(*texts: str) -> None:
    assert_no_secret_of(SECRETS, *texts)


def test_blocking_a_domain_sends_the_documented_body(
    mde: FakeMdeIndicators, pool: HttpPool, debug_logs: Any
) -> None:
    result = run("defender_indicators.block_domain", {"domain": "js.mykings[.]top"}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.changed is True
    assert (result.detail, result.vendor_ref) == ("domain blocked (Block)", "995")
    listing = mde.listing.calls[0].request
    assert listing.url.params["$filter"] == "indicatorValue eq 'js.mykings.top'"
    assert listing.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(mde.submit.calls.last.request.content) == {
        "indicatorValue": "js.mykings.top",
        "indicatorType": "DomainName",
        "action": "Block",
        "title": "Garrison incident inc-1",
        "description": "Blocked by Garrison for incident inc-1",
        "expirationTime": "2025-12-22T02:00:00Z",
        "severity": "High",
    }
    _no_secret(result.model_dump_json(), debug_logs.text)


@pytest.mark.parametrize(
    ("key", "inputs", "kind", "value", "action"),
    [
        ("defender_indicators.block_hash", {"sha256": SHA.upper()}, "FileSha256", SHA, "BlockAndRemediate"),
        ("defender_indicators.block_ip", {"ip": "203.0.113.7"}, "IpAddress", "203.0.113.7", "Block"),
        (
            "defender_indicators.block_url",
            {"url": "hxxp://js.mykings[.]top:280/v.sct"},
            "Url",
            "http://js.mykings.top:280/v.sct",
            "Block",
        ),
    ],
)
def test_each_type_and_its_action(
    mde: FakeMdeIndicators,
    pool: HttpPool,
    key: str,
    inputs: dict[str, str],
    kind: str,
    value: str,
    action: str,
) -> None:
    result = run(key, inputs, ctx(pool))

    assert result.ok and result.detail.endswith(f"({action})")
    sent = json.loads(mde.submit.calls.last.request.content)
    assert (sent["indicatorType"], sent["indicatorValue"], sent["action"]) == (kind, value, action)


def test_an_existing_block_is_success_without_a_submit(mde: FakeMdeIndicators, pool: HttpPool) -> None:
    mde.add("FileSha256", SHA, "BlockAndRemediate")

    result = run("defender_indicators.block_hash", {"sha256": SHA}, ctx(pool))

    assert result.ok and result.changed is False and result.vendor_ref == "995"
    assert not mde.submit.called


def test_an_analysts_allowed_entry_is_never_overridden_nor_deleted(
    mde: FakeMdeIndicators, pool: HttpPool
) -> None:
    mde.add("DomainName", "intranet.example.com", "Allowed")

    blocked = run("defender_indicators.block_domain", {"domain": "intranet.example.com"}, ctx(pool))
    unblocked = run("defender_indicators.unblock_domain", {"domain": "intranet.example.com"}, ctx(pool))

    assert blocked.status is ActionStatus.FAILED and "'Allowed'" in blocked.detail
    assert unblocked.ok and unblocked.changed is False
    assert not mde.submit.called and not mde.delete.called


def test_a_same_value_of_another_type_is_not_taken(mde: FakeMdeIndicators, pool: HttpPool) -> None:
    mde.add("Url", "js.mykings.top", "Block")  # not the DomainName indicator

    state = read("defender_indicators.block_domain", {"domain": "js.mykings.top"}, ctx(pool))

    assert state.effect is Effect.ABSENT


def test_unblock_deletes_the_indicator_by_id(mde: FakeMdeIndicators, pool: HttpPool) -> None:
    mde.add("IpAddress", "203.0.113.7", "Block")

    result = run("defender_indicators.unblock_ip", {"ip": "203.0.113.7"}, ctx(pool))

    assert result.ok and result.changed is True and result.vendor_ref == "995"
    assert mde.delete.calls.last.request.url.path == "/api/indicators/995" and mde.indicators == []


def test_a_404_on_delete_means_already_unblocked(mde: FakeMdeIndicators, pool: HttpPool) -> None:
    mde.add("Url", "http://js.mykings.top/v.sct", "Block")
    mde.delete.mock(side_effect=None).respond(404, json={"error": {"code": "NotFound", "message": "gone"}})

    result = run("defender_indicators.unblock_url", {"url": "http://js.mykings.top/v.sct"}, ctx(pool))

    assert result.ok and result.changed is False and result.detail == "URL was already unblocked"


def test_unblocking_what_is_not_listed_is_success_without_a_call(
    mde: FakeMdeIndicators, pool: HttpPool
) -> None:
    result = run("defender_indicators.unblock_hash", {"sha256": SHA}, ctx(pool))

    assert result.ok and result.changed is False and not mde.delete.called


def test_a_429_is_rate_limited_with_retry_after(mde: FakeMdeIndicators, pool: HttpPool) -> None:
    mde.submit.mock(side_effect=None).respond(429, headers={"Retry-After": "30"})

    with pytest.raises(RateLimited) as caught:
        run("defender_indicators.block_domain", {"domain": "js.mykings.top"}, ctx(pool))

    assert caught.value.retry_after is not None and caught.value.retry_after >= 30


def test_a_5xx_is_transient_and_carries_no_secret(
    mde: FakeMdeIndicators, pool: HttpPool, debug_logs: Any
) -> None:
    mde.listing.mock(side_effect=None).respond(500, json={"error": {"code": "InternalError", "message": "x"}})

    with pytest.raises(TransientError) as caught:
        run("defender_indicators.block_hash", {"sha256": SHA}, ctx(pool))

    assert not mde.submit.called
    _no_secret(str(caught.value), debug_logs.text)


def test_read_state_and_dry_run(mde: FakeMdeIndicators, pool: HttpPool) -> None:
    plan = run("defender_indicators.block_hash", {"sha256": SHA}, ctx(pool, dry_run=True))
    mde.add("FileSha256", SHA, "BlockAndRemediate")
    state = read("defender_indicators.block_hash", {"sha256": SHA}, ctx(pool))
    inverse = read("defender_indicators.unblock_hash", {"sha256": SHA}, ctx(pool))

    assert plan.status is ActionStatus.SKIPPED and "would run defender_indicators.block_hash" in plan.detail
    assert state.effect is Effect.APPLIED and inverse.effect is Effect.ABSENT
    assert state.observed == {"id": "995", "action": "BlockAndRemediate"}
    assert not mde.submit.called


def test_each_block_is_undone_by_its_unblock_and_reads_state() -> None:
    for kind in ("domain", "ip", "url", "hash"):
        spec = registry.get(f"defender_indicators.block_{kind}")
        assert (
            spec.inverse == f"defender_indicators.unblock_{kind}" and spec.can_read_state and spec.idempotent
        )


@pytest.mark.parametrize(
    ("key", "inputs"),
    [
        ("defender_indicators.block_domain", {"domain": "evil.com;rm"}),
        ("defender_indicators.block_domain", {"domain": "evil.com' or indicatorValue ne '"}),
        ("defender_indicators.block_domain", {"domain": "evil.com\nx"}),
        ("defender_indicators.block_domain", {"domain": "*"}),
        ("defender_indicators.block_domain", {"domain": "`id`.evil.com"}),
        ("defender_indicators.block_url", {"url": "http://evil.com/a'b"}),
        ("defender_indicators.block_url", {"url": "http://evil.com/*"}),
        ("defender_indicators.block_url", {"url": "http://evil.com/a\nb"}),
        ("defender_indicators.block_url", {"url": "\\\\evil.com\\share\\x"}),
        ("defender_indicators.block_url", {"url": "file:///etc/passwd"}),
        ("defender_indicators.block_hash", {"sha256": SHA + "0"}),
        ("defender_indicators.block_hash", {"sha256": "z" * 64}),
        ("defender_indicators.block_ip", {"ip": "203.0.113.7; rm"}),
    ],
)
def test_hostile_values_are_refused_before_any_call(
    mde: FakeMdeIndicators, pool: HttpPool, key: str, inputs: dict[str, str]
) -> None:
    with pytest.raises(ValidationError):
        run(key, inputs, ctx(pool))

    assert not mde.listing.called and not mde.submit.called
