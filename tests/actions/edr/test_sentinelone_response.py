"""SentinelOne on a tenant's files and a host's objects (``sentinelone_response``): the blocklist by SHA-256
in the tenant's sites, and registry values, scheduled tasks and services through Remote Script
Orchestration of the library scripts. The fake console below keeps a blocklist and a task list, and reads
``inputParams`` as PowerShell reads single-quoted literals, so a test sees what a real console would get."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr, ValidationError

import actions.edr.sentinelone  # noqa: F401 - registers sentinelone_response.* (imported by sentinelone)
from actions import (
    ActionContext,
    ActionStatus,
    CircuitOpen,
    Effect,
    PermanentError,
    RateLimited,
    RetryPolicy,
    TargetNotFound,
    TransientError,
    registry,
    retry_async,
)
from actions.edr.sentinelone_response import LIBRARY
from actions.http import HttpPool
from tests.actions._support import CANARIES, FakeClock, assert_no_secret, read, run, vendor_fixture

BASE = "https://s1.test"
TOKEN = "CANARY-s1-response-token-5e5e"
HOST, AGENT, SITE, OTHER_SITE = "WS-FINANCE-07", "225494730938493804", "225494730938493800", "999"
SHA256 = "6a0b6e1c3a9b7f3e4d2c1b0a99887766554433221100ffeeddccbbaa00112233"
SCRIPTS = {"registry_script_id": "1700000000000000001", "task_script_id": "1700000000000000002"}
SCRIPTS["service_script_id"] = "1700000000000000003"
SETTINGS = {"base_url": BASE, "site_ids": [SITE], "verify_timeout": 60, "poll_interval": 10, **SCRIPTS}
RUN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
FULL_RUN_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
VALUE = {"hostname": HOST, "key": RUN_KEY, "name": "SoftwareUpdate"}
BLOCK, UNBLOCK = "sentinelone_response.block_hash", "sentinelone_response.unblock_hash"
DELETE_VALUE = "sentinelone_response.delete_registry_value"
DELETE_TASK = "sentinelone_response.delete_scheduled_task"
DISABLE_SERVICE = "sentinelone_response.disable_service"
_ARG = re.compile(r"-([A-Za-z0-9]+) '((?:[^']|'')*)'(?: |$)")


def parse_params(params: str) -> dict[str, str]:
    """The parameters PowerShell binds from ``-Name 'literal'`` pairs (and nothing else)."""
    found, at = {}, 0
    while at < len(params):
        match = _ARG.match(params, at)
        assert match, f"not a -Name 'value' pair at {params[at:]!r}"
        found[match.group(1)] = match.group(2).replace("''", "'")
        at = match.end()
    return found


def declared(script: str) -> set[str]:
    block = LIBRARY[script].split("param(", 1)[1].split("\n)", 1)[0]
    return set(re.findall(r"\]\$(\w+)", block))


class FakeConsole:
    """The console's agents, blocklist and remote script tasks, behind respx routes."""

    def __init__(self, mock: respx.MockRouter, *, agents: int = 1) -> None:
        self.agent_count = agents
        self.items: list[dict[str, Any]] = []
        self.statuses = ["in_progress", "completed"]
        self.executed: list[dict[str, Any]] = []
        self.execute_answer: dict[str, Any] = vendor_fixture("sentinelone-response-rso-execute.json")
        self.agents = mock.get("/web/api/v2.1/agents", name="agents").mock(side_effect=self._agents)
        self.list = mock.get("/web/api/v2.1/restrictions", name="list").mock(side_effect=self._list)
        self.create = mock.post("/web/api/v2.1/restrictions", name="create").mock(side_effect=self._create)
        self.delete = mock.delete("/web/api/v2.1/restrictions", name="delete").mock(side_effect=self._delete)
        self.execute = mock.post("/web/api/v2.1/remote-scripts/execute", name="execute").mock(
            side_effect=self._execute
        )
        self.status = mock.get("/web/api/v2.1/remote-scripts/status", name="status").mock(
            side_effect=self._status
        )

    def item(self, site: str = SITE, level: str = "siteIds", **extra: Any) -> dict[str, Any]:
        found = copy.deepcopy(vendor_fixture("sentinelone-response-blocklist.json")["data"][0])
        found.update(id=f"23092766880207{len(self.items):05d}", scope={level: [site]}, **extra)
        self.items.append(found)
        return found

    def _agents(self, request: httpx.Request) -> httpx.Response:
        body = vendor_fixture("sentinelone-agents.json")
        body["data"] = body["data"] * self.agent_count
        return httpx.Response(200, json=body)

    def _list(self, request: httpx.Request) -> httpx.Response:
        wanted = request.url.params["value__contains"].lower()
        found = [
            i
            for i in self.items
            if wanted in str(i.get("sha256Value") or i.get("value") or "").lower()
            and any(
                set(ids) & set(request.url.params.get(level, "").split(","))
                for level, ids in i["scope"].items()
            )
        ]
        return httpx.Response(200, json={"data": found, "pagination": {"totalItems": len(found)}})

    def _create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        answer = vendor_fixture("sentinelone-response-blocklist-created.json")
        created = []
        ((level, ids),) = body["filter"].items()
        for scope_id in ids:
            created.append(self.item(scope_id, level, sha256Value=body["data"]["sha256Value"]))
        answer["data"] = [{**answer["data"][0], "id": c["id"]} for c in created]
        return httpx.Response(200, json=answer)

    def _delete(self, request: httpx.Request) -> httpx.Response:
        ids = set(json.loads(request.content)["data"]["ids"])
        before = len(self.items)
        self.items = [i for i in self.items if i["id"] not in ids]
        return httpx.Response(200, json={"data": {"affected": before - len(self.items)}})

    def _execute(self, request: httpx.Request) -> httpx.Response:
        self.executed.append(json.loads(request.content))
        return httpx.Response(200, json=self.execute_answer)

    def _status(self, request: httpx.Request) -> httpx.Response:
        body = vendor_fixture("sentinelone-response-rso-status.json")
        assert request.url.params["parentTaskId"] == self.execute_answer["data"]["parentTaskId"]
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        body["data"][0].update(status=status)
        if status == "failed":
            body["data"][0]["detailedStatus"] = "Script exited with code 1\nGARRISON error: access denied"
        return httpx.Response(200, json=body)


