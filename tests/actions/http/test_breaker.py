"""The circuit breaker opens after repeated failures, fails fast, and lets one trial through later."""

from __future__ import annotations

import pytest

from actions import CircuitOpen, TransientError
from actions.http import BreakerState, CircuitBreaker
from tests.actions._support import FakeClock


def _breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("acme (tenant t1)", threshold=3, cooldown=30.0, clock=clock)


def test_it_opens_after_the_threshold_and_fails_fast(clock: FakeClock) -> None:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as caught:
        breaker.check()
    assert isinstance(caught.value, TransientError)
    assert caught.value.retry_after == pytest.approx(30.0)


def test_a_success_resets_the_count(clock: FakeClock) -> None:
    breaker = _breaker(clock)
    for outcome in ("fail", "fail", "ok", "fail", "fail"):
        breaker.before_call()
        breaker.record_failure() if outcome == "fail" else breaker.record_success()

    assert breaker.state is BreakerState.CLOSED


def test_after_the_cooldown_one_trial_call_is_allowed(clock: FakeClock) -> None:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30.0)

    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # the trial
    with pytest.raises(CircuitOpen, match="trial call is in flight"):
        breaker.before_call()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()


def test_a_failed_trial_opens_it_again(clock: FakeClock) -> None:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(31.0)
    breaker.before_call()

    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call()


def test_a_neutral_answer_frees_the_trial_slot(clock: FakeClock) -> None:
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    clock.advance(30.0)
    breaker.before_call()

    breaker.record_neutral()  # e.g. a 429: says nothing about health

    breaker.before_call()  # a new trial may go
