"""Run one action on one target through the ledger: PENDING first, then the outcome, never twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from actions import ActionContext, ActionError, ActionSpec, TransientError
from flows.store import ActionStatusValue, Store

from ._targets import Target

_log = logging.getLogger("garrison.respond")


@dataclass(frozen=True)
class Outcome:
    action: str
    target: str
    status: str
    detail: str


async def execute(
    spec: ActionSpec, target: Target, ctx: ActionContext, store: Store, round: int = 1
) -> Outcome:
    if ctx.dry_run:
        # A plan writes no ledger row: the real run later must not find the key taken.
        store.add_timeline(ctx.incident_id, "act", f"dry-run: would run {spec.key} on {target.label}")
        return Outcome(spec.key, target.label, ActionStatusValue.SKIPPED, "dry-run")
    entry = store.begin_action(
        tenant=ctx.tenant,
        incident_id=ctx.incident_id,
        action=spec.key,
        target=target.label,
        inputs=target.inputs,
        inverse=spec.inverse,
        round=round,
    )
    if not entry.created and entry.status != ActionStatusValue.PENDING:
        return Outcome(spec.key, target.label, entry.status, "already done for this incident")
    # A PENDING row left by a crashed run: the lab's actions are state-idempotent (acting again reads the
    # state and reports "already"), so resuming is safe. Vendor adapters reconcile by reading vendor state.
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(3),
            wait=wait_random_exponential(multiplier=0.5, max=5),  # full jitter: no thundering herd
            reraise=True,
        ):
            with attempt:
                result = await spec.run(target.inputs, ctx)
    except ActionError as error:
        detail = f"{type(error).__name__}: {error}"
        store.finish_action(entry.id, status=ActionStatusValue.FAILED, detail=detail)
        return Outcome(spec.key, target.label, ActionStatusValue.FAILED, detail)
    except Exception as error:  # noqa: BLE001 - one broken adapter must not abort the other targets
        _log.exception("action %s on %s raised", spec.key, target.label)
        detail = f"adapter error {type(error).__name__}: {error}"
        store.finish_action(entry.id, status=ActionStatusValue.FAILED, detail=detail)
        return Outcome(spec.key, target.label, ActionStatusValue.FAILED, detail)
    store.finish_action(
        entry.id,
        status=result.status.value,
        detail=result.detail,
        vendor_ref=result.vendor_ref,
        undo=result.undo,
    )
    return Outcome(spec.key, target.label, result.status.value, result.detail)