@pytest.fixture
def s1() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield FakeConsole(mock)


def ctx(pool: HttpPool, settings: dict[str, Any] | None = None, **kwargs: Any) -> ActionContext:
    secrets = {**CANARIES, "sentinelone_response_api_token": TOKEN}
    return ActionContext(
        tenant="acme",
        incident_id="inc-1",
        secrets={name: SecretStr(value) for name, value in secrets.items()},
        vendors={"sentinelone_response": SETTINGS if settings is None else settings},
        http=pool,
        **kwargs,
    )


def no_secret(*texts: str) -> None:
    assert_no_secret(*texts)
    for text in texts:
        assert TOKEN not in text


def sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


# -- the blocklist ---------------------------------------------------------------------------------------


def test_block_hash_posts_the_documented_blocklist_item(s1: FakeConsole, pool: HttpPool) -> None:
    result = run(BLOCK, {"sha256": SHA256.upper()}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.changed is True
    assert result.vendor_ref == s1.items[0]["id"]
    assert sent(s1.create) == {
        "data": {
            "type": "black_hash",
            "sha256Value": SHA256,
            "osType": "windows",
            "source": "Garrison",
            "description": "Garrison incident inc-1",
        },
        "filter": {"siteIds": [SITE]},
    }
    lookup = s1.list.calls[0].request
    assert dict(lookup.url.params) == {
        "type": "black_hash",
        "osTypes": "windows",
        "value__contains": SHA256,
        "limit": "100",
        "siteIds": SITE,
    }
    assert s1.create.calls.last.request.headers["authorization"] == f"ApiToken {TOKEN}"


def test_a_hash_already_on_the_blocklist_is_success_without_a_post(s1: FakeConsole, pool: HttpPool) -> None:
    listed = s1.item()

    result = run(BLOCK, {"sha256": SHA256}, ctx(pool))

    assert result.ok and result.changed is False and result.vendor_ref == listed["id"]
    assert not s1.create.called


def test_a_duplicate_refused_by_the_console_is_read_back_as_already_blocked(
    s1: FakeConsole, pool: HttpPool
) -> None:
    def raced(request: httpx.Request) -> httpx.Response:
        s1.item()  # an analyst blocked it between our read and our create
        return httpx.Response(409, json={"errors": [{"code": 4000030, "title": "Already exists"}]})

    s1.create.mock(side_effect=raced)

    result = run(BLOCK, {"sha256": SHA256}, ctx(pool))

    assert result.ok and result.changed is False and s1.list.call_count == 2


def test_only_the_sites_missing_the_item_are_posted(s1: FakeConsole, pool: HttpPool) -> None:
    two_sites = {**SETTINGS, "site_ids": [SITE, "225494730938493801"]}
    s1.item()

    result = run(BLOCK, {"sha256": SHA256}, ctx(pool, two_sites))

    assert result.changed is True
    assert sent(s1.create)["filter"] == {"siteIds": ["225494730938493801"]}


def test_another_customers_item_is_neither_counted_nor_deleted(s1: FakeConsole, pool: HttpPool) -> None:
    # A console answer wider than asked (another site's item) must never stand for the tenant's block.
    foreign = s1.item(OTHER_SITE)
    s1.list.mock(side_effect=lambda r: httpx.Response(200, json={"data": [foreign]}))

    assert read(BLOCK, {"sha256": SHA256}, ctx(pool)).effect is Effect.ABSENT
    result = run(UNBLOCK, {"sha256": SHA256}, ctx(pool))

    assert result.changed is False and not s1.delete.called
    assert foreign in s1.items


def test_a_sha1_or_another_os_is_not_the_same_item(s1: FakeConsole, pool: HttpPool) -> None:
    s1.item(osType="macos")

    state = read(BLOCK, {"sha256": SHA256}, ctx(pool))

    assert state.effect is Effect.ABSENT


def test_unblock_deletes_the_tenants_items_by_id(s1: FakeConsole, pool: HttpPool) -> None:
    listed = s1.item()

    result = run(UNBLOCK, {"sha256": SHA256}, ctx(pool))

    assert result.ok and result.changed is True and result.vendor_ref == listed["id"]
    assert sent(s1.delete) == {"data": {"type": "black_hash", "ids": [listed["id"]]}}
    assert s1.items == []


def test_unblock_of_a_hash_not_listed_is_already_done(s1: FakeConsole, pool: HttpPool) -> None:
    result = run(UNBLOCK, {"sha256": SHA256}, ctx(pool))

    assert result.ok and result.changed is False and not s1.delete.called


def test_an_item_gone_before_the_delete_is_already_done(s1: FakeConsole, pool: HttpPool) -> None:
    s1.item()
    s1.delete.mock(side_effect=lambda r: httpx.Response(200, json={"data": {"affected": 0}}))

    result = run(UNBLOCK, {"sha256": SHA256}, ctx(pool))

    assert result.ok and result.changed is False


def test_block_and_unblock_are_each_others_inverse_and_roll_back(s1: FakeConsole, pool: HttpPool) -> None:
    assert registry.get(BLOCK).inverse == UNBLOCK and registry.get(UNBLOCK).inverse == BLOCK

    assert run(BLOCK, {"sha256": SHA256}, ctx(pool)).changed
    assert read(BLOCK, {"sha256": SHA256}, ctx(pool)).effect is Effect.APPLIED
    assert read(UNBLOCK, {"sha256": SHA256}, ctx(pool)).effect is Effect.ABSENT
    assert run(UNBLOCK, {"sha256": SHA256}, ctx(pool)).changed
    assert read(UNBLOCK, {"sha256": SHA256}, ctx(pool)).effect is Effect.APPLIED
    assert read(BLOCK, {"sha256": SHA256}, ctx(pool)).effect is Effect.ABSENT


def test_a_dry_run_reads_the_blocklist_and_sends_nothing(s1: FakeConsole, pool: HttpPool) -> None:
    result = run(BLOCK, {"sha256": SHA256}, ctx(pool, dry_run=True))

    assert result.status is ActionStatus.SKIPPED and result.changed is True
    assert s1.list.called and not s1.create.called


@pytest.mark.parametrize(
    "settings",
    [
        {"base_url": BASE},
        {"base_url": BASE, "site_ids": [SITE], "account_ids": ["1"]},
        {"base_url": BASE, "site_ids": ["1 or 1=1"]},
    ],
)
def test_a_tenant_without_exactly_one_scope_is_refused_before_any_call(
    s1: FakeConsole, pool: HttpPool, settings: dict[str, Any]
) -> None:
    with pytest.raises(PermanentError, match="sentinelone_response is configured for tenant acme"):
        run(BLOCK, {"sha256": SHA256}, ctx(pool, settings))

    assert not s1.list.called and not s1.create.called


def test_an_account_scoped_tenant_filters_by_account(s1: FakeConsole, pool: HttpPool) -> None:
    by_account = {"base_url": BASE, "account_ids": ["225494730938493700"], **SCRIPTS}

    assert run(BLOCK, {"sha256": SHA256}, ctx(pool, by_account)).changed
    assert read(BLOCK, {"sha256": SHA256}, ctx(pool, by_account)).effect is Effect.APPLIED
    run(DELETE_VALUE, VALUE, ctx(pool, by_account))

    assert s1.list.calls.last.request.url.params["accountIds"] == "225494730938493700"
    assert sent(s1.create)["filter"] == {"accountIds": ["225494730938493700"]}
    assert s1.agents.calls.last.request.url.params["accountIds"] == "225494730938493700"
    assert s1.executed[0]["filter"] == {"ids": [AGENT], "accountIds": ["225494730938493700"]}


# -- remote scripts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "inputs", "script", "params"),
    [
        (DELETE_VALUE, VALUE, "1700000000000000001", f"-Key '{FULL_RUN_KEY}' -Name 'SoftwareUpdate'"),
        (DELETE_TASK, {"hostname": HOST, "name": r"\Microsoft\Updater"}, "1700000000000000002",
         r"-Name '\Microsoft\Updater'"),
        (DISABLE_SERVICE, {"hostname": HOST, "name": "SoftwareUpdate"}, "1700000000000000003",
         "-Name 'SoftwareUpdate'"),
    ],
)  # fmt: skip
def test_each_script_action_sends_the_documented_execute_request(
    s1: FakeConsole, pool: HttpPool, key: str, inputs: dict[str, Any], script: str, params: str
) -> None:
    result = run(key, inputs, ctx(pool))

    capability = key.split(".", 1)[1]
    assert result.status is ActionStatus.SUCCEEDED and result.vendor_ref == "1829336449195196789"
    assert s1.executed == [
        {
            "filter": {"ids": [AGENT], "siteIds": [SITE]},
            "data": {
                "scriptId": script,
                "outputDestination": "SentinelCloud",
                "taskDescription": f"Garrison incident inc-1: {capability}",
                "inputParams": params,
                "scriptRuntimeTimeoutSeconds": 120,
            },
        }
    ]
    assert s1.agents.calls[0].request.url.params["computerName"] == HOST
    assert s1.status.call_count == 2  # followed until the task completed
    library = {"1700000000000000001": "garrison-s1-reg.ps1", "1700000000000000002": "garrison-s1-task.ps1"}
    assert set(parse_params(params)) == declared(library.get(script, "garrison-s1-svc.ps1"))


