"""The one retry layer (STYLE rule 4): a policy says how often, how long to wait and for which errors, and
tenacity runs a call under it. Every retry in Garrison goes through here, each caller with its own policy:

- intel lookups (``actions.intel``): 3 attempts and no wait of ours (the shared rate limiter holds the
  next call past the vendor's Retry-After); an open circuit is not retried (no call was made);
- response actions (``flows.respond``): ``Timing.attempts``, full-jitter exponential backoff on the HTTP
  pool's clock, an open circuit not retried;
- notifications (``flows.notify``): 3 attempts, full-jitter backoff of at most 2 s, on its own transient
  error (apprise reports HTTP failures, not our error tree).

Only what a policy names is retried; anything else (and the last failure) is raised as it is, never
wrapped in tenacity's ``RetryError``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from ._errors import TransientError

if TYPE_CHECKING:
    from .http import Clock

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff: after failed attempt ``n``, wait a random part of
    ``min(maximum, base * 2 ** (n - 1))`` seconds (spreads retries that failed together).

    >>> [Backoff(base=0.5, maximum=5).ceiling(n) for n in (1, 2, 3, 4, 5)]
    [0.5, 1.0, 2.0, 4.0, 5]
    """

    base: float
    maximum: float

    def __post_init__(self) -> None:
        if self.base < 0 or self.maximum < 0:
            raise ValueError("a backoff waits zero seconds or more")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt ``attempt`` (1 is the first call)."""
        # The exponent is capped so a very long run cannot overflow a float; the maximum applies long before.
        return min(self.maximum, self.base * 2.0 ** min(attempt - 1, 256))


@dataclass(frozen=True)
class RetryPolicy:
    """How one caller retries: at most ``attempts`` calls (the first one included), ``backoff`` between
    them (None: again at once, when something else such as the rate limiter holds the next call), for
    errors of ``retry_on`` except those of ``give_up_on`` (exceptions only: a cancellation is never
    retried). Waits and their jitter come from ``clock`` (the HTTP pool's, a fake one in tests); None uses
    the real ones.

    >>> INTEL = RetryPolicy(attempts=3, give_up_on=(CircuitOpen,))
    >>> records = await retry_async(INTEL, provider.lookup, indicator)
    """

    attempts: int = 3
    backoff: Backoff | None = None
    retry_on: tuple[type[Exception], ...] = (TransientError,)
    give_up_on: tuple[type[Exception], ...] = ()
    clock: Clock | None = None

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a retry policy makes at least one attempt, not {self.attempts}")

    def retryable(self, error: BaseException) -> bool:
        """Whether ``error`` may be retried (attempts left permitting)."""
        return isinstance(error, self.retry_on) and not isinstance(error, self.give_up_on)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1 is the first call) before the next one."""
        if self.backoff is None:
            return 0.0
        chance = self.clock.random() if self.clock is not None else random.random()
        return self.backoff.ceiling(attempt) * chance

    def on(self, clock: Clock) -> RetryPolicy:
        """The same policy, waiting on ``clock``."""
        return replace(self, clock=clock)


async def retry_async(
    policy: RetryPolicy, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """Await ``fn(*args, **kwargs)``, again after each retryable failure while ``policy`` allows; the
    last failure, or the first one not to retry, is raised as it is.

    >>> await retry_async(RetryPolicy(attempts=2), spec.run, inputs, ctx)
    """
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=_wait(policy),
        retry=retry_if_exception(policy.retryable),
        sleep=_async_sleep(policy.clock),
        reraise=True,
    ):
        with attempt:
            return await fn(*args, **kwargs)
    raise AssertionError("unreachable")  # pragma: no cover - reraise=True raises the last failure


def retry_sync(policy: RetryPolicy, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``retry_async`` for a blocking call; it waits with ``time.sleep``, so its policy has no clock.

    >>> retry_sync(RetryPolicy(attempts=3, backoff=Backoff(0.25, 2), retry_on=(OSError,)), send, message)
    """
    if policy.clock is not None:
        raise ValueError("a blocking call waits with time.sleep: its retry policy cannot take a clock")
    for attempt in Retrying(
        stop=stop_after_attempt(policy.attempts),
        wait=_wait(policy),
        retry=retry_if_exception(policy.retryable),
        reraise=True,
    ):
        with attempt:
            return fn(*args, **kwargs)
    raise AssertionError("unreachable")  # pragma: no cover - reraise=True raises the last failure


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    # tenacity asks after failed attempt n with ``attempt_number`` still n.
    return lambda state: policy.delay(state.attempt_number)


def _async_sleep(clock: Clock | None) -> Callable[[float], Awaitable[None]]:
    if clock is None:
        return asyncio.sleep

    async def sleep(seconds: float) -> None:
        await clock.sleep(float(seconds))  # tenacity passes its own float subclass

    return sleep
