"""The respond flow and its steps."""

from ._approvals import approve, run_approved
from ._flow import RespondRequest, respond
from ._gate import AnalystDecision
from ._plan import plan_incident
from ._reconcile import reconcile
from ._rollback import rollback_incident, rollback_steps

__all__ = [
    "AnalystDecision",
    "RespondRequest",
    "approve",
    "plan_incident",
    "reconcile",
    "respond",
    "rollback_incident",
    "rollback_steps",
    "run_approved",
]