def test_registry_values_are_sent_with_the_full_hive_name(s1: FakeConsole, pool: HttpPool) -> None:
    run(DELETE_VALUE, VALUE, ctx(pool))

    bound = parse_params(s1.executed[0]["data"]["inputParams"])
    assert bound == {"Key": FULL_RUN_KEY, "Name": "SoftwareUpdate"}


def test_a_quote_in_a_name_is_doubled_and_reaches_the_script_intact(s1: FakeConsole, pool: HttpPool) -> None:
    run(DELETE_VALUE, {**VALUE, "name": "it's"}, ctx(pool))

    params = s1.executed[0]["data"]["inputParams"]
    assert params.endswith("-Name 'it''s'") and parse_params(params)["Name"] == "it's"


def test_running_again_on_a_clean_host_is_a_success(s1: FakeConsole, pool: HttpPool) -> None:
    # The script leaves an absent value as it is: a second run (engine retry, replay) completes too.
    first = run(DELETE_VALUE, VALUE, ctx(pool))
    s1.statuses = ["completed"]
    second = run(DELETE_VALUE, VALUE, ctx(pool))

    assert first.ok and second.ok and len(s1.executed) == 2
    assert "absent" in LIBRARY["garrison-s1-reg.ps1"].split("GetValueNames", 1)[1].split("exit 0", 1)[0]


