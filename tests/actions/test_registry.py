"""The action registry: keys are checked, collisions refused, inputs validated, broken plugins contained."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

import actions
from actions import (
    ActionContext,
    ActionResult,
    ActionSpec,
    ActionStatus,
    Capability,
    MissingSecret,
    Registry,
    TargetKind,
    TargetNotFound,
    action,
    registry,
)
from actions import _registry as registry_module
from actions._errors import ActionError, PermanentError, PolicyViolation, TransientError


class HostInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: str


async def _isolate(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Pretend to isolate a host."""
    return ActionResult(status=ActionStatus.SUCCEEDED, detail=f"{ctx.tenant}:{inputs.hostname}")


async def _other(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    return ActionResult(status=ActionStatus.FAILED)


def _spec(key: str = "test.isolate_host", fn: Any = _isolate) -> ActionSpec:
    return ActionSpec(key=key, fn=fn, inputs=HostInput, target=TargetKind.HOST, description="test")


def _fresh() -> Registry:
    """A registry that will not load the real plugins."""
    fresh = Registry()
    fresh._plugins_loaded = True
    return fresh


CTX = ActionContext(tenant="demo", incident_id="i1")


@pytest.fixture
def cleanup_global() -> Iterator[list[str]]:
    """Keys a test registers on the global registry; removed afterwards."""
    keys: list[str] = []
    yield keys
    for key in keys:
        registry.actions.pop(key, None)


def test_every_name_in_all_exists() -> None:
    for name in actions.__all__:
        assert hasattr(actions, name), name


def test_error_hierarchy_separates_retryable_from_permanent() -> None:
    assert issubclass(TransientError, ActionError)
    for error in (TargetNotFound, MissingSecret, PolicyViolation):
        assert issubclass(error, PermanentError)
        assert not issubclass(error, TransientError)


@pytest.mark.parametrize("key", ["isolate_host", ".isolate_host", "lab.", ""])
def test_a_key_without_vendor_and_verb_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="must look like"):
        action(key=key, inputs=HostInput, capability=Capability.ISOLATE_HOST)


def test_action_registers_on_the_global_registry(cleanup_global: list[str]) -> None:
    cleanup_global.append("test.decorated_host")

    @action(
        key="test.decorated_host",
        inputs=HostInput,
        capability=Capability.ISOLATE_HOST,
        inverse="test.undo_host",
    )
    async def decorated(inputs: HostInput, ctx: ActionContext) -> ActionResult:
        """First line is the description.

        More text that is not.
        """
        return ActionResult(status=ActionStatus.SUCCEEDED)

    spec = registry.actions["test.decorated_host"]
    assert spec.fn is decorated
    assert spec.description == "First line is the description."
    assert spec.inverse == "test.undo_host"
    assert spec.target is TargetKind.HOST


def test_an_undocumented_action_is_described_by_its_key(cleanup_global: list[str]) -> None:
    cleanup_global.append("test.undocumented_host")

    @action(
        key="test.undocumented_host", inputs=HostInput, capability=Capability.ISOLATE_HOST, secrets=["token"]
    )
    async def undocumented(inputs: HostInput, ctx: ActionContext) -> ActionResult:
        return ActionResult(status=ActionStatus.SUCCEEDED)

    spec = registry.actions["test.undocumented_host"]
    assert spec.description == "test.undocumented_host"
    assert spec.secrets == ("token",)


def test_a_blank_docstring_falls_back_to_the_key(cleanup_global: list[str]) -> None:
    cleanup_global.append("test.blank_doc_host")

    async def blank(inputs: HostInput, ctx: ActionContext) -> ActionResult:
        return ActionResult(status=ActionStatus.SUCCEEDED)

    blank.__doc__ = "   "
    action(key="test.blank_doc_host", inputs=HostInput, capability=Capability.ISOLATE_HOST)(blank)

    assert registry.actions["test.blank_doc_host"].description == "test.blank_doc_host"


def test_registering_the_same_key_with_another_function_is_refused() -> None:
    fresh = _fresh()
    fresh.add(_spec(fn=_isolate))

    with pytest.raises(ValueError, match="registered twice"):
        fresh.add(_spec(fn=_other))

    assert fresh.actions["test.isolate_host"].fn is _isolate


def test_registering_the_same_function_again_is_harmless() -> None:
    fresh = _fresh()
    fresh.add(_spec())
    fresh.add(_spec())

    assert fresh.keys() == ["test.isolate_host"]


