"""Microsoft Defender for Endpoint contract: Entra ID token, machine by computerDnsName (exactly one),
isolate / unisolate, polling the MachineAction; ActiveRequestAlreadyExists means in progress."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

import actions.edr.defender  # noqa: F401 - registers the defender.* actions
from actions import ActionStatus, Effect, TargetNotFound, TransientError
from actions.edr import _mde_api as mde_api
from actions.edr import defender
from actions.http import HttpPool
from tests.actions._support import CANARIES, FakeClock, assert_no_secret, make_ctx, read, run, vendor_fixture

API = "https://mde.test"
LOGIN = "https://login.test"
AAD_TENANT = "8c3f0d2e-1b4a-4c5d-9e6f-7a8b9c0d1e2f"
TOKEN = "CANARY-issued-token-mde"
HOST = "windows11"
MACHINE = "1234"
SETTINGS = {
    "base_url": API,
    "login_url": LOGIN,
    "tenant_id": AAD_TENANT,
    "verify_timeout": 60,
    "poll_interval": 10,
}


class FakeDefender:
    def __init__(self, mock: respx.MockRouter, *, machines: int = 1) -> None:
        self.actions: list[dict[str, Any]] = []
        self.polls_until_done = 2
        self.final = "Succeeded"
        self.busy_with: str | None = (
            None  # a running action's type makes POSTs answer ActiveRequestAlreadyExists
        )
        token = {**vendor_fixture("defender-token.json"), "access_token": TOKEN}
        self.token = mock.post(f"{LOGIN}/{AAD_TENANT}/oauth2/token", name="token").respond(200, json=token)
        listed = vendor_fixture("defender-machines.json")
        listed["value"] = listed["value"] * machines
        self.machines = mock.get(f"{API}/api/machines", name="machines").respond(200, json=listed)
        self.listing = mock.get(f"{API}/api/machineactions", name="list").mock(side_effect=self._list)
        self.one = mock.get(url__regex=rf"{API}/api/machineactions/[^/?]+$", name="one").mock(
            side_effect=self._one
        )
        self.isolate = mock.post(f"{API}/api/machines/{MACHINE}/isolate", name="isolate").mock(
            side_effect=lambda r: self._post(r, "Isolate")
        )
        self.unisolate = mock.post(f"{API}/api/machines/{MACHINE}/unisolate", name="unisolate").mock(
            side_effect=lambda r: self._post(r, "Unisolate")
        )

    def add(self, kind: str, status: str, when: str = "2024-10-21T11:25:48.3308187Z") -> dict[str, Any]:
        record = copy.deepcopy(vendor_fixture("mde-isolate-machineaction-response.json"))
        record.update(
            id=f"action-{len(self.actions) + 1}", type=kind, status=status, creationDateTimeUtc=when, polls=0
        )
        self.actions.append(record)
        return record

    def _post(self, request: httpx.Request, kind: str) -> httpx.Response:
        if self.busy_with is not None:
            return httpx.Response(400, json=vendor_fixture("defender-active-request-exists.json"))
        record = self.add(kind, "Pending", when=f"2024-10-21T12:{len(self.actions):02d}:00.0000000Z")
        return httpx.Response(201, json={k: v for k, v in record.items() if k != "polls"})

    def _list(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["$filter"] == f"machineId eq '{MACHINE}'"
        return httpx.Response(
            200, json={"value": [{k: v for k, v in a.items() if k != "polls"} for a in self.actions]}
        )

    def _one(self, request: httpx.Request) -> httpx.Response:
        record = next(a for a in self.actions if a["id"] == request.url.path.rsplit("/", 1)[1])
        record["polls"] += 1
        if record["status"] in ("Pending", "InProgress") and record["polls"] >= self.polls_until_done:
            record["status"] = self.final
        return httpx.Response(200, json={k: v for k, v in record.items() if k != "polls"})


@pytest.fixture
def mde() -> Any:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def ctx(pool: HttpPool, **kwargs: Any):  # type: ignore[no-untyped-def]
    return make_ctx(pool, "defender", SETTINGS, **kwargs)


def test_isolate_sends_the_documented_requests_and_polls_the_machine_action(
    mde: respx.MockRouter, pool: HttpPool, clock: FakeClock, debug_logs: Any
) -> None:
    fake = FakeDefender(mde)

    result = run("defender.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.vendor_ref == "action-1"
    form = parse_qs(fake.token.calls.last.request.content.decode())
    assert form == {
        "resource": ["https://api.securitycenter.microsoft.com"],
        "client_id": [CANARIES["defender_client_id"]],
        "client_secret": [CANARIES["defender_client_secret"]],
        "grant_type": ["client_credentials"],
    }
    assert fake.machines.calls.last.request.url.params["$filter"] == f"computerDnsName eq '{HOST}'"
    post = fake.isolate.calls.last.request
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(post.content) == {"Comment": "Garrison incident inc-1", "IsolationType": "Full"}
    assert fake.one.call_count == 2 and clock.sleeps == [10]
    assert_no_secret(result.model_dump_json(), debug_logs.text)


def test_active_request_already_exists_follows_the_running_isolation(
    mde: respx.MockRouter, pool: HttpPool
) -> None:
    fake = FakeDefender(mde)
    fake.add("Isolate", "InProgress")
    fake.listing.mock(side_effect=fake._list)

    # The pre-check already sees our isolation running: no POST at all.
    result = run("defender.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.ok and result.vendor_ref == "action-1"
    assert not fake.isolate.called


def test_the_active_request_answer_is_polled_not_failed(mde: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeDefender(mde)
    fake.busy_with = "Isolate"
    calls = {"n": 0}

    def listing(request: httpx.Request) -> httpx.Response:
        # First read (pre-check) shows nothing; after the 400 the running Isolate is visible.
        calls["n"] += 1
        if calls["n"] == 2 and not fake.actions:
            fake.add("Isolate", "InProgress")
        return fake._list(request)

    fake.listing.mock(side_effect=listing)

    result = run("defender.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.ok and result.detail == "machine isolated"
    assert fake.isolate.call_count == 1


def test_another_kind_of_action_in_progress_is_transient(mde: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeDefender(mde)
    fake.busy_with = "Unisolate"
    fake.add("RunAntiVirusScan", "InProgress")

    with pytest.raises(TransientError, match="another machine action is in progress"):
        run("defender.isolate_host", {"hostname": HOST}, ctx(pool))


def test_an_isolated_machine_is_success_without_a_call(mde: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeDefender(mde)
    fake.add("Isolate", "Succeeded")

    result = run("defender.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.ok and result.changed is False
    assert not fake.isolate.called


def test_a_failed_machine_action_is_a_failed_result(mde: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeDefender(mde)
    fake.final = "Failed"

    result = run("defender.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.status is ActionStatus.FAILED and "Failed" in result.detail


def test_polling_is_bounded_and_reports_pending(
    mde: respx.MockRouter, pool: HttpPool, clock: FakeClock
) -> None:
    fake = FakeDefender(mde)
    fake.polls_until_done = 10_000

    result = run("defender.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.status is ActionStatus.PENDING and result.vendor_ref == "action-1"
    assert 60 <= sum(clock.sleeps) <= 70


@pytest.mark.parametrize("machines", [0, 2])
def test_zero_or_two_machines_is_target_not_found_and_no_action(
    mde: respx.MockRouter, pool: HttpPool, machines: int
) -> None:
    fake = FakeDefender(mde, machines=machines)

    with pytest.raises(TargetNotFound):
        run("defender.isolate_host", {"hostname": HOST}, ctx(pool))

    assert not fake.isolate.called


def test_release_unisolates(mde: respx.MockRouter, pool: HttpPool) -> None:
    fake = FakeDefender(mde)
    fake.add("Isolate", "Succeeded")

    result = run("defender.release_host", {"hostname": HOST}, ctx(pool))

    assert result.ok and result.detail == "machine unisolated"
    assert json.loads(fake.unisolate.calls.last.request.content) == {"Comment": "Garrison incident inc-1"}


@pytest.mark.parametrize(
    ("history", "isolate", "release"),
    [
        ([], Effect.ABSENT, Effect.APPLIED),
        ([("Isolate", "Succeeded")], Effect.APPLIED, Effect.ABSENT),
        ([("Isolate", "Pending")], Effect.IN_PROGRESS, Effect.ABSENT),
        ([("Isolate", "Succeeded"), ("Unisolate", "Succeeded")], Effect.ABSENT, Effect.APPLIED),
        ([("Isolate", "Failed")], Effect.ABSENT, Effect.APPLIED),
    ],
)
def test_read_state_follows_the_latest_isolation_action(
    mde: respx.MockRouter, pool: HttpPool, history: list[tuple[str, str]], isolate: Effect, release: Effect
) -> None:
    fake = FakeDefender(mde)
    for n, (kind, status) in enumerate(history):
        fake.add(kind, status, when=f"2024-10-21T11:0{n}:00.0000000Z")

    assert read("defender.isolate_host", {"hostname": HOST}, ctx(pool)).effect is isolate
    assert read("defender.release_host", {"hostname": HOST}, ctx(pool)).effect is release
    assert not fake.isolate.called and not fake.unisolate.called


# -- Issue #16: 1,500 calls an hour ----------------------------------------------------------------------
# Microsoft Learn, "Isolate machine API" (likewise unisolate, stop and quarantine, indicators):
# "Limitations: Rate limitations for this API are 100 calls per minute and 1500 calls per hour."


async def _use_up(pool: HttpPool, tenant: str, vendor: str, policy: Any, calls: int) -> list[float]:
    limiter = pool.limiter(tenant, vendor, policy)
    starts = []
    for _ in range(calls):
        asked = pool.clock.monotonic()
        starts.append(asked + await limiter.acquire())
    return starts


@pytest.mark.parametrize(
    ("vendor", "policy"),
    [
        ("defender", defender.POLICY),
        ("defender_indicators", defender.IND_POLICY),
        ("defender_response", mde_api.POLICY),
    ],
)
def test_every_mde_adapter_keeps_to_1500_calls_an_hour(
    pool: HttpPool, clock: FakeClock, vendor: str, policy: Any
) -> None:
    starts = asyncio.run(_use_up(pool, "acme", vendor, policy, 1501))

    assert starts[1499] - starts[0] < 3600  # the per-minute pace alone would spend the hour's budget
    assert starts[1500] >= starts[0] + 3600  # the 1501st call waits for the hour to roll over
    assert all(b - a >= 0 for a, b in zip(starts, starts[1:], strict=False))
    assert max(sum(1 for s in starts if t <= s < t + 60) for t in starts) <= 100
    # The budget is the tenant's, per adapter: another tenant is not held back.
    other = asyncio.run(_use_up(pool, "globex", vendor, policy, 1))
    assert other[0] == pytest.approx(clock.monotonic())


def test_an_isolation_past_the_hourly_budget_waits_for_it(
    mde: respx.MockRouter, pool: HttpPool, clock: FakeClock
) -> None:
    fake = FakeDefender(mde)
    seen: list[float] = []
    fake.machines.side_effect = lambda request: (
        seen.append(clock.monotonic()),
        httpx.Response(200, json=vendor_fixture("defender-machines.json")),
    )[1]
    # 1,500 calls of this tenant's defender app went out in the last hour (other runs, other hosts).
    first = asyncio.run(_use_up(pool, "acme", "defender", defender.POLICY, 1500))[0]

    result = run("defender.isolate_host", {"hostname": HOST}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED
    assert seen and seen[0] >= first + 3600
