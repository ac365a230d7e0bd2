"""The action registry: adapters register with ``@action``; plugins arrive by entry point."""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

from ._capabilities import Capability, TargetKind
from ._context import ActionContext
from ._result import ActionResult, ActionStatus, Effect, TargetState

ENTRY_POINT_GROUP = "garrison.actions"
_log = logging.getLogger("garrison.actions")


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
    - ``capability`` says what the action does, whatever the vendor: playbooks name it, tenants bind it to
      a vendor, guardrails and the blast-radius cap read it. ``action()`` requires it; None only in specs
      built by hand (tests), which then count as neither restoring nor isolating.
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
    capability: Capability | None = None
    # Reading its state runs something on the host (a live response / RTR script): a plan does not read it.
    read_sends: bool = False
    # The vendor request it makes, in the vendor's words, with ``{input}`` placeholders:
    # ``POST /devices/entities/devices-actions/v2?action_name=contain (the device named {hostname})``.
    call: str | None = None

    @property
    def vendor(self) -> str:
        return self.key.partition(".")[0]

    @property
    def can_read_state(self) -> bool:
        return self.reader is not None

    def call_for(self, inputs: Mapping[str, Any]) -> str:
        """The vendor call this action would make for ``inputs`` (shown by plans; never sent from here).

        >>> spec = ActionSpec("x.block_ip", None, BaseModel, TargetKind.IP, "", call="POST /block ip={ip}")
        >>> spec.call_for({"ip": "203.0.113.9"})
        'POST /block ip=203.0.113.9'
        """
        if self.call is None:
            return f"{self.key} (the adapter does not describe its request)"
        # Inputs are data: format_map substitutes them once and never reads braces inside them.
        return self.call.format_map(_Shown(inputs))

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
    """An explicit dict of actions by key, and each vendor's settings model."""

    actions: dict[str, ActionSpec] = field(default_factory=dict)
    plugin_errors: dict[str, str] = field(default_factory=dict)
    settings: dict[str, type[BaseModel]] = field(default_factory=dict)
    # Scripts an adapter runs on hosts that the MDR uploads once per tenant (file name → source).
    scripts: dict[str, dict[str, str]] = field(default_factory=dict)
    _plugins_loaded: bool = False
    _loading: bool = False
    # Flow runs execute in threads of one runner: another thread waits, never sees half the plugins.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def add(self, spec: ActionSpec) -> None:
        existing = self.actions.get(spec.key)
        if existing is not None and existing.fn is not spec.fn:
            raise ValueError(f"action {spec.key!r} is registered twice")
        # A tenant binds a capability to a vendor: within one vendor it must name exactly one action.
        twin = next(
            (
                other.key
                for other in self.actions.values()
                if other.key != spec.key
                and other.vendor == spec.vendor
                and spec.capability is not None
                and other.capability is spec.capability
            ),
            None,
        )
        if twin is not None:
            raise ValueError(f"{spec.vendor} provides {spec.capability} twice: {twin} and {spec.key}")
        self.actions[spec.key] = spec

    def declare_settings(self, vendor: str, model: type[BaseModel]) -> None:
        """The model a tenant's ``adapters.<vendor>.settings`` must validate against (checked when the
        tenants file loads, and again by the adapter when it runs)."""
        self.settings[vendor] = model

    def declare_scripts(self, vendor: str, library: Mapping[str, str]) -> None:
        """The fixed scripts ``vendor``'s actions run on hosts (``garrison actions scripts`` writes them for
        the MDR to upload to the product's script library)."""
        self.scripts[vendor] = dict(library)

    def write_scripts(self, vendor: str, folder: Path) -> list[Path]:
        """Write ``vendor``'s scripts into ``folder`` for upload; KeyError if it declares none."""
        library = self.scripts[vendor]
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, source in library.items():
            path = folder / name
            # Windows PowerShell 5.1 reads a BOM-less script as ANSI: the BOM keeps it UTF-8.
            path.write_text(source.replace("\n", "\r\n"), encoding="utf-8-sig", newline="")
            written.append(path)
        return written

    def providing(self, capability: Capability) -> list[ActionSpec]:
        """Every action that does ``capability``, one per vendor, by key."""
        self.load_plugins()
        return [spec for _, spec in sorted(self.actions.items()) if spec.capability is capability]

    def vendors(self) -> list[str]:
        self.load_plugins()
        return sorted({spec.vendor for spec in self.actions.values()})

    def vendor_problems(
        self, vendor: str, settings: Mapping[str, Any], secrets: Collection[str]
    ) -> list[tuple[str, str]]:
        """What is wrong with one tenant's configuration of ``vendor``: its settings, and the names of its
        secret references. Each problem is ``(field, why)``, the field relative to the vendor's section
        (``settings.base_url``; empty: the vendor itself); none when all is well."""
        self.load_plugins()
        specs = [spec for spec in self.actions.values() if spec.vendor == vendor]
        if not specs:
            return [("", f"no adapter {vendor!r} is installed (installed: {', '.join(self.vendors())})")]
        problems = []
        model = self.settings.get(vendor)
        if model is not None:
            try:
                model.model_validate(dict(settings))
            except ValidationError as error:
                for found in error.errors():
                    where = ".".join(["settings", *(str(part) for part in found["loc"])])
                    problems.append((where, found["msg"].removeprefix("Value error, ")))
        declared = {name for spec in specs for name in spec.secrets}
        for name in sorted(set(secrets) - declared):
            known = ", ".join(sorted(declared)) or "none"
            problems.append((f"secrets.{name}", f"{vendor}'s actions use no such secret (they use: {known})"))
        for name in sorted(declared - set(secrets)):
            problems.append((f"secrets.{name}", "missing (give it by reference: {env: VAR})"))
        return problems

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
        with self._lock:
            # A plugin's import may ask the registry again (same thread): it gets what is there so far.
            if self._plugins_loaded or self._loading:
                return
            self._loading = True
            try:
                for entry in entry_points(group=ENTRY_POINT_GROUP):
                    try:
                        entry.load()
                    except Exception as error:  # noqa: BLE001 - any plugin failure must stay contained
                        self.plugin_errors[entry.name] = f"{type(error).__name__}: {error}"
                        _log.error("action plugin %r failed to load: %s", entry.name, error)
            finally:
                self._loading = False
                self._plugins_loaded = True

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
    elif spec.inverse is not None and spec.capability is not None:
        # Rollback runs the declared inverse: it must undo what the capability did, on the same target.
        undoes = actions[spec.inverse].capability
        if undoes is not spec.capability.inverse:
            issues.append(f"inverse {spec.inverse!r} does {undoes}, not {spec.capability.inverse}")
    if not spec.doc_url:
        issues.append("no doc_url")
    return issues