def test_the_global_decorator_refuses_a_second_function_for_a_key(cleanup_global: list[str]) -> None:
    cleanup_global.append("test.twice_host")
    action(key="test.twice_host", inputs=HostInput, capability=Capability.ISOLATE_HOST)(_isolate)

    with pytest.raises(ValueError, match="registered twice"):
        action(key="test.twice_host", inputs=HostInput, capability=Capability.ISOLATE_HOST)(_other)


def test_an_unknown_key_lists_the_known_keys() -> None:
    fresh = _fresh()
    fresh.add(_spec("test.isolate_host"))
    fresh.add(_spec("test.release_host", fn=_other))

    with pytest.raises(KeyError) as caught:
        fresh.get("test.explode_host")

    message = str(caught.value)
    assert "unknown action 'test.explode_host'" in message
    assert "test.isolate_host, test.release_host" in message


def test_the_global_registry_knows_the_lab_actions() -> None:
    keys = registry.keys()

    assert "lab.isolate_host" in keys
    assert registry.get("lab.isolate_host").target is TargetKind.HOST


def test_run_validates_dict_inputs() -> None:
    result = asyncio.run(_spec().run({"hostname": "WS-1"}, CTX))

    assert result.ok
    assert result.detail == "demo:WS-1"


@pytest.mark.parametrize(
    "inputs",
    [{"hostname": "WS-1", "force": True}, {}, {"hostname": 42}],
    ids=["extra field", "missing field", "wrong type"],
)
def test_run_refuses_invalid_dict_inputs(inputs: dict[str, Any]) -> None:
    called: list[Any] = []

    async def spy(inputs: HostInput, ctx: ActionContext) -> ActionResult:
        called.append(inputs)
        return ActionResult(status=ActionStatus.SUCCEEDED)

    with pytest.raises(ValidationError):
        asyncio.run(_spec(fn=spy).run(inputs, CTX))

    assert called == []


def test_run_passes_a_model_instance_through() -> None:
    inputs = HostInput(hostname="WS-2")
    seen: list[HostInput] = []

    async def spy(given: HostInput, ctx: ActionContext) -> ActionResult:
        seen.append(given)
        return ActionResult(status=ActionStatus.SUCCEEDED)

    asyncio.run(_spec(fn=spy).run(inputs, CTX))

    assert seen == [inputs] and seen[0] is inputs


def test_context_secret_reads_a_declared_secret_and_names_a_missing_one() -> None:
    ctx = ActionContext(tenant="demo", incident_id="i1", secrets={"token": SecretStr("s3cret")})

    assert ctx.secret("token") == "s3cret"
    with pytest.raises(MissingSecret, match="'api_key' is not configured for tenant demo"):
        ctx.secret("api_key")


def test_action_result_ok_only_when_succeeded() -> None:
    assert ActionResult(status=ActionStatus.SUCCEEDED).ok
    assert not ActionResult(status=ActionStatus.FAILED).ok
    assert not ActionResult(status=ActionStatus.SKIPPED).ok


# -- plugins -----------------------------------------------------------------------------------------------


class _Entry:
    def __init__(self, name: str, load: Any) -> None:
        self.name = name
        self._load = load

    def load(self) -> Any:
        return self._load()


def _broken() -> Any:
    raise ImportError("No module named 'acme_sdk'")


def test_a_broken_plugin_is_recorded_and_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loaded: list[str] = []
    entries = [_Entry("acme", _broken), _Entry("good", lambda: loaded.append("good"))]
    groups: list[str] = []

    def fake_entry_points(*, group: str) -> list[_Entry]:
        groups.append(group)
        return entries

    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points)
    fresh = Registry()

    with caplog.at_level(logging.ERROR, logger="garrison.actions"):
        fresh.load_plugins()

    assert groups == ["garrison.actions"]
    assert fresh.plugin_errors == {"acme": "ImportError: No module named 'acme_sdk'"}
    assert loaded == ["good"]
    assert "acme" in caplog.text


def test_plugins_are_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    monkeypatch.setattr(
        registry_module, "entry_points", lambda *, group: [_Entry("once", lambda: loads.append("x"))]
    )
    fresh = Registry()

    fresh.keys()
    fresh.keys()
    with pytest.raises(KeyError):
        fresh.get("nothing.here")

    assert loads == ["x"]


def test_a_registry_with_a_broken_plugin_still_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "entry_points", lambda *, group: [_Entry("acme", _broken)])
    fresh = Registry()
    fresh.add(_spec())

    assert fresh.get("test.isolate_host").key == "test.isolate_host"
    assert "acme" in fresh.plugin_errors
