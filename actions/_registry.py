"""The action registry: adapters register with ``@action``; plugins arrive by entry point."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from importlib.metadata import entry_points
from typing import Any, Final, TypeVar

from pydantic import BaseModel

from ._context import ActionContext
from ._result import ActionResult, ActionStatus, Effect, TargetState

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
    PROCESS = "process"
    FILE = "file"
    ACCOUNT = "account"


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET

InputT = TypeVar("InputT", bound=BaseModel)
ActionFn = Callable[[Any, ActionContext], Awaitable[ActionResult]]
StateFn = Callable[[Any, ActionContext], Awaitable[TargetState]]


@dataclass(frozen=True)
class ActionSpec:
    """One registered action.

    The engine's side of the contract:

    - ``run(inputs, ctx)`` performs the action (in dry-run it only reads state and reports what it would
      do); it returns an ``ActionResult`` or raises from the error tree (retry only ``TransientError``).
    - ``read_state(inputs, ctx)`` reads, without changing anything, whether this action's effect is in
      place: how a PENDING ledger entry is reconciled after a crash instead of re-sending the call.
    - ``inverse`` names the action that undoes this one (None: declared to have none); it takes the
      result's ``undo`` dict as its inputs, or this action's inputs when ``undo`` is empty.
    - ``idempotent``: sending the action again when its effect is already in place changes nothing.
    """

    key: str
    fn: ActionFn
    inputs: type[BaseModel]
    target: TargetKind
    description: str
    secrets: tuple[str, ...] = ()
    inverse: str | None = None
    doc_url: str | None = None
    reader: StateFn | None = None
    inverse_declared: bool = False
    idempotent: bool = False

    @property
    def vendor(self) -> str:
        return self.key.partition(".")[0]

    @property
    def can_read_state(self) -> bool:
        return self.reader is not None

    def _prepare(self, inputs: BaseModel | dict[str, Any], ctx: ActionContext) -> tuple[Any, ActionContext]:
        validated = inputs if isinstance(inputs, self.inputs) else self.inputs.model_validate(inputs)
        # Least privilege: the action sees only the secrets it declared.
        scoped = replace(
            ctx,
            secrets={name: value for name, value in ctx.secrets.items() if name in self.secrets},
            declared_secrets=frozenset(self.secrets),
        )
        return validated, scoped

    async def run(self, inputs: BaseModel | dict[str, Any], ctx: ActionContext) -> ActionResult:
        validated, scoped = self._prepare(inputs, ctx)
        if ctx.dry_run:
            return await self._plan(validated, scoped)
        return await self.fn(validated, scoped)

    async def read_state(self, inputs: BaseModel | dict[str, Any], ctx: ActionContext) -> TargetState:
        """Whether this action's effect is in place on the target, read from the vendor (no change made)."""
        validated, scoped = self._prepare(inputs, ctx)
        if self.reader is None:
            return TargetState(effect=Effect.UNKNOWN, detail=f"{self.key} cannot read the target's state")
        return await self.reader(validated, scoped)

    async def _plan(self, inputs: Any, ctx: ActionContext) -> ActionResult:
        # A dry run never calls the action: it reads state where it can (which also resolves the target,
        # so an ambiguous hostname fails the plan just as it would fail the action).
        if self.reader is None:
            return ActionResult(status=ActionStatus.SKIPPED, detail=f"dry-run: would run {self.key}")
        state = await self.reader(inputs, ctx)
        already = state.effect is Effect.APPLIED
        detail = f"dry-run: {state.detail}" + ("" if already else f"; would run {self.key}")
        return ActionResult(
            status=ActionStatus.SKIPPED, detail=detail, changed=not already, vendor_ref=state.vendor_ref
        )


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

    def problems(self) -> dict[str, list[str]]:
        """Contract breaches by action key (STYLE.md): empty when every action keeps the contract."""
        self.load_plugins()
        found: dict[str, list[str]] = {}
        for key, spec in sorted(self.actions.items()):
            issues = _contract_issues(spec, self.actions)
            if issues:
                found[key] = issues
        return found


def _contract_issues(spec: ActionSpec, actions: dict[str, ActionSpec]) -> list[str]:
    issues: list[str] = []
    if spec.description == spec.key:
        issues.append("no description (first docstring line)")
    if spec.inputs.model_config.get("extra") != "forbid":
        issues.append("inputs model does not forbid extra fields")
    for name, info in spec.inputs.model_fields.items():
        if not info.description:
            issues.append(f"input field {name!r} has no description")
    if not spec.inverse_declared:
        issues.append("inverse not declared (name it, or inverse=None)")
    elif spec.inverse is not None and spec.inverse not in actions:
        issues.append(f"inverse {spec.inverse!r} is not registered")
    if not spec.doc_url:
        issues.append("no doc_url")
    return issues


registry = Registry()


def action(
    *,
    key: str,
    inputs: type[InputT],
    target: TargetKind,
    secrets: list[str] | None = None,
    inverse: str | None | _Unset = UNSET,
    doc_url: str | None = None,
    read_state: StateFn | None = None,
    idempotent: bool = False,
) -> Callable[[ActionFn], ActionFn]:
    """Register an async action under ``key`` (``<vendor>.<verb>_<object>``).

    ``inverse`` names the undoing action, or is ``None`` to declare there is none; ``read_state`` is an
    async ``(inputs, ctx) -> TargetState`` that reads whether the effect is in place.

    >>> from pydantic import BaseModel
    >>> class Host(BaseModel):
    ...     hostname: str
    >>> @action(key="example.isolate_host", inputs=Host, target=TargetKind.HOST, inverse=None)
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
                inverse=None if inverse is UNSET else inverse,
                doc_url=doc_url,
                reader=read_state,
                inverse_declared=inverse is not UNSET,
                idempotent=idempotent,
            )
        )
        return fn

    return register
