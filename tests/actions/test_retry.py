"""The one retry layer: a policy says how often, how long and for which errors; tenacity runs the call.
Only what the policy names is retried, the last failure is raised as it is, waits are on the given clock."""

from __future__ import annotations

import asyncio
import random

import pytest

from actions import (
    Backoff,
    CircuitOpen,
    PermanentError,
    RateLimited,
    RetryPolicy,
    TransientError,
    retry_async,
    retry_sync,
)
from actions.intel._lookup import RETRY as INTEL_RETRY
from tests.actions._support import FakeClock


class Flaky:
    """Raises the queued errors one call each, then answers with what it was called with."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, value: str, *, suffix: str = "") -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return value + suffix

    async def later(self, value: str, *, suffix: str = "") -> str:
        await asyncio.sleep(0)
        return self(value, suffix=suffix)


# -- the policy ---------------------------------------------------------------------------------------------


def test_backoff_ceilings_double_up_to_the_maximum() -> None:
    backoff = Backoff(base=0.5, maximum=5.0)

    assert [backoff.ceiling(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.ceiling(10_000) == 5.0  # no overflow on a very long run


def test_a_delay_is_a_random_part_of_the_ceiling_from_the_clock_or_the_random_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = RetryPolicy(backoff=Backoff(base=1.0, maximum=3.0))
    monkeypatch.setattr(random, "random", lambda: 0.25)

    assert [policy.delay(n) for n in (1, 2, 3)] == [0.25, 0.5, 0.75]
    assert [policy.on(FakeClock(jitter=0.5)).delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]
    assert RetryPolicy().delay(3) == 0.0  # no backoff: again at once


def test_only_transient_errors_are_retried_by_default_and_give_up_on_wins() -> None:
    policy = RetryPolicy(give_up_on=(CircuitOpen,))

    assert policy.retryable(TransientError("503")) and policy.retryable(RateLimited("429"))
    assert not policy.retryable(CircuitOpen("open"))
    assert not policy.retryable(PermanentError("400")) and not policy.retryable(ValueError("bug"))


@pytest.mark.parametrize("attempts", [0, -1])
def test_a_policy_makes_at_least_one_attempt(attempts: int) -> None:
    with pytest.raises(ValueError, match="at least one attempt"):
        RetryPolicy(attempts=attempts)


def test_a_backoff_never_waits_a_negative_time() -> None:
    with pytest.raises(ValueError, match="zero seconds or more"):
        Backoff(base=-1, maximum=2)


def test_intel_asks_again_at_once_three_times_at_most_but_never_after_an_open_circuit() -> None:
    assert (INTEL_RETRY.attempts, INTEL_RETRY.backoff, INTEL_RETRY.clock) == (3, None, None)
    assert INTEL_RETRY.retryable(RateLimited("429")) and not INTEL_RETRY.retryable(CircuitOpen("open"))


# -- async calls ------------------------------------------------------------------------------------------


def test_an_async_call_is_retried_with_its_arguments_and_answers_once_it_succeeds() -> None:
    flaky = Flaky(TransientError("503"), RateLimited("429"))

    answer = asyncio.run(retry_async(RetryPolicy(attempts=3), flaky.later, "ok", suffix="!"))

    assert answer == "ok!" and flaky.calls == 3


def test_the_last_failure_is_raised_as_it_is_when_the_attempts_are_spent() -> None:
    last = TransientError("503 #3")
    flaky = Flaky(TransientError("503 #1"), TransientError("503 #2"), last)

    with pytest.raises(TransientError) as raised:
        asyncio.run(retry_async(RetryPolicy(attempts=3), flaky.later, "x"))

    assert raised.value is last and flaky.calls == 3  # not tenacity's RetryError


@pytest.mark.parametrize("error", [CircuitOpen("open"), PermanentError("400"), ValueError("bug")])
def test_what_the_policy_does_not_name_is_raised_at_the_first_failure(error: Exception) -> None:
    flaky = Flaky(error)

    with pytest.raises(type(error)):
        asyncio.run(retry_async(RetryPolicy(attempts=3, give_up_on=(CircuitOpen,)), flaky.later, "x"))

    assert flaky.calls == 1


def test_waits_are_slept_on_the_policys_clock() -> None:
    clock = FakeClock(jitter=0.5)
    flaky = Flaky(*(TransientError("503") for _ in range(3)))
    policy = RetryPolicy(attempts=4, backoff=Backoff(base=1.0, maximum=1.5), clock=clock)

    asyncio.run(retry_async(policy, flaky.later, "x"))

    assert clock.sleeps == [0.5, 0.75, 0.75] and all(type(s) is float for s in clock.sleeps)
    assert clock.now == 1000.0 + 2.0  # virtual time: the test did not wait


def test_without_a_backoff_the_next_attempt_is_made_at_once() -> None:
    clock = FakeClock()
    flaky = Flaky(TransientError("503"), TransientError("503"))

    asyncio.run(retry_async(RetryPolicy(attempts=3, clock=clock), flaky.later, "x"))

    assert clock.sleeps == [0.0, 0.0] and clock.now == 1000.0


def test_a_cancelled_call_is_not_retried() -> None:
    calls = 0

    async def hangs() -> None:
        nonlocal calls
        calls += 1
        await asyncio.Event().wait()

    async def cancel_it() -> None:
        task = asyncio.create_task(retry_async(RetryPolicy(attempts=3, retry_on=(Exception,)), hangs))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_it())

    assert calls == 1


# -- blocking calls -----------------------------------------------------------------------------------------


def test_a_blocking_call_is_retried_and_raises_its_last_failure() -> None:
    assert retry_sync(RetryPolicy(attempts=2), Flaky(TransientError("503")), "ok", suffix="?") == "ok?"
    flaky = Flaky(OSError("reset"), OSError("reset again"))

    with pytest.raises(OSError, match="reset again"):
        retry_sync(RetryPolicy(attempts=2, retry_on=(OSError,)), flaky, "x")

    assert flaky.calls == 2


def test_a_blocking_call_waits_with_time_sleep_and_takes_no_clock() -> None:
    with pytest.raises(ValueError, match="cannot take a clock"):
        retry_sync(RetryPolicy(clock=FakeClock()), Flaky(), "x")
