"""CrowdStrike Falcon contract: OAuth2 token (cached), hostname → exactly one device id, contain /
lift_containment, verified by the device status; shapes from the interop catalog."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from pydantic import ValidationError

import actions.edr.crowdstrike  # noqa: F401 - registers the crowdstrike.* actions
from actions import ActionStatus, Effect, MissingSecret, TargetNotFound, VendorRejected
from actions.http import HttpPool
from tests.actions._support import (
    CANARIES,
    CATALOG,
    FakeClock,
    assert_no_secret,
    make_ctx,
    read,
    run,
    vendor_fixture,
)

BASE = "https://falcon.test"
SHAPES = CATALOG["crowdstrike_falcon_contain"]
TOKEN = "CANARY-issued-token-falcon"
HOST = "WS-FINANCE-07"
DEVICE_ID = SHAPES["lookup_first"]["response_shape"]["resources"][0]


class FakeFalcon:
    """Routes answering with the documented shapes; device status moves as the real one does."""

    def __init__(
        self, mock: respx.MockRouter, *, status: str = "normal", ids: list[str] | None = None
    ) -> None:
        self.status = status
        self.settle = True  # pending states settle on the next read
        token_answer = {**SHAPES["auth"]["response"], "access_token": TOKEN}
        self.token = mock.post("/oauth2/token", name="token").respond(201, json=token_answer)
        query = copy.deepcopy(SHAPES["lookup_first"]["response_shape"])
        query["resources"] = [DEVICE_ID] if ids is None else ids
        self.query = mock.get("/devices/queries/devices/v1", name="query").respond(200, json=query)
        self.details = mock.get("/devices/entities/devices/v2", name="details").mock(
            side_effect=self._details
        )
        self.action = mock.post("/devices/entities/devices-actions/v2", name="action").mock(
            side_effect=self._act
        )

    def _details(self, request: httpx.Request) -> httpx.Response:
        body = vendor_fixture("crowdstrike-device-entities.json")
        body["resources"][0].update(device_id=DEVICE_ID, status=self.status)
        if self.settle:
            self.status = {"containment_pending": "contained", "lift_containment_pending": "normal"}.get(
                self.status, self.status
            )
        return httpx.Response(200, json=body)

    def _act(self, request: httpx.Request) -> httpx.Response:
        name = request.url.params["action_name"]
        self.status = {"contain": "containment_pending", "lift_containment": "lift_containment_pending"}[name]
        answer = copy.deepcopy(SHAPES["response_shape"])
        answer["resources"][0]["id"] = DEVICE_ID
        return httpx.Response(202, json=answer)


SETTINGS = {"base_url": BASE, "verify_timeout": 30, "poll_interval": 5}


@pytest.fixture
def falcon() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


def ctx(pool: HttpPool, **kwargs: Any):  # type: ignore[no-untyped-def]
    return make_ctx(pool, "crowdstrike", SETTINGS, **kwargs)


def test_isolate_sends_the_documented_requests(
    falcon: respx.MockRouter, pool: HttpPool, debug_logs: Any
) -> None:
    fake = FakeFalcon(falcon)

    result = run("crowdstrike.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.changed is True
    assert result.vendor_ref == DEVICE_ID and result.detail == "device contained"
    form = parse_qs(fake.token.calls.last.request.content.decode())
    assert form == {
        "client_id": [CANARIES["crowdstrike_client_id"]],
        "client_secret": [CANARIES["crowdstrike_client_secret"]],
    }
    query = fake.query.calls.last.request
    assert query.url.params["filter"] == f"hostname:'{HOST}'"
    assert query.headers["authorization"] == f"Bearer {TOKEN}"
    action = fake.action.calls.last.request
    assert action.method == "POST" and action.url.params["action_name"] == "contain"
    assert action.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(action.content) == {"ids": [DEVICE_ID]}
    assert_no_secret(result.model_dump_json(), debug_logs.text)


def test_an_already_contained_host_is_success_without_a_call(
    falcon: respx.MockRouter, pool: HttpPool
) -> None:
    fake = FakeFalcon(falcon, status="contained")

    result = run("crowdstrike.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.ok and result.changed is False and "already" in result.detail
    assert not fake.action.called


def test_an_already_contained_answer_to_contain_counts_as_success(
    falcon: respx.MockRouter, pool: HttpPool
) -> None:
    fake = FakeFalcon(falcon)

    def already(request: httpx.Request) -> httpx.Response:
        fake.status = "contained"  # an analyst contained it a moment before
        return httpx.Response(409, json={"errors": [{"code": 409, "message": "Device is already contained"}]})

    fake.action.mock(side_effect=already)

    result = run("crowdstrike.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.ok and result.detail == "device contained"


@pytest.mark.parametrize("ids", [[], [DEVICE_ID, "0d4c1b9b5a2f4e1f8c7d6e5f4a3b2c1d"]], ids=["none", "two"])
def test_zero_or_two_devices_is_target_not_found_and_no_action(
    falcon: respx.MockRouter, pool: HttpPool, ids: list[str]
) -> None:
    fake = FakeFalcon(falcon, ids=ids)

    with pytest.raises(TargetNotFound, match="refusing to act") as caught:
        run("crowdstrike.isolate_host", {"hostname": HOST}, ctx(pool))

    assert not fake.action.called
    assert_no_secret(str(caught.value))


def test_a_device_whose_name_differs_is_not_taken(falcon: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeFalcon(falcon)

    with pytest.raises(TargetNotFound):
        run("crowdstrike.isolate_host", {"hostname": "WS-FINANCE"}, ctx(pool))

    assert not fake.action.called


@pytest.mark.parametrize("hostname", ["x' OR hostname:*'", "WS-*", "", " ", "a" * 300])
def test_a_hostname_that_could_widen_the_filter_is_refused_before_any_call(
    falcon: respx.MockRouter, pool: HttpPool, hostname: str
) -> None:
    fake = FakeFalcon(falcon)

    with pytest.raises(ValidationError):
        run("crowdstrike.isolate_host", {"hostname": hostname}, ctx(pool))

    assert not fake.token.called and not fake.query.called


def test_containment_still_pending_after_the_bound_is_reported_pending(
    falcon: respx.MockRouter, pool: HttpPool, clock: FakeClock
) -> None:
    fake = FakeFalcon(falcon)
    fake.settle = False  # the host is offline: it stays containment_pending

    result = run("crowdstrike.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.status is ActionStatus.PENDING and result.vendor_ref == DEVICE_ID
    assert "containment_pending" in result.detail
    assert sum(clock.sleeps) <= 30 + 5  # bounded by verify_timeout
    assert fake.action.call_count == 1


def test_release_lifts_containment(falcon: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeFalcon(falcon, status="contained")

    result = run("crowdstrike.release_host", {"hostname": HOST}, ctx(pool))

    assert result.ok and result.detail == "device normal"
    assert fake.action.calls.last.request.url.params["action_name"] == "lift_containment"


def test_the_token_is_fetched_once_for_several_actions(falcon: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeFalcon(falcon)

    run("crowdstrike.isolate_host", {"hostname": HOST}, ctx(pool))
    run("crowdstrike.release_host", {"hostname": HOST}, ctx(pool))

    assert fake.token.call_count == 1


@pytest.mark.parametrize(
    ("status", "isolate", "release"),
    [
        ("contained", Effect.APPLIED, Effect.ABSENT),
        ("containment_pending", Effect.IN_PROGRESS, Effect.ABSENT),
        ("normal", Effect.ABSENT, Effect.APPLIED),
        ("lift_containment_pending", Effect.ABSENT, Effect.IN_PROGRESS),
    ],
)
def test_read_state_reports_containment_for_reconciliation(
    falcon: respx.MockRouter, pool: HttpPool, status: str, isolate: Effect, release: Effect
) -> None:
    fake = FakeFalcon(falcon, status=status)
    fake.settle = False

    assert read("crowdstrike.isolate_host", {"hostname": HOST}, ctx(pool)).effect is isolate
    state = read("crowdstrike.release_host", {"hostname": HOST}, ctx(pool))

    assert state.effect is release and state.vendor_ref == DEVICE_ID and state.observed == {"status": status}
    assert not fake.action.called


def test_dry_run_reads_but_never_acts(falcon: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeFalcon(falcon)

    result = run("crowdstrike.isolate_host", {"hostname": HOST}, ctx(pool, dry_run=True))

    assert result.status is ActionStatus.SKIPPED and result.changed is True
    assert "would run crowdstrike.isolate_host" in result.detail
    assert not fake.action.called


def test_a_refused_action_is_permanent_and_carries_no_secret(
    falcon: respx.MockRouter, pool: HttpPool, debug_logs: Any
) -> None:
    fake = FakeFalcon(falcon)
    fake.action.respond(403, json={"errors": [{"code": 403, "message": f"access denied for {TOKEN}"}]})

    with pytest.raises(VendorRejected) as caught:
        run("crowdstrike.isolate_host", {"hostname": HOST}, ctx(pool))

    assert caught.value.status_code == 403 and "access denied" in str(caught.value)
    assert_no_secret(str(caught.value), debug_logs.text)


def test_a_missing_secret_stops_before_any_call(falcon: respx.MockRouter, clock: FakeClock) -> None:
    fake = FakeFalcon(falcon)
    context = make_ctx(HttpPool(clock), "crowdstrike", SETTINGS)
    context = type(context)(**{**context.__dict__, "secrets": {}})

    with pytest.raises(MissingSecret, match="crowdstrike_client_id"):
        run("crowdstrike.isolate_host", {"hostname": HOST}, context)

    assert not fake.token.called


def test_falcon_flight_control_sends_the_member_cid(falcon: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeFalcon(falcon)
    member = "0123456789abcdef0123456789abcdef"
    context = make_ctx(pool, "crowdstrike", {**SETTINGS, "member_cid": member})

    run("crowdstrike.isolate_host", {"hostname": HOST}, context)

    assert parse_qs(fake.token.calls.last.request.content.decode())["member_cid"] == [member]
