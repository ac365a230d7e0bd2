"""Pluggable action adapters: response actions (lab, and vendors later) behind one registry.

Depends on nothing in ``flows``. An adapter is an async function registered with ``@action``.
"""

from ._context import ActionContext
from ._errors import (
    ActionError,
    MissingSecret,
    PermanentError,
    PolicyViolation,
    TargetNotFound,
    TransientError,
)
from ._registry import ENTRY_POINT_GROUP, ActionSpec, Registry, TargetKind, action, registry
from ._result import ActionResult, ActionStatus

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionContext",
    "ActionError",
    "ActionResult",
    "ActionSpec",
    "ActionStatus",
    "MissingSecret",
    "PermanentError",
    "PolicyViolation",
    "Registry",
    "TargetKind",
    "TargetNotFound",
    "TransientError",
    "action",
    "registry",
]
