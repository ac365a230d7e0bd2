"""Blocking C2 indicators (domain, IP, URL, SHA-256) on an EDR's own custom-indicator list.

Every vendor keeps a list of indicators with an action; blocking adds one, unblocking deletes it, and the
state is whether the list holds a *blocking* indicator for the value. What differs per vendor (its type
names, the strongest action it allows, how it answers a duplicate) lives in its ``IndicatorClient``.

The indicator lists are separate adapters (``crowdstrike_iocs``, ``defender_indicators``), each with its
own API client: they need a write scope the containment client does not have (Falcon "IOC Manager",
Defender ``Ti.ReadWrite.All``), and a tenant that granted containment must opt in before Garrison pushes
tenant-wide indicators (and, for IPs, before block_ip may need a choice between the EDR and a firewall).

An indicator that an analyst put on the list with a non-blocking action (allow, audit) is never
overwritten nor deleted: the block fails saying so, the unblock leaves it in place.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .._capabilities import Capability
from .._context import ActionContext
from .._errors import VendorRejected
from .._inputs import plain_domain
from .._registry import registry
from .._result import ActionResult, ActionStatus, Effect, TargetState
from .._vendor import VendorClient, VendorSettings, succeeded
from ..indicators import InvalidIndicator, normalize
from ._base import Side, register_pair

PRESENT, ABSENT = "present", "absent"

# After normalizing (refanged, lower-case, punycode) a domain must be plain labels: no wildcard, quote,
# separator or whitespace can reach a vendor filter (FQL, OData) or its indicator list.
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A URL reaches an OData string literal and the vendor's matcher: no quote, wildcard or whitespace.
_URL_UNSAFE = re.compile(r"['\"`*\s\\<>{}|^]")


def _url(value: str) -> str:
    try:
        _, url = normalize("url", value)
    except InvalidIndicator as error:
        raise ValueError(f"not a URL: {error}") from None
    if not url.startswith(("http://", "https://")) or _URL_UNSAFE.search(url) or len(url) > 2048:
        raise ValueError("not a plain http(s) URL (no quote, wildcard or space)")
    return url


def _sha256(value: str) -> str:
    digest = value.strip().lower()
    if not _SHA256.match(digest):
        raise ValueError("not a SHA-256 (64 hexadecimal digits)")
    return digest


class DomainIndicator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: Annotated[str, AfterValidator(plain_domain)] = Field(
        max_length=1024, description="Domain to block (refanged; a plain name, never a wildcard)."
    )


class IpIndicator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ip: IPv4Address | IPv6Address = Field(description="IP address to block.")


class UrlIndicator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, AfterValidator(_url)] = Field(
        max_length=4096, description="http(s) URL to block (refanged, without credentials)."
    )


class HashIndicator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: Annotated[str, AfterValidator(_sha256)] = Field(
        max_length=128, description="SHA-256 of the file to block (64 hex digits)."
    )


@dataclass(frozen=True)
class IocKind:
    """One kind of indicator: the capability blocking it, its inputs, and the inputs' field."""

    block: Capability
    inputs: type[BaseModel]
    field: str
    noun: str

    def value(self, inputs: BaseModel) -> str:
        return str(getattr(inputs, self.field))

    @property
    def unblock(self) -> Capability:
        assert self.block.inverse is not None  # every block capability has its unblock
        return self.block.inverse


DOMAIN = IocKind(Capability.BLOCK_DOMAIN, DomainIndicator, "domain", "domain")
IP = IocKind(Capability.BLOCK_IP, IpIndicator, "ip", "IP address")
URL = IocKind(Capability.BLOCK_URL, UrlIndicator, "url", "URL")
SHA256 = IocKind(Capability.BLOCK_HASH, HashIndicator, "sha256", "file hash")


class IndicatorSettings(VendorSettings):
    """What every indicator list takes besides the API: how long a block lasts, how severe it reads."""

    expiration_days: int = Field(
        default=30, ge=1, le=365, description="Days until the indicator expires (the vendor then drops it)."
    )