def test_a_failed_script_is_a_failed_result_with_the_consoles_reason(s1: FakeConsole, pool: HttpPool) -> None:
    s1.statuses = ["failed"]

    result = run(DISABLE_SERVICE, {"hostname": HOST, "name": "SoftwareUpdate"}, ctx(pool))

    assert result.status is ActionStatus.FAILED
    assert result.detail == "remote script failed: Script exited with code 1 GARRISON error: access denied"


def test_a_script_still_queued_on_an_offline_agent_is_pending(
    s1: FakeConsole, pool: HttpPool, clock: FakeClock
) -> None:
    s1.statuses = ["pending"]

    result = run(DELETE_TASK, {"hostname": HOST, "name": r"\Updater"}, ctx(pool))

    assert result.status is ActionStatus.PENDING and "still pending" in result.detail
    assert s1.status.call_count == 7  # every 10 s for 60 s, then it stops


def test_a_script_held_for_approval_is_pending_and_not_followed(s1: FakeConsole, pool: HttpPool) -> None:
    s1.execute_answer = {"data": {"parentTaskId": None, "pendingExecutionId": "77", "pending": True}}

    result = run(DELETE_VALUE, VALUE, ctx(pool))

    assert result.status is ActionStatus.PENDING and "approval" in result.detail
    assert result.vendor_ref == "77" and not s1.status.called


