"""SentinelOne contract: ApiToken header, hostname → exactly one agent, disconnect / connect with a filter
naming that agent only; an empty filter is refused before any HTTP call."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

import actions.edr.sentinelone  # noqa: F401 - registers the sentinelone.* actions
from actions import ActionStatus, Effect, PolicyViolation, TargetNotFound
from actions.edr.sentinelone import agents_filter
from actions.http import HttpPool
from tests.actions._support import CANARIES, CATALOG, assert_no_secret, make_ctx, read, run, vendor_fixture

BASE = "https://s1.test"
SHAPES = CATALOG["sentinelone_disconnect_from_network"]
HOST = "WS-FINANCE-07"
AGENT = "225494730938493804"
SITE = "225494730938493800"
SETTINGS = {"base_url": BASE, "site_ids": [SITE], "verify_timeout": 20, "poll_interval": 5}


class FakeSentinelOne:
    def __init__(self, mock: respx.MockRouter, *, agents: int = 1, status: str = "connected") -> None:
        self.status = status
        self.count = agents
        self.affected = 1
        self.agents = mock.get("/web/api/v2.1/agents", name="agents").mock(side_effect=self._agents)
        self.disconnect = mock.post(SHAPES["request"]["path"], name="disconnect").mock(
            side_effect=lambda r: self._act("disconnected")
        )
        self.connect = mock.post(SHAPES["undo"]["path"], name="connect").mock(
            side_effect=lambda r: self._act("connected")
        )

    def _agents(self, request: httpx.Request) -> httpx.Response:
        body = vendor_fixture("sentinelone-agents.json")
        body["data"] = [{**body["data"][0], "networkStatus": self.status}] * self.count
        return httpx.Response(200, json=body)

    def _act(self, to: str) -> httpx.Response:
        if self.affected:
            self.status = to
        return httpx.Response(200, json={"data": {"affected": self.affected}})


@pytest.fixture
def s1() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


def ctx(pool: HttpPool, **kwargs: Any):  # type: ignore[no-untyped-def]
    return make_ctx(pool, "sentinelone", SETTINGS, **kwargs)


def test_disconnect_sends_the_documented_request(
    s1: respx.MockRouter, pool: HttpPool, debug_logs: Any
) -> None:
    fake = FakeSentinelOne(s1)

    result = run("sentinelone.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.vendor_ref == AGENT
    lookup = fake.agents.calls[0].request
    assert lookup.url.params["computerName"] == HOST and lookup.url.params["siteIds"] == SITE
    post = fake.disconnect.calls.last.request
    assert post.headers["authorization"] == f"ApiToken {CANARIES['sentinelone_api_token']}"
    assert json.loads(post.content) == {"filter": {"ids": [AGENT], "siteIds": [SITE]}, "data": {}}
    assert_no_secret(result.model_dump_json(), debug_logs.text)


@pytest.mark.parametrize("ids", [[], [""], ["  "], [AGENT, ""]])
def test_an_agent_filter_without_agent_ids_is_refused(ids: list[str]) -> None:
    with pytest.raises(PolicyViolation, match="every agent"):
        agents_filter(ids, [SITE])


def test_an_empty_filter_never_reaches_the_vendor(s1: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeSentinelOne(s1)
    from actions.edr.sentinelone import _SentinelOne

    async def empty() -> None:
        async with _SentinelOne(ctx(pool)) as client:
            await client.agent_action("disconnect", [])

    with pytest.raises(PolicyViolation):
        asyncio.run(empty())
    with pytest.raises(ValidationError):  # a blank hostname cannot become an empty computerName filter
        run("sentinelone.isolate_host", {"hostname": "  "}, ctx(pool))

    assert not fake.disconnect.called and not fake.agents.called


def test_an_already_disconnected_agent_is_success_without_a_call(
    s1: respx.MockRouter, pool: HttpPool
) -> None:
    fake = FakeSentinelOne(s1, status="disconnected")

    result = run("sentinelone.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.ok and result.changed is False
    assert not fake.disconnect.called


@pytest.mark.parametrize("agents", [0, 2])
def test_zero_or_two_agents_is_target_not_found(s1: respx.MockRouter, pool: HttpPool, agents: int) -> None:
    fake = FakeSentinelOne(s1, agents=agents)

    with pytest.raises(TargetNotFound):
        run("sentinelone.isolate_host", {"hostname": HOST}, ctx(pool))

    assert not fake.disconnect.called


def test_affected_zero_is_a_failure(s1: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeSentinelOne(s1)
    fake.affected = 0

    with pytest.raises(TargetNotFound, match="affected no agent"):
        run("sentinelone.isolate_host", {"hostname": HOST}, ctx(pool))


def test_connect_releases_the_host(s1: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeSentinelOne(s1, status="disconnected")

    result = run("sentinelone.release_host", {"hostname": HOST}, ctx(pool))

    assert result.ok and result.detail == "agent connected"
    assert json.loads(fake.connect.calls.last.request.content)["filter"]["ids"] == [AGENT]


def test_a_disconnect_still_in_flight_is_pending(s1: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeSentinelOne(s1)
    fake.disconnect.mock(
        side_effect=lambda r: (setattr(fake, "status", "disconnecting"), fake._act("disconnecting"))[1]
    )

    result = run("sentinelone.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.status is ActionStatus.PENDING


@pytest.mark.parametrize(
    ("status", "isolate"),
    [("disconnected", Effect.APPLIED), ("disconnecting", Effect.IN_PROGRESS), ("connected", Effect.ABSENT)],
)
def test_read_state_reports_the_network_status(
    s1: respx.MockRouter, pool: HttpPool, status: str, isolate: Effect
) -> None:
    fake = FakeSentinelOne(s1, status=status)

    state = read("sentinelone.isolate_host", {"hostname": HOST}, ctx(pool))

    assert state.effect is isolate and state.vendor_ref == AGENT
    assert not fake.disconnect.called
