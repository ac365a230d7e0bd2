"""Wazuh contract: Basic credentials for a JWT, PUT /active-response with firewall-drop for the IP on the
tenant's blocking agents (never 'all')."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import respx

import actions.wazuh  # noqa: F401 - registers wazuh.block_ip
from actions import ActionStatus, PermanentError
from actions.http import HttpPool
from tests.actions._support import CANARIES, CATALOG, assert_no_secret, make_ctx, run, vendor_fixture

BASE = "https://wazuh.test:55000"
SHAPES = CATALOG["wazuh_active_response"]
JWT = "CANARY-issued-token-wazuh"
SETTINGS = {"base_url": BASE, "agents_list": ["014", "015"]}


@pytest.fixture
def wazuh() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        auth = {**vendor_fixture("wazuh-authenticate.json"), "data": {"token": JWT}}
        mock.post(SHAPES["auth"]["path"], name="auth").respond(200, json=auth)
        yield mock


def ctx(pool: HttpPool, settings: dict[str, Any] = SETTINGS):  # type: ignore[no-untyped-def]
    return make_ctx(pool, "wazuh", settings)


def test_block_runs_firewall_drop_on_the_tenants_agents(
    wazuh: respx.MockRouter, pool: HttpPool, debug_logs: Any
) -> None:
    answer = {
        **SHAPES["response_shape"],
        "data": {**SHAPES["response_shape"]["data"], "affected_items": ["014", "015"]},
    }
    route = wazuh.put(SHAPES["request"]["path"], name="ar").respond(200, json=answer)

    result = run("wazuh.block_ip", {"ip": "203.0.113.7"}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.vendor_ref == "014,015"
    auth = wazuh.routes["auth"].calls.last.request
    pair = f"{CANARIES['wazuh_user']}:{CANARIES['wazuh_password']}"
    assert auth.headers["authorization"] == "Basic " + base64.b64encode(pair.encode()).decode()
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {JWT}"
    assert (
        request.url.params["agents_list"] == "014,015" and request.url.params["wait_for_complete"] == "false"
    )
    assert json.loads(request.content) == {
        "command": "firewall-drop",
        "arguments": [],
        "alert": {"data": {"srcip": "203.0.113.7"}},
    }
    assert_no_secret(result.model_dump_json(), debug_logs.text)


def test_an_agent_that_failed_makes_the_result_failed(wazuh: respx.MockRouter, pool: HttpPool) -> None:
    data = {
        "affected_items": ["014"],
        "total_affected_items": 1,
        "total_failed_items": 1,
        "failed_items": [{"error": {"code": 1707}, "id": ["015"]}],
    }
    wazuh.put("/active-response").respond(200, json={"data": data, "message": "partly", "error": 2})

    result = run("wazuh.block_ip", {"ip": "203.0.113.7"}, ctx(pool))

    assert result.status is ActionStatus.FAILED and "1 of 2" in result.detail


@pytest.mark.parametrize("agents", [[], ["all"], ["014", "all"]])
def test_settings_must_name_agents_and_never_all(
    wazuh: respx.MockRouter, pool: HttpPool, agents: list[str]
) -> None:
    route = wazuh.put("/active-response")

    with pytest.raises(PermanentError, match="wazuh is configured"):
        run("wazuh.block_ip", {"ip": "203.0.113.7"}, ctx(pool, {"base_url": BASE, "agents_list": agents}))

    assert not route.called
