"""The respond flow and its steps."""

from ._act import act_on_incident, settle
from ._approvals import approval_link, approve, current_action_hash
from ._choice import foresee, playbook_for
from ._escalation import chain_state, waiting_since, walk_escalations
from ._flow import RespondRequest, respond
from ._gate import AnalystDecision
from ._plan import plan_incident
from ._reconcile import reconcile
from ._rollback import rollback_incident, rollback_steps
from ._steps import incident_indicators

__all__ = [
    "act_on_incident",
    "settle",
    "AnalystDecision",
    "RespondRequest",
    "approval_link",
    "approve",
    "current_action_hash",
    "foresee",
    "incident_indicators",
    "chain_state",
    "waiting_since",
    "walk_escalations",
    "plan_incident",
    "playbook_for",
    "reconcile",
    "respond",
    "rollback_incident",
    "rollback_steps",
]