def test_a_script_that_reached_no_agent_is_target_not_found(s1: FakeConsole, pool: HttpPool) -> None:
    s1.execute_answer = {"data": {"parentTaskId": "1", "pending": False, "affected": 0}}

    with pytest.raises(TargetNotFound, match="reached no agent"):
        run(DELETE_VALUE, VALUE, ctx(pool))


@pytest.mark.parametrize("agents", [0, 2])
@pytest.mark.parametrize("key", [DELETE_VALUE, DELETE_TASK, DISABLE_SERVICE])
def test_no_single_agent_is_target_not_found_and_nothing_runs(pool: HttpPool, agents: int, key: str) -> None:
    inputs = VALUE if key == DELETE_VALUE else {"hostname": HOST, "name": "Updater"}
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        fake = FakeConsole(mock, agents=agents)
        with pytest.raises(TargetNotFound, match="named 'WS-FINANCE-07' in SentinelOne"):
            run(key, inputs, ctx(pool))
        with pytest.raises(TargetNotFound):
            read(key, inputs, ctx(pool))

    assert not fake.execute.called


def test_a_missing_script_id_is_refused_before_any_call(s1: FakeConsole, pool: HttpPool) -> None:
    settings = {k: v for k, v in SETTINGS.items() if k != "task_script_id"}

    with pytest.raises(PermanentError, match=r"settings\.task_script_id is not set"):
        run(DELETE_TASK, {"hostname": HOST, "name": r"\Updater"}, ctx(pool, settings))

    assert not s1.agents.called and not s1.execute.called


def test_script_read_state_resolves_the_agent_and_leaves_the_verdict_to_a_human(
    s1: FakeConsole, pool: HttpPool
) -> None:
    state = read(DELETE_VALUE, VALUE, ctx(pool))

    assert state.effect is Effect.UNKNOWN and state.vendor_ref == AGENT
    assert "gives no remote script output back" in state.detail
    assert not s1.execute.called


def test_a_dry_run_of_a_script_action_runs_nothing(s1: FakeConsole, pool: HttpPool) -> None:
    result = run(DISABLE_SERVICE, {"hostname": HOST, "name": "Spooler"}, ctx(pool, dry_run=True))

    assert result.status is ActionStatus.SKIPPED and "would run" in result.detail
    assert s1.agents.called and not s1.execute.called


