"""Pluggable action adapters: response actions (lab, EDR, firewalls, Wazuh, OpenC2) behind one registry.

Depends on nothing in ``flows``. An adapter is an async function registered with ``@action`` under the
``Capability`` it provides; vendor adapters share the HTTP policy in ``actions.http`` and arrive through
the ``garrison.actions`` entry points. A tenant's ``Binding`` says which action does each capability.
Every retry, here and in the engine, goes through one layer: a ``RetryPolicy`` run by ``retry_async``
or ``retry_sync``.
"""

from ._binding import Binding, Unbound
from ._capabilities import Capability, TargetKind
from ._context import ActionContext
from ._errors import (
    ActionError,
    CircuitOpen,
    MissingSecret,
    PermanentError,
    PolicyViolation,
    RateLimited,
    TargetNotFound,
    TransientError,
    VendorRejected,
)
from ._registry import ENTRY_POINT_GROUP, ActionSpec, Registry, action, registry
from ._result import ActionResult, ActionStatus, Effect, TargetState
from ._retry import Backoff, RetryPolicy, retry_async, retry_sync
from ._secrets import SecretRef, require_secrets, resolve_secrets

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionContext",
    "ActionError",
    "ActionResult",
    "ActionSpec",
    "ActionStatus",
    "Backoff",
    "Binding",
    "Capability",
    "CircuitOpen",
    "Effect",
    "MissingSecret",
    "PermanentError",
    "PolicyViolation",
    "RateLimited",
    "Registry",
    "RetryPolicy",
    "SecretRef",
    "TargetKind",
    "TargetNotFound",
    "TargetState",
    "TransientError",
    "Unbound",
    "VendorRejected",
    "action",
    "registry",
    "require_secrets",
    "resolve_secrets",
    "retry_async",
    "retry_sync",
]
