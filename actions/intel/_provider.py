"""Intel providers and their lookups, registered like response actions but in a registry of their own.

A provider module declares its ``Provider`` (secrets, settings model, limits, doc link) and one lookup per
vendor endpoint with ``@intel_lookup(key="<vendor>.lookup_<object>", inputs=Model, types=…)``: an async
``(inputs, session) -> list[IntelRecord]`` whose inputs (a ``LookupInput``) use the vendor's own parameter
names and forbid extra fields. Why not the action registry: intel lookups are read-only queries that
return records, batched and cached per indicator, with no ledger, inverse, dry run or target state; and
the engine picks response actions by target kind, which must never select a lookup to "act" on an IP.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict

from .._context import ActionContext
from .._errors import PolicyViolation
from .._vendor import VendorSettings, tuned
from ..http import VendorPolicy
from ._limits import IntelHttp, provider_limiter
from ._normalize import InvalidIndicator, normalize, parse_any, private_reason
from ._record import IntelRecord
from ._text import iso

_log = logging.getLogger("garrison.actions.intel")
BUILTIN = ("virustotal", "abuseipdb", "greynoise", "urlhaus", "threatfox", "misp")

InputT = TypeVar("InputT", bound=BaseModel)
LookupFn = Callable[[Any, "IntelSession"], Awaitable[list[IntelRecord]]]


def _checked(kind: str) -> Any:
    def check(value: str) -> str:
        try:
            return normalize(kind, value)[1]
        except InvalidIndicator as error:
            raise ValueError(str(error)) from None

    return Annotated[str, AfterValidator(check)]


# Input field types: a value reaches a vendor's URL path or body only in its canonical, validated form.
DomainValue = _checked("domain")
UrlValue = _checked("url")
HashValue = _checked("hash")
IpValue = _checked("ip")


class LookupInput(BaseModel):
    """The base of a lookup's inputs: the vendor's own parameter names, and nothing else accepted."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Provider:
    """One online intel source.

    ``policy`` limits one tenant's key (Retry-After holds it); ``rate``/``burst`` limit the provider for
    all tenants of the process together. ``shared_answers``: answers are public data, the same whoever
    asks, so one tenant's cached answer serves another. ``third_party``: indicator values leave our
    network, so private addresses and internal names are never sent.
    """

    name: str
    description: str
    doc_url: str
    settings: type[VendorSettings]
    headers: Callable[[ActionContext], dict[str, str]]
    policy: VendorPolicy
    rate: float
    burst: int
    secrets: tuple[str, ...] = ()
    required_secrets: tuple[str, ...] = ()
    shared_answers: bool = True
    third_party: bool = True


@dataclass(frozen=True)
class IntelSpec:
    """One registered lookup: one vendor endpoint."""

    key: str
    fn: LookupFn
    inputs: type[BaseModel]
    types: tuple[str, ...]
    to_inputs: Callable[[str, str], BaseModel]
    description: str
    doc_url: str

    @property
    def provider(self) -> str:
        return self.key.partition(".")[0]


class IntelSession:
    """One provider for one tenant during one lookup: its settings, and its HTTP client under the limits."""

    def __init__(
        self, provider: Provider, ctx: ActionContext, *, rate: float | None = None, burst: int | None = None
    ) -> None:
        self.provider = provider
        self.ctx = ctx
        self.settings = ctx.settings(provider.name, provider.settings)
        headers = provider.headers(ctx)
        pool = ctx.pool()
        self.http = IntelHttp(
            tenant=ctx.tenant,
            vendor=provider.name,
            base_url=self.settings.base_url,
            policy=tuned(provider.policy, self.settings),
            pool=pool,
            secrets=[value.get_secret_value() for value in ctx.secrets.values()],
            headers=headers,
            verify=self.settings.ca_bundle or self.settings.verify_tls,
            provider_limit=provider_limiter(
                pool, provider.name, rate or provider.rate, burst or provider.burst
            ),
        )

    async def __aenter__(self) -> IntelSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.__aexit__(None, None, None)

    def now(self) -> str | None:
        return iso(self.http.pool.clock.wall())

    def record(self, kind: str, value: str, verdict: str, reason: str, **fields: Any) -> IntelRecord:
        """A record from this provider, stamped with when it was retrieved."""
        return IntelRecord(
            type=kind,
            value=value,
            verdict=verdict,
            source=self.provider.name,
            reason=reason,
            retrieved_at=self.now(),
            **fields,
        )


