"""Errors raised by response and intel adapters.

ActionError                 anything an adapter reports as a failure
├── TransientError          worth retrying (timeouts, 429, 5xx); the engine retries in one place
└── PermanentError          retrying will not help (4xx, bad input, vendor refused)
    ├── TargetNotFound      the target matched no device/object, or more than one
    ├── MissingSecret       a declared secret has no value for this tenant
    └── PolicyViolation     a guardrail refused the action (protected asset, never-block list …)
"""

from __future__ import annotations


class ActionError(Exception):
    """Base of every adapter failure."""


class TransientError(ActionError):
    """A failure that may pass: the engine may retry it."""


class PermanentError(ActionError):
    """A failure that retrying cannot fix."""


class TargetNotFound(PermanentError):
    """Zero or several matches for a target that must match exactly one."""


class MissingSecret(PermanentError):
    """A secret the action declared is not configured."""


class PolicyViolation(PermanentError):
    """A guardrail refused the action."""