# -- HTTP policy and secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "inputs", "route"),
    [(BLOCK, {"sha256": SHA256}, "create"), (UNBLOCK, {"sha256": SHA256}, "delete"),
     (DELETE_VALUE, VALUE, "execute"), (DELETE_TASK, {"hostname": HOST, "name": "U"}, "execute"),
     (DISABLE_SERVICE, {"hostname": HOST, "name": "U"}, "execute")],
)  # fmt: skip
def test_a_429_holds_the_retry_for_retry_after_then_succeeds(
    s1: FakeConsole, pool: HttpPool, clock: FakeClock, key: str, inputs: dict[str, Any], route: str
) -> None:
    if key == UNBLOCK:
        s1.item()
    target: respx.Route = getattr(s1, route)
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"})])
    real = target.side_effect
    target.mock(side_effect=lambda request: next(answers, None) or real(request))  # type: ignore[misc, operator]
    spec = registry.get(key)
    seen: list[BaseException] = []
    policy = RetryPolicy(attempts=2, retry_on=(RateLimited,)).on(clock)

    async def attempt() -> Any:
        try:
            return await spec.run(inputs, ctx(pool))
        except RateLimited as error:
            seen.append(error)
            raise

    result = asyncio.run(retry_async(policy, attempt))

    assert [type(e) for e in seen] == [RateLimited] and getattr(seen[0], "retry_after", 0) >= 7
    assert result.ok and target.call_count == 2
    assert max(clock.sleeps) >= 7  # the limiter held the next call past Retry-After


@pytest.mark.parametrize(
    ("key", "inputs", "route"),
    [(BLOCK, {"sha256": SHA256}, "list"), (UNBLOCK, {"sha256": SHA256}, "list"),
     (DELETE_VALUE, VALUE, "agents"), (DELETE_TASK, {"hostname": HOST, "name": "U"}, "agents"),
     (DISABLE_SERVICE, {"hostname": HOST, "name": "U"}, "agents")],
)  # fmt: skip
def test_5xx_is_transient_then_the_circuit_opens_without_a_call(
    s1: FakeConsole, pool: HttpPool, debug_logs: Any, key: str, inputs: dict[str, Any], route: str
) -> None:
    target: respx.Route = getattr(s1, route)
    target.mock(side_effect=None).respond(503, json={"errors": [{"code": 5000000, "title": "Server Error"}]})
    errors = []

    for _ in range(5):
        with pytest.raises(TransientError) as caught:
            run(key, inputs, ctx(pool))
        errors.append(str(caught.value))
    with pytest.raises(CircuitOpen, match="no call made"):
        run(key, inputs, ctx(pool))

    assert target.call_count == 5 and not s1.create.called and not s1.execute.called
    no_secret(*errors, debug_logs.text)


def test_the_token_never_reaches_results_errors_or_logs(
    s1: FakeConsole, pool: HttpPool, debug_logs: Any
) -> None:
    s1.create.mock(
        side_effect=lambda r: httpx.Response(400, json={"errors": [{"title": f"bad token {TOKEN}"}]})
    )
    outputs = [
        run(DELETE_VALUE, VALUE, ctx(pool)).model_dump_json(),
        read(DELETE_VALUE, VALUE, ctx(pool)).model_dump_json(),
        read(BLOCK, {"sha256": SHA256}, ctx(pool)).model_dump_json(),
    ]
    with pytest.raises(PermanentError) as refused:
        run(BLOCK, {"sha256": SHA256}, ctx(pool))

    assert "bad token ***" in str(refused.value)
    no_secret(*outputs, str(refused.value), debug_logs.text)


