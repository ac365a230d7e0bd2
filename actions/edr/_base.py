"""What the EDR adapters share: host isolation registered as one isolate/release pair per vendor, the
send-then-poll flow of vendors whose host record carries its isolation status, and OAuth2 client credentials.

A reversible pair is two ``Side``s — the vendor's name for the call and for the state it ends in — served
by one function for both directions, so a new pair (block/unblock a hash, …) is a ``register_pair`` call
naming the two capabilities it provides.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from .._capabilities import Capability
from .._context import ActionContext
from .._registry import action, registry
from .._result import ActionResult, TargetState
from .._vendor import (
    BearerSession,
    HostInput,
    VendorClient,
    VendorSettings,
    open_http,
    pending,
    poll,
    succeeded,
)
from ..http import VendorHttp, VendorPolicy
from ._status import isolation_state

R = TypeVar("R")


@dataclass(frozen=True)
class Side:
    """One direction of a reversible action, in the vendor's words."""

    call: str  # the request that makes the change (device action, machine action, agent action)
    want: str  # the target's state, as the vendor shows it, once the change is in place
    doc_url: str
    summary: str  # the action's description in the registry
    # The HTTP request, as the vendor documents it, with ``{input}`` placeholders: shown by plans.
    request: str | None = None


SideFn = Callable[[Any, ActionContext, Side], Awaitable[R]]


def register_pair(
    vendor: str,
    capabilities: tuple[Capability, Capability],
    sides: tuple[Side, Side],
    *,
    inputs: type[BaseModel],
    secrets: list[str],
    run: SideFn[ActionResult],
    read: SideFn[TargetState],
) -> None:
    """Register ``<vendor>.<capability>`` for both sides: each the other's inverse, each reading whether its
    own effect is in place, both idempotent (a side sent again once its state holds changes nothing)."""
    keys = [f"{vendor}.{capability}" for capability in capabilities]
    for capability, side, key, inverse in zip(capabilities, sides, keys, keys[::-1], strict=True):
        act = _bind(run, side, capability.value)
        act.__doc__ = side.summary
        action(
            key=key,
            inputs=inputs,
            capability=capability,
            secrets=secrets,
            inverse=inverse,
            doc_url=side.doc_url,
            read_state=_bind(read, side, f"read_{capability}"),
            idempotent=True,
            call=side.request,
        )(act)


def _bind(fn: SideFn[R], side: Side, name: str) -> Callable[[Any, ActionContext], Awaitable[R]]:
    async def bound(inputs: Any, ctx: ActionContext) -> R:
        return await fn(inputs, ctx, side)

    bound.__name__ = bound.__qualname__ = name
    return bound


class IsolationClient(VendorClient, ABC):
    """One action's client of an EDR that can network-isolate a host."""

    @abstractmethod
    async def change(self, hostname: str, side: Side) -> ActionResult:
        """Bring the host to ``side.want``, verified; already being there is a success."""

    @abstractmethod
    async def state(self, hostname: str, side: Side) -> TargetState:
        """Whether the host is in ``side.want`` now (nothing is changed)."""


def register_host_isolation(
    client: Callable[[ActionContext], IsolationClient],
    vendor: str,
    secrets: list[str],
    *,
    settings: type[VendorSettings],
    isolate: Side,
    release: Side,
) -> None:
    """``<vendor>.isolate_host`` and ``<vendor>.release_host``, each run with a fresh ``client``; the
    tenant's settings for ``vendor`` validate against ``settings``."""

    async def run(inputs: HostInput, ctx: ActionContext, side: Side) -> ActionResult:
        async with client(ctx) as edr:
            return await edr.change(inputs.hostname, side)

    async def read(inputs: HostInput, ctx: ActionContext, side: Side) -> TargetState:
        async with client(ctx) as edr:
            return await edr.state(inputs.hostname, side)

    registry.declare_settings(vendor, settings)
    register_pair(
        vendor,
        (Capability.ISOLATE_HOST, Capability.RELEASE_HOST),
        (isolate, release),
        inputs=HostInput,
        secrets=secrets,
        run=run,
        read=read,
    )


class StatusIsolation(IsolationClient):
    """An EDR whose host record carries the isolation status: the call is sent unless the host is in the
    wanted state or on its way there, then the record is polled until it shows it (bounded)."""

    ctx: ActionContext
    settings: VendorSettings
    id_field: ClassVar[str]
    status_field: ClassVar[str]
    on_the_way: ClassVar[Mapping[str, str]]  # each end state → the vendor's state on the way to it
    noun: ClassVar[str]  # what the vendor calls a host, in results
    shown: ClassVar[str]  # how a status reads, before the status
    still: ClassVar[str]  # how a status that is not the wanted one yet reads, before the status

    @abstractmethod
    async def host(self, hostname: str) -> dict[str, Any]:
        """The one host record of that name (or TargetNotFound)."""

    @abstractmethod
    async def host_by_id(self, host_id: str) -> dict[str, Any]:
        """The host record again, by the vendor's id."""

    @abstractmethod
    async def send(self, call: str, host_id: str, hostname: str) -> None:
        """Ask the vendor for ``call`` on that one host."""

    async def change(self, hostname: str, side: Side) -> ActionResult:
        record = await self.host(hostname)
        host_id, status = str(record.get(self.id_field)), record.get(self.status_field)
        if status == side.want:
            return succeeded(f"{self.noun} already {side.want}", changed=False, vendor_ref=host_id)
        # Already on its way (sent before a crash, or by an analyst): follow it rather than send again.
        if status != self.on_the_way[side.want]:
            await self.send(side.call, host_id, hostname)
        final = await poll(
            self.ctx,
            self.settings,
            lambda: self.host_by_id(host_id),
            lambda found: found.get(self.status_field) == side.want,
        )
        if final.get(self.status_field) == side.want:
            return succeeded(f"{self.noun} {side.want}", vendor_ref=host_id)
        return pending(f"{side.call} sent; {self.still} {final.get(self.status_field)}", vendor_ref=host_id)

    async def state(self, hostname: str, side: Side) -> TargetState:
        record = await self.host(hostname)
        status = str(record.get(self.status_field, ""))
        return isolation_state(
            status,
            side.want,
            on_the_way=self.on_the_way,
            detail=f"{self.shown} {status or 'unknown'}",
            vendor_ref=record.get(self.id_field),
            observed={self.status_field: status},
        )


class ClientCredentials(VendorClient, ABC):
    """A vendor API behind OAuth2 client credentials: the secrets ``<vendor>_client_id`` and
    ``<vendor>_client_secret``, redacted from all the session reports, and a cached bearer token."""

    def __init__(
        self, ctx: ActionContext, vendor: str, settings: VendorSettings, policy: VendorPolicy
    ) -> None:
        self.ctx = ctx
        self._client_id = ctx.secret(f"{vendor}_client_id")
        self._client_secret = ctx.secret(f"{vendor}_client_secret")
        self.http = open_http(ctx, vendor, settings, policy, secrets=[self._client_id, self._client_secret])
        self.api = BearerSession(self.http, self.token_scope(), self.fetch_token)

    @abstractmethod
    def token_scope(self) -> list[str]:
        """What picks the cached token: the credentials and whatever else a token is only good for."""

    @abstractmethod
    async def fetch_token(self, http: VendorHttp) -> tuple[str, float]:
        """A new token and its lifetime in seconds."""
