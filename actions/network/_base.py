"""What the firewall adapters share: ``block_ip`` and ``unblock_ip`` registered as each other's inverse,
both read from one lookup of the vendor's block set (an alias table, a tagged dynamic address group)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from .._capabilities import Capability
from .._context import ActionContext
from .._inputs import IpInput
from .._registry import ActionFn, action, registry
from .._result import Effect, TargetState


@dataclass(frozen=True)
class Listing:
    """One reading of the block set: whether ``ip`` is in it (``where`` names it: ``in alias x``)."""

    ip: str
    listed: bool
    where: str
    observed: dict[str, Any]

    def state(self, listed_is_applied: bool) -> TargetState:
        return TargetState(
            effect=Effect.APPLIED if self.listed == listed_is_applied else Effect.ABSENT,
            detail=f"{self.ip} {'is' if self.listed else 'is not'} {self.where}",
            observed=self.observed,
        )


Lookup = Callable[[IpInput, ActionContext], Awaitable[Listing]]


class Registers(Protocol):
    def __call__(self, *, inputs: type[IpInput]) -> Callable[[ActionFn], ActionFn]: ...


def ip_blocking(
    vendor: str,
    *,
    secrets: list[str],
    doc_url: str,
    lookup: Lookup,
    settings: type[BaseModel],
    calls: tuple[str, str] | None = None,
) -> tuple[Registers, Registers]:
    """The decorators of ``<vendor>.block_ip`` and ``<vendor>.unblock_ip``, given each one's inputs: each
    the other's inverse, both idempotent, the block in place while ``lookup`` finds the IP listed and the
    unblock while it does not. The tenant's settings for ``vendor`` validate against ``settings``;
    ``calls`` describe the block and the unblock request for plans (``{ip}`` placeholders)."""
    block, unblock = Capability.BLOCK_IP, Capability.UNBLOCK_IP
    registry.declare_settings(vendor, settings)

    def side(does: Capability, undo: Capability, *, listed_is_applied: bool, call: str | None) -> Registers:
        async def read_state(inputs: IpInput, ctx: ActionContext) -> TargetState:
            return (await lookup(inputs, ctx)).state(listed_is_applied)

        def registers(*, inputs: type[IpInput]) -> Callable[[ActionFn], ActionFn]:
            return action(
                key=f"{vendor}.{does}",
                inputs=inputs,
                capability=does,
                secrets=secrets,
                inverse=f"{vendor}.{undo}",
                doc_url=doc_url,
                read_state=read_state,
                idempotent=True,
                call=call,
            )

        return registers

    block_call, unblock_call = calls or (None, None)
    return (
        side(block, unblock, listed_is_applied=True, call=block_call),
        side(unblock, block, listed_is_applied=False, call=unblock_call),
    )
