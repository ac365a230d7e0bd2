"""What every lab action shares: how it registers, how it calls the fleet, and how it reports."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict

from .._capabilities import Capability, TargetKind
from .._context import ActionContext
from .._errors import PermanentError
from .._registry import ActionFn, StateFn, action, registry
from .._result import ActionResult, ActionStatus, Effect, TargetState
from ._fleet import LabFleet

# The lab is a simulation: its "vendor documentation" is the fleet's own code (a path in this repository).
DOC = "actions/lab/_fleet.py"
VENDOR = "lab"

P = ParamSpec("P")
T = TypeVar("T")
Probe = Callable[[Any, ActionContext], Awaitable[bool]]


class LabSettings(BaseModel):
    """The lab takes no settings: a tenant turns it on with ``adapters: {lab: {}}``."""

    model_config = ConfigDict(extra="forbid")


registry.declare_settings(VENDOR, LabSettings)


# How a plan names the lab's write for each kind of target (the inputs' own names in braces).
_OBJECT = {
    TargetKind.HOST: "host {hostname}",
    TargetKind.REGISTRY_VALUE: "{hostname}: value {name} of {key}",
    TargetKind.SERVICE: "{hostname}: service {name}",
    TargetKind.SCHEDULED_TASK: "{hostname}: task {name}",
    TargetKind.PROCESS: "{hostname}: pid {pid}",
    TargetKind.FILE: "{hostname}: file {path}",
    TargetKind.ACCOUNT: "account {account}",
    TargetKind.IP: "{ip}",
    TargetKind.DOMAIN: "{domain}",
    TargetKind.URL: "{url}",
    TargetKind.FILE_HASH: "{sha256}",
}


def lab_action(
    capability: Capability, inputs: type[BaseModel], *, read_state: StateFn
) -> Callable[[ActionFn], ActionFn]:
    """Register ``lab.<capability>``: the lab does every capability, each undone by its inverse's action."""
    # Every lab verb can read its effect back, and the fleet compares before it writes: all are idempotent.
    return action(
        key=f"{VENDOR}.{capability}",
        inputs=inputs,
        capability=capability,
        inverse=f"{VENDOR}.{capability.inverse}" if capability.inverse else None,
        doc_url=DOC,
        read_state=read_state,
        idempotent=True,
        call=f"lab fleet (simulated, in Garrison's store): {capability} {_OBJECT[capability.target]}",
    )


async def on_fleet(
    ctx: ActionContext,
    method: Callable[Concatenate[LabFleet, str, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Call one fleet method for the context's tenant, in a thread: the store's session is synchronous."""
    if ctx.db is None:
        raise PermanentError("the lab adapter needs the Garrison store (ActionContext.db)")
    return await asyncio.to_thread(method, LabFleet(ctx.db), ctx.tenant, *args, **kwargs)


async def host_state(ctx: ActionContext, hostname: str) -> dict[str, Any]:
    return await on_fleet(ctx, LabFleet.host_state, hostname)


def state(applied: bool, yes: str, no: str, **observed: object) -> TargetState:
    return TargetState(
        effect=Effect.APPLIED if applied else Effect.ABSENT, detail=yes if applied else no, observed=observed
    )


def readers(probe: Probe, true: str, false: str, name: str) -> tuple[StateFn, StateFn]:
    """The read_state of an action that makes ``probe`` true, and that of its inverse (making it false).

    Both tell what is (``true`` or ``false`` as the detail, the probe's answer observed as ``name``); only
    which answer counts as the effect being in place differs.
    """

    def reader(want: bool) -> StateFn:
        async def read(inputs: Any, ctx: ActionContext) -> TargetState:
            found = await probe(inputs, ctx)
            text = true if found else false
            return state(found == want, text, text, **{name: found})

        return read

    return reader(True), reader(False)


def done(changed: bool, did: str, already: str, **extra: Any) -> ActionResult:
    return ActionResult(
        status=ActionStatus.SUCCEEDED, detail=did if changed else already, changed=changed, **extra
    )


def removed(captured: dict[str, Any] | None, hostname: str, did: str, already: str) -> ActionResult:
    if captured is None:
        return done(False, did, already)
    # What was deleted is the inverse's input: rolling back writes it again, on the same host.
    return done(True, did, already, undo={"hostname": hostname, **captured})