registry = Registry()


def action(
    *,
    key: str,
    inputs: type[InputT],
    capability: Capability,
    target: TargetKind | None = None,
    secrets: list[str] | None = None,
    inverse: str | None | _Unset = UNSET,
    doc_url: str | None = None,
    read_state: StateFn | None = None,
    idempotent: bool = False,
    call: str | None = None,
    read_sends: bool = False,
) -> Callable[[ActionFn], ActionFn]:
    """Register an async action under ``key`` (``<vendor>.<verb>_<object>``) that does ``capability``.

    ``target`` is the capability's own (given, it must match); ``inverse`` names the undoing action, or
    is ``None`` to declare there is none; ``read_state`` is an async ``(inputs, ctx) -> TargetState``
    that reads whether the effect is in place; ``call`` describes the vendor request (``{input}``
    placeholders), for plans; ``read_sends``: reading the state runs something on the host (a script), so
    plans do not read it (crash reconciliation still does).

    >>> from pydantic import BaseModel
    >>> class Host(BaseModel):
    ...     hostname: str
    >>> @action(key="example.isolate_host", inputs=Host, capability=Capability.ISOLATE_HOST, inverse=None)
    ... async def isolate(inputs: Host, ctx: ActionContext) -> ActionResult: ...
    """
    vendor, _, verb = key.partition(".")
    if not vendor or not verb:
        raise ValueError(f"action key {key!r} must look like '<vendor>.<verb>_<object>'")
    capability = Capability(capability)
    if target is not None and target is not capability.target:
        raise ValueError(f"{key}: {capability} acts on {capability.target}, not {target}")

    def register(fn: ActionFn) -> ActionFn:
        doc_lines = (fn.__doc__ or "").strip().splitlines()
        description = doc_lines[0] if doc_lines else key
        registry.add(
            ActionSpec(
                key=key,
                fn=fn,
                inputs=inputs,
                target=capability.target,
                description=description,
                secrets=tuple(secrets or ()),
                inverse=None if inverse is UNSET else inverse,
                doc_url=doc_url,
                reader=read_state,
                inverse_declared=inverse is not UNSET,
                idempotent=idempotent,
                capability=capability,
                call=call,
                read_sends=read_sends,
            )
        )
        return fn

    return register


class _Shown(dict[str, Any]):
    """Inputs for a call description: a placeholder the inputs lack stays as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
