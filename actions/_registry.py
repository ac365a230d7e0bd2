"""The action registry: adapters register with ``@action``; plugins arrive by entry point."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import entry_points
from typing import Any, TypeVar

from pydantic import BaseModel

from ._context import ActionContext
from ._result import ActionResult

ENTRY_POINT_GROUP = "garrison.actions"
_log = logging.getLogger("garrison.actions")


class TargetKind(StrEnum):
    """What an action acts on; the engine picks matching targets from the incident."""

    HOST = "host"
    REGISTRY_VALUE = "registry_value"
    SERVICE = "service"
    SCHEDULED_TASK = "scheduled_task"
    IP = "ip"
    DOMAIN = "domain"
    URL = "url"


InputT = TypeVar("InputT", bound=BaseModel)
ActionFn = Callable[[Any, ActionContext], Awaitable[ActionResult]]


@dataclass(frozen=True)
class ActionSpec:
    key: str
    fn: ActionFn
    inputs: type[BaseModel]
    target: TargetKind
    description: str
    secrets: tuple[str, ...] = ()
    inverse: str | None = None
    doc_url: str | None = None

    async def run(self, inputs: BaseModel | dict[str, Any], ctx: ActionContext) -> ActionResult:
        validated = inputs if isinstance(inputs, self.inputs) else self.inputs.model_validate(inputs)
        return await self.fn(validated, ctx)


@dataclass
class Registry:
    """An explicit dict of actions by key."""

    actions: dict[str, ActionSpec] = field(default_factory=dict)
    plugin_errors: dict[str, str] = field(default_factory=dict)
    _plugins_loaded: bool = False

    def add(self, spec: ActionSpec) -> None:
        existing = self.actions.get(spec.key)
        if existing is not None and existing.fn is not spec.fn:
            raise ValueError(f"action {spec.key!r} is registered twice")
        self.actions[spec.key] = spec

    def get(self, key: str) -> ActionSpec:
        self.load_plugins()
        try:
            return self.actions[key]
        except KeyError:
            raise KeyError(f"unknown action {key!r}; known: {', '.join(sorted(self.actions))}") from None

    def keys(self) -> list[str]:
        self.load_plugins()
        return sorted(self.actions)

    def load_plugins(self) -> None:
        """Import every ``garrison.actions`` entry point once; a broken plugin is reported, not fatal."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                entry.load()
            except Exception as error:  # noqa: BLE001 - any plugin failure must stay contained
                self.plugin_errors[entry.name] = f"{type(error).__name__}: {error}"
                _log.error("action plugin %r failed to load: %s", entry.name, error)


registry = Registry()


def action(
    *,
    key: str,
    inputs: type[InputT],
    target: TargetKind,
    secrets: list[str] | None = None,
    inverse: str | None = None,
    doc_url: str | None = None,
) -> Callable[[ActionFn], ActionFn]:
    """Register an async action under ``key`` (``<vendor>.<verb>_<object>``).

    >>> from pydantic import BaseModel
    >>> class Host(BaseModel):
    ...     hostname: str
    >>> @action(key="example.isolate_host", inputs=Host, target=TargetKind.HOST)
    ... async def isolate(inputs: Host, ctx: ActionContext) -> ActionResult: ...
    """
    vendor, _, verb = key.partition(".")
    if not vendor or not verb:
        raise ValueError(f"action key {key!r} must look like '<vendor>.<verb>_<object>'")

    def register(fn: ActionFn) -> ActionFn:
        doc_lines = (fn.__doc__ or "").strip().splitlines()
        description = doc_lines[0] if doc_lines else key
        registry.add(
            ActionSpec(
                key=key,
                fn=fn,
                inputs=inputs,
                target=target,
                description=description,
                secrets=tuple(secrets or ()),
                inverse=inverse,
                doc_url=doc_url,
            )
        )
        return fn

    return register