@dataclass
class IntelRegistry:
    """An explicit dict of providers and of their lookups by key."""

    providers: dict[str, Provider] = field(default_factory=dict)
    lookups: dict[str, IntelSpec] = field(default_factory=dict)
    load_errors: dict[str, str] = field(default_factory=dict)
    _loaded: bool = False

    def add_provider(self, provider: Provider) -> None:
        existing = self.providers.get(provider.name)
        if existing is not None and existing != provider:
            raise ValueError(f"intel provider {provider.name!r} is registered twice")
        self.providers[provider.name] = provider

    def add(self, spec: IntelSpec) -> None:
        if spec.provider not in self.providers:
            raise ValueError(f"intel lookup {spec.key!r} names no registered provider")
        existing = self.lookups.get(spec.key)
        if existing is not None and existing.fn is not spec.fn:
            raise ValueError(f"intel lookup {spec.key!r} is registered twice")
        self.lookups[spec.key] = spec

    def load(self) -> None:
        """Import the built-in providers and the ``garrison.actions`` plugins, once; failures are kept."""
        if self._loaded:
            return
        self._loaded = True
        for name in BUILTIN:
            try:
                importlib.import_module(f"actions.intel.{name}")
            except Exception as error:  # noqa: BLE001 - one broken provider must not break the others
                self.load_errors[name] = f"{type(error).__name__}: {error}"
                _log.error("intel provider %r failed to load: %s", name, error)
        from .._registry import registry

        registry.load_plugins()

    def lookup_for(self, provider: str, kind: str) -> IntelSpec | None:
        """The lookup of ``provider`` that answers for indicators of type ``kind``."""
        self.load()
        return next((s for s in self.lookups.values() if s.provider == provider and kind in s.types), None)

    def get(self, key: str) -> IntelSpec:
        self.load()
        try:
            return self.lookups[key]
        except KeyError:
            raise KeyError(
                f"unknown intel lookup {key!r}; known: {', '.join(sorted(self.lookups))}"
            ) from None

    def declared_secrets(self, providers: list[str] | None = None) -> list[str]:
        """The secret names the given providers (default: all) declare, for the engine to resolve."""
        self.load()
        names = providers if providers is not None else sorted(self.providers)
        return sorted({s for n in names if n in self.providers for s in self.providers[n].secrets})

    async def run(
        self, key: str, inputs: BaseModel | dict[str, Any], ctx: ActionContext
    ) -> list[IntelRecord]:
        """One lookup alone (the engine's ``lookup`` batches, caches and limits many)."""
        spec = self.get(key)
        provider = self.providers[spec.provider]
        validated = inputs if isinstance(inputs, spec.inputs) else spec.inputs.model_validate(inputs)
        if provider.third_party:
            _refuse_private(provider, validated)
        async with IntelSession(provider, scoped(ctx, provider)) as session:
            return await spec.fn(validated, session)

    def problems(self) -> dict[str, list[str]]:
        """Contract breaches by lookup key (STYLE.md): empty when every lookup keeps the contract."""
        self.load()
        found: dict[str, list[str]] = {}
        for key, spec in sorted(self.lookups.items()):
            provider = self.providers[spec.provider]
            issues = []
            if spec.description == key:
                issues.append("no description (first docstring line)")
            if spec.inputs.model_config.get("extra") != "forbid":
                issues.append("inputs model does not forbid extra fields")
            issues += [
                f"input field {n!r} has no description"
                for n, f in spec.inputs.model_fields.items()
                if not f.description
            ]
            if not spec.doc_url.startswith("https://") or not provider.doc_url.startswith("https://"):
                issues.append("no doc_url")
            if not set(provider.required_secrets) <= set(provider.secrets):
                issues.append("a required secret is not declared")
            if issues:
                found[key] = issues
        return found


def _refuse_private(provider: Provider, inputs: BaseModel) -> None:
    for value in inputs.model_dump().values():
        try:
            kind, canonical = parse_any(str(value))
        except InvalidIndicator:
            continue
        why = private_reason(kind, canonical)
        if why:
            raise PolicyViolation(f"{provider.name}: {why}")


def scoped(ctx: ActionContext, provider: Provider) -> ActionContext:
    """Least privilege: the provider sees only the secrets it declared."""
    return replace(
        ctx,
        secrets={n: v for n, v in ctx.secrets.items() if n in provider.secrets},
        declared_secrets=frozenset(provider.secrets),
    )


intel_registry = IntelRegistry()


def register_provider(provider: Provider) -> Provider:
    intel_registry.add_provider(provider)
    return provider


def intel_lookup(
    *,
    key: str,
    inputs: type[InputT],
    types: tuple[str, ...],
    doc_url: str,
    to_inputs: Callable[[str, str], InputT] | None = None,
) -> Callable[[LookupFn], LookupFn]:
    """Register an async lookup under ``key`` (``<provider>.lookup_<object>``) for indicator ``types``.

    ``to_inputs(type, value)`` makes the inputs for one indicator; by default the value fills the one
    required field of ``inputs``.

    >>> from pydantic import Field
    >>> class Ip(LookupInput):
    ...     ip: str = Field(description="IPv4 address.")
    >>> intel_lookup(key="acme.lookup_ip", inputs=Ip, types=("ipv4",), doc_url="https://acme.test/docs")
    ... # doctest: +ELLIPSIS
    <function intel_lookup.<locals>.register at ...>
    """
    vendor, _, verb = key.partition(".")
    if not vendor or not verb:
        raise ValueError(f"intel lookup key {key!r} must look like '<provider>.lookup_<object>'")
    make_inputs = to_inputs or _into_required_field(inputs)

    def register(fn: LookupFn) -> LookupFn:
        lines = (fn.__doc__ or "").strip().splitlines()
        intel_registry.add(
            IntelSpec(
                key=key,
                fn=fn,
                inputs=inputs,
                types=types,
                to_inputs=make_inputs,
                description=lines[0] if lines else key,
                doc_url=doc_url,
            )
        )
        return fn

    return register


def _into_required_field(inputs: type[InputT]) -> Callable[[str, str], InputT]:
    required = [info.alias or name for name, info in inputs.model_fields.items() if info.is_required()]
    if len(required) != 1:
        raise ValueError(f"{inputs.__name__} has {len(required)} required fields: pass to_inputs")
    return lambda kind, value: inputs.model_validate({required[0]: value})
