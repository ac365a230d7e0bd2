"""Errors raised by response and intel adapters.

ActionError                 anything an adapter reports as a failure
├── TransientError          worth retrying (timeouts, 429, 5xx); the engine retries in one place
│   ├── RateLimited         the vendor answered 429 (``retry_after`` says how long it asked us to wait)
│   └── CircuitOpen         too many recent failures for this (tenant, vendor): failing fast, no call made
└── PermanentError          retrying will not help (4xx, bad input, vendor refused)
    ├── VendorRejected      the vendor answered 4xx (``status_code``; the message carries its text, scrubbed)
    ├── TargetNotFound      the target matched no device/object, or more than one
    ├── MissingSecret       a declared secret has no value for this tenant
    └── PolicyViolation     a guardrail refused the action (protected asset, never-block list, empty filter …)

Messages never contain secret values: the HTTP layer scrubs vendor text before it builds one.
"""

from __future__ import annotations


class ActionError(Exception):
    """Base of every adapter failure."""


class TransientError(ActionError):
    """A failure that may pass: the engine may retry it.

    ``retry_after`` (seconds) is the earliest useful retry when the vendor or the circuit breaker said so;
    the shared rate limiter already holds later calls back until then, so a retry simply queues.
    """

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """The vendor answered 429 Too Many Requests."""


class CircuitOpen(TransientError):
    """The circuit breaker for this (tenant, vendor) is open: no request was sent."""


class PermanentError(ActionError):
    """A failure that retrying cannot fix."""


class VendorRejected(PermanentError):
    """The vendor refused the request (HTTP 4xx or an error status in the body)."""

    def __init__(self, message: str = "", *, status_code: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code  # the vendor's own error code, e.g. MDE ``ActiveRequestAlreadyExists``


class TargetNotFound(PermanentError):
    """Zero or several matches for a target that must match exactly one."""


class MissingSecret(PermanentError):
    """A secret the action declared is not configured."""


class PolicyViolation(PermanentError):
    """A guardrail refused the action."""
