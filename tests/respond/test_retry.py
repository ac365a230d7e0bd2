"""Retries of one action, pinned: which failures are sent again, how long the worker waits (on the pool's
clock), the look before re-sending a call that may have landed, the lease kept alive while waiting, and a
worker that lost its lease meanwhile never sending again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from actions import (
    ActionContext,
    ActionResult,
    ActionSpec,
    ActionStatus,
    CircuitOpen,
    Effect,
    RateLimited,
    TargetKind,
    TargetNotFound,
    TargetState,
    TransientError,
)
from actions.http import HttpPool, SystemClock
from flows.models import Alert
from flows.respond._execute import Timing, _send, execute
from flows.respond._targets import Target
from flows.store import Store
from tests.actions._support import FakeClock

TARGET = Target("WS-1", {"hostname": "WS-1"})


class HostInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: str = Field(description="Host.")


class RecordingClock(FakeClock):
    """Virtual time that also notes each wait among the vendor's calls and reads (jitter 0.5)."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    async def sleep(self, seconds: float) -> None:
        self.events.append(f"sleep {seconds:g}")
        await super().sleep(seconds)


class SteadyClock(SystemClock):
    """Real time, no chance: every backoff is its full ceiling; ``waiting`` is set when a wait begins."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.waiting = asyncio.Event()

    def random(self) -> float:
        return 1.0

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.waiting.set()
        await asyncio.sleep(seconds)


class Vendor:
    """Fails with the queued errors (nothing lands unless ``lands``), then succeeds."""

    def __init__(self, *errors: Exception, lands: bool = False) -> None:
        self.errors = list(errors)
        self.lands = lands
        self.events: list[str] = []
        self.applied = False

    async def run(self, inputs: HostInput, ctx: ActionContext) -> ActionResult:
        self.events.append("call")
        if self.errors:
            self.applied = self.applied or self.lands
            raise self.errors.pop(0)
        self.applied = True
        return ActionResult(status=ActionStatus.SUCCEEDED, detail="contained")

    async def read(self, inputs: HostInput, ctx: ActionContext) -> TargetState:
        self.events.append("read")
        return TargetState(effect=Effect.APPLIED if self.applied else Effect.ABSENT, detail="read")

    def spec(self, *, idempotent: bool = True) -> ActionSpec:
        return ActionSpec(
            key="fake.contain_device",
            fn=self.run,
            inputs=HostInput,
            target=TargetKind.HOST,
            description="Contain (fake).",
            reader=self.read,
            inverse_declared=True,
            idempotent=idempotent,
        )

    @property
    def calls(self) -> int:
        return self.events.count("call")


def _send_with(
    vendor: Vendor, timing: Timing, *, idempotent: bool = True, fence: list[bool] | None = None
) -> tuple[Any, list[str]]:
    clock = RecordingClock(vendor.events)
    ctx = ActionContext(tenant="t1", incident_id="i1", http=HttpPool(clock))
    answers = iter(fence or [])

    async def still_ours() -> bool:
        return next(answers, True)

    done = asyncio.run(_send(vendor.spec(idempotent=idempotent), TARGET, ctx, timing, still_ours))
    return done, vendor.events


# -- what is retried, and how long the worker waits ----------------------------------------------------------


def test_transient_failures_are_retried_with_capped_jittered_exponential_waits_on_the_pools_clock() -> None:
    boom = [TransientError(f"503 #{n}") for n in range(4)]
    # Ceilings 1, 2, 4→3 (the cap); the fake clock's jitter is one half.
    done, events = _send_with(Vendor(*boom), Timing(attempts=4, backoff=1.0, backoff_max=3.0))

    assert events == ["call", "sleep 0.5", "call", "sleep 1", "call", "sleep 1.5", "call"]
    assert (done.status, done.detail) == ("failed", "TransientError after 4 attempts: 503 #3")


def test_a_failure_that_clears_succeeds_on_a_later_attempt() -> None:
    done, events = _send_with(Vendor(TransientError("timeout")), Timing(attempts=3, backoff=1.0))

    assert events == ["call", "sleep 0.5", "call"]
    assert (done.status, done.detail) == ("succeeded", "contained")


def test_a_single_attempt_is_never_retried() -> None:
    done, events = _send_with(Vendor(TransientError("timeout")), Timing(attempts=1))

    assert events == ["call"]
    assert done.detail == "TransientError after 1 attempts: timeout"


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (CircuitOpen("fakevendor: circuit open", retry_after=30), "CircuitOpen: fakevendor: circuit open"),
        (TargetNotFound("no such host"), "TargetNotFound: no such host"),
        (ValueError("adapter bug"), "adapter error ValueError: adapter bug"),
    ],
)
def test_an_open_circuit_a_permanent_error_or_a_bug_fails_at_once(error: Exception, detail: str) -> None:
    done, events = _send_with(Vendor(error), Timing(attempts=3), idempotent=False)

    assert events == ["call"]  # no wait, no second call, and no look (an open circuit sent nothing)
    assert (done.status, done.detail) == ("failed", detail)


# -- a call that may have landed is looked at before it is sent again ---------------------------------------


def test_a_non_idempotent_call_that_failed_is_looked_at_before_each_new_attempt() -> None:
    vendor = Vendor(TransientError("timeout"), TransientError("timeout"))

    done, events = _send_with(vendor, Timing(attempts=2, backoff=1.0), idempotent=False)

    # Looked at after every failure, the last one too; the wait comes after the look.
    assert events == ["call", "read", "sleep 0.5", "call", "read"]
    assert done.detail == "TransientError after 2 attempts: timeout"


def test_a_non_idempotent_call_found_in_place_is_not_sent_again() -> None:
    vendor = Vendor(TransientError("read timed out"), lands=True)

    done, events = _send_with(vendor, Timing(attempts=3, backoff=1.0), idempotent=False)

    assert events == ["call", "read"]
    assert done.status == "succeeded" and done.detail.startswith("reconciled (TransientError on attempt 1")


def test_a_429_is_sent_again_without_a_look_the_limiter_holds_it() -> None:
    vendor = Vendor(RateLimited("slow down", retry_after=30))

    done, events = _send_with(vendor, Timing(attempts=3, backoff=1.0), idempotent=False)

    assert events == ["call", "sleep 0.5", "call"]  # Retry-After is the shared limiter's wait, not ours
    assert done.status == "succeeded"


def test_an_idempotent_call_is_sent_again_without_a_look() -> None:
    done, events = _send_with(Vendor(TransientError("timeout")), Timing(attempts=3, backoff=1.0))

    assert "read" not in events and done.status == "succeeded"


# -- the lease while retrying --------------------------------------------------------------------------------


def test_a_worker_that_lost_its_claim_between_attempts_does_not_send_again() -> None:
    vendor = Vendor(TransientError("timeout"))

    done, events = _send_with(vendor, Timing(attempts=3, backoff=1.0), fence=[True, False])

    assert events == ["call", "sleep 0.5"]
    assert (done.status, done.detail) == ("pending", "claim lost before sending; its new owner settles it")


def _incident(store: Store) -> str:
    document = {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "t1", "product": {"name": "edr"}, "uid": "retry-1"},
        "finding_info": {"uid": "retry-1", "title": "retry"},
        "device": {"hostname": "WS-1"},
    }
    return store.record_alert(Alert.model_validate(document), document).incident_id


def _rival_claim(store: Store, incident_id: str) -> Any:
    return store.ledger.claim(
        tenant="t1",
        incident_id=incident_id,
        action="fake.contain_device",
        target="WS-1",
        inputs={"hostname": "WS-1"},
        inverse=None,
        owner="rival",
        lease_seconds=30,
    )


def _execute_with_a_rival(
    store: Store, vendor: Vendor, timing: Timing, rival_after: float
) -> tuple[Any, Any, str]:
    """Act on WS-1 while a rival worker tries to claim the same key ``rival_after`` seconds into the
    wait before the retry (timed from the wait, so a slow machine cannot move it)."""
    incident_id = _incident(store)

    async def race() -> tuple[Any, Any]:
        clock = SteadyClock()
        ctx = ActionContext(tenant="t1", incident_id=incident_id, db=store.engine, http=HttpPool(clock))
        acting = asyncio.create_task(execute(vendor.spec(), TARGET, ctx, store, timing=timing))
        await asyncio.wait_for(clock.waiting.wait(), timeout=10)  # a regression fails, not hangs
        await asyncio.sleep(rival_after)
        rival = await asyncio.to_thread(_rival_claim, store, incident_id)
        outcome = await acting
        assert clock.waits == [timing.backoff]  # one wait, the whole ceiling
        return outcome, rival

    outcome, rival = asyncio.run(race())
    return outcome, rival, incident_id


def test_the_lease_is_renewed_while_a_transient_failure_waits_for_its_retry(store: Store) -> None:
    vendor = Vendor(TransientError("timeout"))
    # The wait (0.9 s) outlasts the lease (0.3 s) three times over: only the heartbeat keeps the key ours.
    timing = Timing(lease=0.3, heartbeat=0.05, attempts=2, backoff=0.9, backoff_max=0.9)

    outcome, rival, incident_id = _execute_with_a_rival(store, vendor, timing, rival_after=0.5)

    assert not rival.claimed and rival.status == "pending"  # the rival found a live lease mid-wait
    assert vendor.calls == 2 and outcome.status == "succeeded"
    [row] = store.ledger.rows(incident_id)
    assert (row.status, row.owner) == ("succeeded", None)


def test_a_worker_whose_lease_ran_out_while_waiting_stops_and_leaves_the_key_to_its_new_owner(
    store: Store,
) -> None:
    vendor = Vendor(TransientError("timeout"))
    # No heartbeat within the wait (0.6 s): the lease (0.1 s) runs out, a rival takes the key 0.25 s in.
    timing = Timing(lease=0.1, heartbeat=5.0, attempts=2, backoff=0.6, backoff_max=0.6)

    outcome, rival, incident_id = _execute_with_a_rival(store, vendor, timing, rival_after=0.25)

    assert rival.claimed and rival.resumed
    assert vendor.calls == 1  # the fence stopped the second send
    assert (outcome.status, outcome.hold) == ("pending", "pending")
    assert outcome.detail == "claim lost while acting; re-checked by its new owner"
    [row] = store.ledger.rows(incident_id)
    assert (row.status, row.owner) == ("pending", "rival")
