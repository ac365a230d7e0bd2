"""Run one action on one target through the ledger: guardrails, a claim, the call, the outcome — once.

1. Guardrails are decided for this action and target now, from the tenant's policy (never only in a plan).
   A refusal is written on the ledger as SKIPPED with its reason; nothing reaches the adapter.
2. The ledger claim (PENDING, a lease for this worker) is taken before the vendor call. Blast-radius caps
   and approvals are checked in the claim's transaction. A key someone else holds is waited for (bounded
   by the lease): a live worker finishes it, a dead one's lease runs out and this worker resumes it. The
   lease is renewed by a heartbeat, and once more right before each vendor call (a fence: a worker that
   stalled past its lease and lost the key never sends).
3. A resumed row may have been sent already: the vendor's state is read first (``read_state``): APPLIED
   → succeeded without sending, IN_PROGRESS → left pending for a later re-check, UNKNOWN → failed for a
   human, ABSENT → safe to send.
4. Transient errors are retried under ``Timing.retry`` by the one retry layer (``actions.retry_async``):
   a 429 waits for the shared limiter (which honours Retry-After), a non-idempotent call that may have
   landed (timeout, 5xx) is looked at before it is sent again, an open circuit fails at once (no call was
   made). The heartbeat keeps renewing the lease while a retry waits, and the fence before every send
   stops a worker that lost it meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any

from pydantic import SecretStr

from actions import (
    ActionContext,
    ActionError,
    ActionResult,
    ActionSpec,
    ActionStatus,
    Backoff,
    CircuitOpen,
    Effect,
    PolicyViolation,
    RateLimited,
    RetryPolicy,
    TransientError,
    retry_async,
)
from actions.http import Clock
from flows.store import ActionStatusValue, Ledger, LedgerEntry, LedgerRow, Store, undo_key
from flows.tenants import Tenant

from ._guardrails import Decision, Guard, Ruling
from ._plan import vendor_view
from ._targets import Target
from ._vendors import with_secrets

_log = logging.getLogger("garrison.respond")
# How a guardrail refusal reads on the ledger: the error tree's name, though nothing is raised (the action
# is recorded as skipped, and the other targets go on).
POLICY_VIOLATION = PolicyViolation.__name__
PENDING, SUCCEEDED, FAILED, SKIPPED = (
    ActionStatusValue.PENDING.value,
    ActionStatusValue.SUCCEEDED.value,
    ActionStatusValue.FAILED.value,
    ActionStatusValue.SKIPPED.value,
)


@dataclass(frozen=True)
class Timing:
    """Leases and retries. The lease outlives a stalled heartbeat by far: a worker whose lease ran out
    while it still lives could send a second call, so the heartbeat renews it often."""

    lease: float = 120.0  # seconds a claim lasts without a heartbeat
    heartbeat: float = 15.0
    attempts: int = 3  # calls per action, counting the first
    backoff: float = 0.5  # base of the jittered exponential wait between attempts (the pool's clock)
    backoff_max: float = 5.0

    def retry(self, clock: Clock) -> RetryPolicy:
        """Response actions' retry policy: transient errors but an open circuit (no call was made),
        full-jitter exponential waits on ``clock`` (the HTTP pool's)."""
        return RetryPolicy(
            attempts=self.attempts,
            backoff=Backoff(base=self.backoff, maximum=self.backoff_max),
            give_up_on=(CircuitOpen,),
            clock=clock,
        )


TIMING = Timing()


@dataclass(frozen=True)
class Outcome:
    action: str
    target: str
    status: str
    detail: str
    # Why a person (or time) must act next: "approval", "refused" (a guardrail), "blast_radius", "pending"
    # (the vendor is still applying it, or another worker holds it), "unbound" (no adapter of the tenant
    # does it); "" when nothing waits.
    hold: str = ""


async def execute(
    spec: ActionSpec,
    target: Target,
    ctx: ActionContext,
    store: Store,
    round: int = 1,
    *,
    tenant: Tenant | None = None,
    guard: Guard | None = None,
    timing: Timing = TIMING,
    reverses: LedgerRow | None = None,
) -> Outcome:
    """Run ``spec`` on ``target`` once for this incident (``reverses``: as the rollback of that row)."""
    guard = guard or Guard(tenant.policy if tenant else None)
    rollback = reverses is not None
    decision = guard.decide(spec, spec.target, target.inputs, target.tags, rollback=rollback)
    if ctx.dry_run:
        return await _dry_run(spec, target, ctx, store, tenant, decision)
    ledger = store.ledger
    where: dict[str, Any] = dict(
        tenant=ctx.tenant,
        incident_id=ctx.incident_id,
        action=spec.key,
        target=target.label,
        inputs=target.inputs,
        inverse=spec.inverse,
        round=round,
        key=undo_key(reverses.idempotency_key, spec.key) if reverses else None,
        reverses=reverses.id if reverses else None,
    )
    if decision.refused:
        reason = f"{POLICY_VIOLATION}: {decision.reason}"
        entry = await asyncio.to_thread(ledger.refuse, reason=reason, **where)
        if entry.status == SKIPPED:
            return Outcome(spec.key, target.label, SKIPPED, reason, "refused")
        return _settled(spec, target, entry)
    owner = _owner()
    entry = await _claim(
        ledger,
        where,
        owner,
        timing,
        cap=guard.cap(spec, rollback=rollback),
        approval=guard.approval(decision, ctx.tenant, ctx.incident_id, spec.key, target.inputs),
    )
    if not entry.claimed:
        return _not_claimed(spec, target, entry, decision)
    try:
        scoped = await with_secrets(ctx, spec, tenant)
    except Exception as error:  # noqa: BLE001 - e.g. a Prefect Secret block that cannot be loaded
        scoped = replace(ctx, secrets={})
        done = _Done(FAILED, f"secrets for {spec.vendor} could not be resolved ({type(error).__name__})")
    else:
        async with _heartbeat(ledger, entry.id, owner, timing):
            done = await _act(spec, target, scoped, entry, timing, _fence(ledger, entry.id, owner, timing))
    status, detail = done.status, _scrub(done.detail, scoped.secrets)
    finished = await asyncio.to_thread(
        ledger.finish,
        entry.id,
        owner,
        status=status,
        detail=detail,
        vendor_ref=done.vendor_ref,
        undo=done.undo,
        changed=done.changed,
    )
    if not finished:  # our lease ran out meanwhile: the worker that took over reconciles the truth
        _log.warning("lost the claim on %s for %s; its new owner records the outcome", spec.key, target.label)
        return Outcome(
            spec.key, target.label, PENDING, "claim lost while acting; re-checked by its new owner", "pending"
        )
    return Outcome(spec.key, target.label, status, detail, "pending" if status == PENDING else "")


# The ledger's vendor for a capability no adapter of the tenant does: a row's action reads as
# ``<vendor>.<capability>`` everywhere (reports label it by the capability, and defang block targets).
UNBOUND = "unbound"


async def not_bound(
    wanted: str, target: Target, ctx: ActionContext, store: Store, round: int, why: Exception
) -> Outcome:
    """A capability (or explicit action) the tenant has no adapter for, on one target: nothing is sent,
    and the ledger says so (SKIPPED as ``unbound.<capability>``, with the missing binding) so the incident
    cannot count as contained and its report tells what was not done. A dry run only notes it."""
    action = wanted if "." in wanted else f"{UNBOUND}.{wanted}"
    reason = f"{type(why).__name__}: {why}"
    if ctx.dry_run:
        store.add_timeline(ctx.incident_id, "act", f"dry-run: cannot run {wanted} on {target.label}: {why}")
        return Outcome(action, target.label, SKIPPED, f"dry-run: {reason}", "unbound")
    entry = await asyncio.to_thread(
        store.ledger.refuse,
        tenant=ctx.tenant,
        incident_id=ctx.incident_id,
        action=action,
        target=target.label,
        inputs=target.inputs,
        inverse=None,
        reason=reason,
        round=round,
    )
    return Outcome(action, target.label, entry.status, entry.detail, "unbound")


async def _dry_run(
    spec: ActionSpec,
    target: Target,
    ctx: ActionContext,
    store: Store,
    tenant: Tenant | None,
    decision: Decision,
) -> Outcome:
    # A plan writes no ledger row (the real run later must not find the key taken) and calls no vendor
    # write endpoint: it reads the target's state where the adapter can.
    view = await vendor_view(spec, target, await with_secrets(ctx, spec, tenant))
    verdict = "" if decision.verdict is Ruling.ALLOWED else f" [{decision.verdict}: {decision.reason}]"
    store.add_timeline(
        ctx.incident_id, "act", f"dry-run: would run {spec.key} on {target.label}{verdict}: {view}"
    )
    return Outcome(spec.key, target.label, SKIPPED, f"dry-run: {decision.verdict}; {view}")


async def _claim(
    ledger: Ledger, where: dict[str, Any], owner: str, timing: Timing, **guards: Any
) -> LedgerEntry:
    """Claim the key; while another live worker holds it, wait (at most about one lease) for it to finish
    or for its lease to run out."""
    deadline = asyncio.get_running_loop().time() + timing.lease + timing.heartbeat
    while True:
        entry = await asyncio.to_thread(
            ledger.claim,
            owner=owner,
            lease_seconds=timing.lease,
            **where,
            **guards,
        )
        if entry.claimed or entry.status != PENDING or asyncio.get_running_loop().time() >= deadline:
            return entry
        await asyncio.sleep(min(timing.heartbeat, max(timing.lease / 4, 0.05)))


def _not_claimed(spec: ActionSpec, target: Target, entry: LedgerEntry, decision: Decision) -> Outcome:
    if entry.status == SKIPPED:
        hold = "blast_radius" if "blast radius" in entry.detail else "approval"
        if decision.verdict is not Ruling.NEEDS_APPROVAL and hold == "approval":
            hold = "refused"
        return Outcome(spec.key, target.label, SKIPPED, entry.detail, hold)
    if entry.status == PENDING:
        return Outcome(
            spec.key, target.label, PENDING, "another worker holds this action (lease live)", "pending"
        )
    return _settled(spec, target, entry)


def _settled(spec: ActionSpec, target: Target, entry: LedgerEntry) -> Outcome:
    if entry.status == PENDING:
        return Outcome(spec.key, target.label, PENDING, "an earlier attempt awaits reconciliation", "pending")
    return Outcome(spec.key, target.label, entry.status, "already done for this incident")


@dataclass(frozen=True)
class _Done:
    status: str
    detail: str
    vendor_ref: str | None = None
    undo: dict[str, Any] | None = None
    changed: bool | None = None  # None: unknown (reconciled: the effect may predate us)


async def _act(
    spec: ActionSpec,
    target: Target,
    ctx: ActionContext,
    entry: LedgerEntry,
    timing: Timing,
    still_ours: Fence,
) -> _Done:
    if entry.resumed:
        looked = await _look(spec, target, ctx, "an earlier attempt crashed")
        if looked is not None:
            return looked
    return await _send(spec, target, ctx, timing, still_ours)


async def _look(spec: ActionSpec, target: Target, ctx: ActionContext, why: str) -> _Done | None:
    """Reconcile by reading the vendor's state; None means ABSENT: the call never landed, send it."""
    try:
        state = await spec.read_state(target.inputs, ctx)
    except ActionError as error:
        return _Done(
            FAILED,
            f"{why} and the state cannot be read ({type(error).__name__}: {error}): a human must check",
        )
    except Exception as error:  # noqa: BLE001 - a broken adapter must not abort the other targets
        return _Done(
            FAILED, f"{why} and the adapter failed reading state ({type(error).__name__}): a human must check"
        )
    if state.effect is Effect.APPLIED:
        return _Done(SUCCEEDED, f"reconciled ({why}): {state.detail}", vendor_ref=state.vendor_ref)
    if state.effect is Effect.IN_PROGRESS:
        return _Done(PENDING, f"vendor still applying ({state.detail}); re-checked later", state.vendor_ref)
    if state.effect is Effect.UNKNOWN:
        return _Done(FAILED, f"{why} and the vendor cannot tell ({state.detail}): a human must check")
    return None


async def _send(
    spec: ActionSpec, target: Target, ctx: ActionContext, timing: Timing, still_ours: Fence
) -> _Done:
    # On the shared retry layer, not a loop of our own: the ledger's rules all live inside one attempt
    # (the fence before each send, the look before re-sending what may have landed), so the layer only
    # counts attempts and waits, on the pool's clock, while the heartbeat keeps the lease. What ends the
    # retries early (claim lost, reconciled) is a returned _Done, never an exception the policy could retry.
    attempt = 0

    async def send_once() -> _Done:
        nonlocal attempt
        attempt += 1
        try:
            if not await still_ours():  # a stalled worker whose lease was taken over must not send too
                return _Done(PENDING, "claim lost before sending; its new owner settles it")
            result = await spec.run(target.inputs, ctx)
        except CircuitOpen:
            raise  # a TransientError, but nothing was sent: no look, and the policy does not retry it
        except TransientError as error:
            if not isinstance(error, RateLimited) and not spec.idempotent:
                # A timeout or 5xx may have landed: sending again could do it twice. Look first.
                looked = await _look(spec, target, ctx, f"{type(error).__name__} on attempt {attempt}")
                if looked is not None:
                    return looked
            # Retried after the policy's wait; RateLimited: the shared limiter also holds the next call
            # past Retry-After (+ jitter).
            raise
        return _Done(_status(result), result.detail, result.vendor_ref, result.undo, result.changed)

    try:
        return await retry_async(timing.retry(ctx.pool().clock), send_once)
    except CircuitOpen as error:
        return _Done(FAILED, f"CircuitOpen: {error}")  # nothing was sent; retrying now cannot help
    except TransientError as error:  # the policy's attempts are spent
        return _Done(FAILED, f"{type(error).__name__} after {timing.attempts} attempts: {error}")
    except ActionError as error:
        return _Done(FAILED, f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - one broken adapter must not abort the other targets
        _log.error("action %s on %s raised %s", spec.key, target.label, type(error).__name__)
        return _Done(FAILED, f"adapter error {type(error).__name__}: {error}")


def _status(result: ActionResult) -> str:
    return {
        ActionStatus.SUCCEEDED: SUCCEEDED,
        ActionStatus.FAILED: FAILED,
        ActionStatus.SKIPPED: SKIPPED,
        ActionStatus.PENDING: PENDING,  # accepted, not in effect yet: stays pending, re-checked later
    }[result.status]


@asynccontextmanager
async def _heartbeat(ledger: Ledger, entry_id: int, owner: str, timing: Timing) -> AsyncIterator[None]:
    async def beat() -> None:
        while True:
            await asyncio.sleep(timing.heartbeat)
            if not await asyncio.to_thread(ledger.renew, entry_id, owner, timing.lease):
                _log.warning("ledger entry %s: the lease was taken over", entry_id)
                return

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


Fence = Callable[[], Awaitable[bool]]


def _fence(ledger: Ledger, entry_id: int, owner: str, timing: Timing) -> Fence:
    """Renew the lease right before each vendor call and say whether the row is still ours."""

    async def still_ours() -> bool:
        return await asyncio.to_thread(ledger.renew, entry_id, owner, timing.lease)

    return still_ours


def _owner() -> str:
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _scrub(text: str, secrets: Mapping[str, SecretStr]) -> str:
    """Defence in depth: an adapter's error text never carries a secret into the store."""
    for value in sorted((s.get_secret_value() for s in secrets.values()), key=len, reverse=True):
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text
