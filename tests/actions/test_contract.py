"""Every registered action keeps the contract (STYLE.md): description, strict described inputs, declared
secrets, a doc link, a declared inverse that is registered and undoes it; the registry enforces least
privilege for secrets and makes dry runs read-only."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from actions import (
    ActionContext,
    ActionResult,
    ActionSpec,
    ActionStatus,
    Effect,
    PermanentError,
    Registry,
    TargetKind,
    registry,
)
from actions._vendor import VendorSettings
from actions.http import HttpPool

VENDORS = {"lab", "crowdstrike", "defender", "sentinelone", "panos", "opnsense", "wazuh", "openc2"}
VENDORS |= {"crowdstrike_iocs", "defender_indicators"}  # the EDRs' indicator lists, opted into apart
VENDORS |= {"crowdstrike_rtr"}  # Falcon Real Time Response, its own API client
VENDORS |= {"defender_response"}  # MDE stop-and-quarantine and live response, its own app
VENDORS |= {"sentinelone_response"}  # SentinelOne blocklist and remote scripts, its own API token
VENDORS |= {"rpz"}  # a Response Policy Zone on PowerDNS: domain blocks at the DNS layer
KEYS = registry.keys()
# Declared on purpose to have no inverse, with the reason in the adapter.
NO_INVERSE = {
    "lab.kill_process",
    "wazuh.block_ip",
    "openc2.delete_registry_value",
    "crowdstrike_rtr.kill_process",
    "defender_response.kill_process",
    "defender_response.quarantine_file",  # MDE has no API to restore the file
    # SentinelOne RSO gives no script output back: nothing to restore from.
    "sentinelone_response.delete_registry_value",
    "sentinelone_response.delete_scheduled_task",
    "sentinelone_response.disable_service",
}


def test_every_plugin_loads_and_every_vendor_registers() -> None:
    assert registry.plugin_errors == {}
    assert {key.split(".")[0] for key in KEYS} == VENDORS


def test_the_registry_reports_no_contract_breach() -> None:
    assert registry.problems() == {}


@pytest.mark.parametrize("key", KEYS)
def test_each_action_keeps_the_contract(key: str) -> None:
    spec = registry.get(key)
    vendor, _, verb = key.partition(".")

    assert spec.description and spec.description != key
    assert spec.inputs.model_config.get("extra") == "forbid"
    assert all(field.description for field in spec.inputs.model_fields.values())
    assert spec.doc_url
    assert all(secret.startswith(f"{vendor}_") for secret in spec.secrets)
    assert (vendor == "lab") == (spec.secrets == ())
    assert spec.inverse_declared
    assert (spec.inverse is None) == (key in NO_INVERSE)
    if spec.inverse is not None:
        inverse = registry.get(spec.inverse)
        assert inverse.inverse == key and inverse.target is spec.target
        assert inverse.vendor == vendor


def test_host_isolation_exists_for_every_edr_and_can_be_reconciled() -> None:
    for vendor in ("lab", "crowdstrike", "defender", "sentinelone"):
        for verb in ("isolate_host", "release_host"):
            assert registry.get(f"{vendor}.{verb}").can_read_state, f"{vendor}.{verb}"


def test_the_lab_covers_every_verb() -> None:
    verbs = {key.split(".", 1)[1] for key in KEYS if key.startswith("lab.")}
    wanted = {
        "isolate_host", "release_host", "delete_registry_value", "disable_service", "delete_scheduled_task",
        "kill_process", "quarantine_file", "block_ip", "unblock_ip", "block_domain", "unblock_domain",
        "block_url", "disable_account",
    }  # fmt: skip
    assert wanted <= verbs


# -- what ActionSpec enforces ------------------------------------------------------------------------------


class _Host(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: str = Field(description="Host.")


def _spec(fn: Any, **kwargs: Any) -> ActionSpec:
    return ActionSpec(
        key="test.isolate_host", fn=fn, inputs=_Host, target=TargetKind.HOST, description="t", **kwargs
    )


CTX = ActionContext(
    tenant="t1",
    incident_id="i1",
    secrets={"test_token": SecretStr("declared"), "other_token": SecretStr("hidden")},
)


def test_an_action_sees_only_the_secrets_it_declared() -> None:
    seen: dict[str, Any] = {}

    async def fn(inputs: _Host, ctx: ActionContext) -> ActionResult:
        seen["secrets"] = set(ctx.secrets)
        seen["token"] = ctx.secret("test_token")
        try:
            ctx.secret("other_token")
        except PermanentError as error:
            seen["refused"] = str(error)
        return ActionResult(status=ActionStatus.SUCCEEDED)

    asyncio.run(_spec(fn, secrets=("test_token",)).run({"hostname": "h"}, CTX))

    assert seen == {
        "secrets": {"test_token"},
        "token": "declared",
        "refused": "secret 'other_token' was not declared by this action",
    }


def test_a_dry_run_never_calls_an_action_that_cannot_read_state() -> None:
    called: list[str] = []

    async def fn(inputs: _Host, ctx: ActionContext) -> ActionResult:
        called.append("acted")
        return ActionResult(status=ActionStatus.SUCCEEDED)

    result = asyncio.run(
        _spec(fn).run({"hostname": "h"}, ActionContext(tenant="t1", incident_id="i1", dry_run=True))
    )

    assert called == [] and result.status is ActionStatus.SKIPPED
    assert result.detail == "dry-run: would run test.isolate_host"


def test_read_state_without_a_reader_is_unknown() -> None:
    async def fn(inputs: _Host, ctx: ActionContext) -> ActionResult:
        raise AssertionError("never called")

    state = asyncio.run(_spec(fn).read_state({"hostname": "h"}, CTX))

    assert state.effect is Effect.UNKNOWN


def test_an_action_registered_without_an_inverse_is_a_contract_breach() -> None:
    async def fn(inputs: _Host, ctx: ActionContext) -> ActionResult:
        """Do it."""
        return ActionResult(status=ActionStatus.SUCCEEDED)

    fresh = Registry()
    fresh._plugins_loaded = True
    fresh.add(_spec(fn, doc_url="https://x.test"))
    fresh.add(
        ActionSpec(
            key="test.block_ip", fn=fn, inputs=_Host, target=TargetKind.IP, description="test.block_ip",
            inverse="test.unblock_ip", inverse_declared=True,
        )
    )  # fmt: skip

    problems = fresh.problems()

    assert problems["test.isolate_host"] == ["inverse not declared (name it, or inverse=None)"]
    assert "inverse 'test.unblock_ip' is not registered" in problems["test.block_ip"]
    assert "no description (first docstring line)" in problems["test.block_ip"]


# -- settings ---------------------------------------------------------------------------------------------


class _Settings(VendorSettings):
    pass


@pytest.mark.parametrize(
    "settings",
    [None, {"base_url": "http://plain.test"}, {"base_url": "https://user:pw@vendor.test"}, {"base_url": "x"}],
    ids=["missing", "http", "credentials in url", "not a url"],
)
def test_vendor_settings_need_an_https_base_url(settings: dict[str, Any] | None) -> None:
    ctx = ActionContext(tenant="t1", incident_id="i1", vendors={} if settings is None else {"acme": settings})

    with pytest.raises(PermanentError, match="acme is (not )?configured for tenant t1"):
        ctx.settings("acme", _Settings)


def test_a_context_without_a_pool_uses_the_process_pool() -> None:
    ctx = ActionContext(tenant="t1", incident_id="i1")

    assert isinstance(ctx.pool(), HttpPool) and ctx.pool() is ctx.pool()


@pytest.mark.parametrize("key", KEYS)
def test_each_action_describes_the_request_a_plan_shows(key: str) -> None:
    spec = registry.get(key)
    assert spec.call, f"{key}: no call= description for plans"
    # Every placeholder names one of the action's inputs (anything else would show as "{name}").
    placeholders = set(re.findall(r"(?<!\{)\{([a-z_0-9]+)\}(?!\})", spec.call))
    assert placeholders <= set(spec.inputs.model_fields), (key, placeholders)