# -- hostile inputs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "inputs"),
    [
        (DELETE_VALUE, {**VALUE, "name": "x`whoami`"}),
        (DELETE_VALUE, {**VALUE, "name": "x$(whoami)"}),
        (DELETE_VALUE, {**VALUE, "name": "x'; Remove-Item C:\\ -Recurse; '"}),
        (DELETE_VALUE, {**VALUE, "name": "x\n-Key 'HKLM\\SYSTEM'"}),
        (DELETE_VALUE, {**VALUE, "name": "x\u2019 -Key y"}),
        (DELETE_VALUE, {**VALUE, "name": "x\x00"}),
        (DELETE_VALUE, {**VALUE, "key": RUN_KEY + r"\..\..\Services"}),
        (DELETE_VALUE, {**VALUE, "key": r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"}),
        (DELETE_VALUE, {**VALUE, "key": r"C:\Windows\System32"}),
        (DELETE_VALUE, {**VALUE, "key": r"HKLM\SOFTWARE\*"}),
        (DELETE_VALUE, {**VALUE, "hostname": "WS-FINANCE-07&computerName=*"}),
        (DELETE_VALUE, {**VALUE, "extra": "x"}),
        (DELETE_TASK, {"hostname": HOST, "name": r"\Microsoft\*"}),
        (DELETE_TASK, {"hostname": HOST, "name": r"\..\Windows"}),
        (DELETE_TASK, {"hostname": HOST, "name": "\\Up\rdater"}),
        (DISABLE_SERVICE, {"hostname": HOST, "name": "svc'(whoami)"}),
        (DISABLE_SERVICE, {"hostname": HOST, "name": "svc;calc"}),
        (DISABLE_SERVICE, {"hostname": HOST, "name": "svc*"}),
        (BLOCK, {"sha256": "z" * 64}),
        (BLOCK, {"sha256": "a0c659857ccbe457fdaf5fe21d54efdcbf6f6508"}),  # a SHA-1 is not the target
        (UNBLOCK, {"sha256": SHA256[:-1] + "*"}),
    ],
)
def test_hostile_inputs_are_refused_before_any_call(
    s1: FakeConsole, pool: HttpPool, key: str, inputs: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as refused:
        run(key, inputs, ctx(pool))

    assert "live response" not in str(refused.value)
    assert not s1.agents.called and not s1.list.called and not s1.execute.called


# -- the contract --------------------------------------------------------------------------------------


def test_every_action_declares_its_contract() -> None:
    keys = [k for k in registry.keys() if k.startswith("sentinelone_response.")]

    assert {k: registry.get(k).inverse for k in keys} == {
        BLOCK: UNBLOCK,
        UNBLOCK: BLOCK,
        DELETE_VALUE: None,
        DELETE_TASK: None,
        DISABLE_SERVICE: None,
    }
    for key in keys:
        spec = registry.get(key)
        assert spec.secrets == ("sentinelone_response_api_token",) and spec.can_read_state and spec.doc_url
        assert spec.idempotent and spec.call and spec.call.split(" ", 2)[1].startswith("/web/api/v2.1/")
    assert {k: v for k, v in registry.problems().items() if k.startswith("sentinelone_response.")} == {}
    secrets = {"sentinelone_response_api_token"}
    assert (
        registry.vendor_problems("sentinelone_response", {"base_url": BASE, "site_ids": [SITE]}, secrets)
        == []
    )
    assert registry.vendor_problems("sentinelone_response", {"base_url": BASE}, secrets) == [
        ("settings", "give exactly one of site_ids or account_ids: without a scope a blocklist item or a "
         "remote script would reach every customer of the console"),
    ]  # fmt: skip


def test_plans_show_the_vendor_request() -> None:
    shown = registry.get(DELETE_VALUE).call_for(VALUE)

    assert shown == (
        "POST /web/api/v2.1/remote-scripts/execute garrison-s1-reg.ps1 inputParams="
        f"-Key '{RUN_KEY}' -Name 'SoftwareUpdate' (the agent computerName {HOST})"
    )
    assert f"sha256Value={SHA256}" in registry.get(BLOCK).call_for({"sha256": SHA256})


def test_the_library_scripts_are_written_for_upload(tmp_path: Path) -> None:
    written = registry.write_scripts("sentinelone_response", tmp_path)

    assert sorted(p.name for p in written) == sorted(LIBRARY)
    for path in written:
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
        assert raw.decode("utf-8-sig").replace("\r\n", "\n") == LIBRARY[path.name]
        assert "exit 1" in LIBRARY[path.name] and "Invoke-Expression" not in LIBRARY[path.name]
    assert declared("garrison-s1-reg.ps1") == {"Key", "Name"}
    assert declared("garrison-s1-task.ps1") == declared("garrison-s1-svc.ps1") == {"Name"}