class IndicatorClient(VendorClient, ABC):
    """One action's client of an EDR's custom-indicator list."""

    ctx: ActionContext
    settings: IndicatorSettings
    id_field: str = "id"

    @abstractmethod
    async def find(self, kind: IocKind, value: str) -> dict[str, Any] | None:
        """The vendor's indicator for exactly this type and value, or None."""

    @abstractmethod
    def blocking(self, record: dict[str, Any]) -> bool:
        """Whether that indicator blocks (or, where the vendor can only detect, is ours to detect)."""

    @abstractmethod
    def strength(self, kind: IocKind) -> str:
        """What the block does, said in the result: ``prevent``, or ``detect only`` and why."""

    @abstractmethod
    async def create(self, kind: IocKind, value: str) -> str:
        """Add the blocking indicator; its vendor id. A duplicate raises VendorRejected."""

    @abstractmethod
    async def delete(self, indicator_id: str) -> bool:
        """Delete the indicator; False when the vendor no longer has it."""

    def duplicate(self, error: VendorRejected) -> bool:
        """Whether the vendor refused a create because the indicator already exists."""
        text = str(error).lower()
        return error.status_code in (400, 409) and ("duplicate" in text or "already exists" in text)

    def expiration(self) -> str:
        wall = datetime.fromtimestamp(self.ctx.pool().clock.wall(), UTC)
        expires = (wall + timedelta(days=self.settings.expiration_days)).replace(microsecond=0)
        return expires.strftime("%Y-%m-%dT%H:%M:%SZ")

    def ref(self, record: dict[str, Any]) -> str:
        return str(record.get(self.id_field))

    async def block(self, kind: IocKind, value: str) -> ActionResult:
        found = await self.find(kind, value)
        if found is None:
            try:
                created = await self.create(kind, value)
            except VendorRejected as error:
                # Created by a run that crashed before its ledger entry, or by an analyst: read it back.
                found = await self.find(kind, value) if self.duplicate(error) else None
                if found is None:
                    raise
            else:
                return succeeded(f"{kind.noun} blocked ({self.strength(kind)})", vendor_ref=created)
        if not self.blocking(found):
            listed = found.get("action")
            return ActionResult(
                status=ActionStatus.FAILED,
                detail=f"{kind.noun} is listed with action {listed!r}: left as an analyst set it",
                vendor_ref=self.ref(found),
            )
        return succeeded(
            f"{kind.noun} already blocked ({self.strength(kind)})", changed=False, vendor_ref=self.ref(found)
        )

    async def unblock(self, kind: IocKind, value: str) -> ActionResult:
        found = await self.find(kind, value)
        if found is None or not self.blocking(found):
            kept = "" if found is None else f" (its {found.get('action')!r} indicator is left in place)"
            return succeeded(f"{kind.noun} was not blocked{kept}", changed=False)
        ref = self.ref(found)
        if await self.delete(ref):
            return succeeded(f"{kind.noun} unblocked", vendor_ref=ref)
        return succeeded(f"{kind.noun} was already unblocked", changed=False, vendor_ref=ref)

    async def state(self, kind: IocKind, value: str, want: str) -> TargetState:
        found = await self.find(kind, value)
        blocked = found is not None and self.blocking(found)
        observed = {} if found is None else {"id": self.ref(found), "action": found.get("action")}
        applied = blocked == (want == PRESENT)
        return TargetState(
            effect=Effect.APPLIED if applied else Effect.ABSENT,
            detail=f"{kind.noun} {'is' if blocked else 'is not'} blocked",
            vendor_ref=None if found is None else self.ref(found),
            observed=observed,
        )


async def deleted(call: Awaitable[object]) -> bool:
    """Whether a delete removed something: a 404 means the vendor no longer has it (already unblocked)."""
    try:
        await call
    except VendorRejected as error:
        if error.status_code != 404:
            raise
        return False
    return True


def register_indicator_blocking(
    client: Callable[[ActionContext], IndicatorClient],
    vendor: str,
    secrets: list[str],
    *,
    settings: type[IndicatorSettings],
    product: str,
    kinds: Mapping[IocKind, tuple[str, str]],
    requests: Callable[[IocKind], tuple[str, str]] | None = None,
) -> None:
    """``<vendor>.block_<kind>`` and its unblock for each of ``kinds`` (each with its create and delete
    doc links), run with a fresh ``client``; ``product`` names the list in the registry's descriptions;
    ``requests`` describes each kind's create and delete request for plans (``{input}`` placeholders)."""
    registry.declare_settings(vendor, settings)
    for kind, (create_doc, delete_doc) in kinds.items():
        described = requests(kind) if requests else (None, None)
        _register_kind(client, vendor, secrets, product, kind, (create_doc, delete_doc), described)


def _register_kind(
    client: Callable[[ActionContext], IndicatorClient],
    vendor: str,
    secrets: list[str],
    product: str,
    kind: IocKind,
    docs: tuple[str, str],
    requests: tuple[str | None, str | None],
) -> None:
    create_doc, delete_doc = docs

    async def run(inputs: BaseModel, ctx: ActionContext, side: Side) -> ActionResult:
        async with client(ctx) as api:
            if side.want == PRESENT:
                return await api.block(kind, kind.value(inputs))
            return await api.unblock(kind, kind.value(inputs))

    async def read(inputs: BaseModel, ctx: ActionContext, side: Side) -> TargetState:
        async with client(ctx) as api:
            return await api.state(kind, kind.value(inputs), side.want)

    register_pair(
        vendor,
        (kind.block, kind.unblock),
        (
            Side(
                "create",
                PRESENT,
                create_doc,
                f"Block the {kind.noun} with a {product} custom indicator.",
                requests[0],
            ),
            Side(
                "delete",
                ABSENT,
                delete_doc,
                f"Delete the {product} custom indicator blocking the {kind.noun}.",
                requests[1],
            ),
        ),
        inputs=kind.inputs,
        secrets=secrets,
        run=run,
        read=read,
    )
