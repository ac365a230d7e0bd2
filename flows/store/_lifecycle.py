"""The incident lifecycle: which status an incident may take next, and the one check every write obeys.

How an incident lives, as an analyst sees it. The usual path is

    new -> triaging -> responding -> contained -> closed

(a benign incident goes from triaging straight to closed), and every status it may take next is

    status             may become
    new                triaging, awaiting_approval
    triaging           responding, awaiting_approval, closed, reopened
    responding         contained, awaiting_approval, triaging, reopened
    awaiting_approval  triaging, responding, contained, closed, reopened
    contained          closed, reopened, responding, awaiting_approval
    closed             reopened
    reopened           triaging, awaiting_approval

- **new**: the intake opened it; no respond run has taken it yet.
- **triaging**: a run claimed it and enriches and classifies it. A benign verdict closes it from here.
- **awaiting_approval**: a person must look: a gray verdict, containment held by a guardrail, an approval
  or the vendor, a tenant that contains only on an analyst's word, or a run that could not finish. An
  analyst's decision sends it back to triaging (the paused run goes on) or starts a new round (reopened).
- **responding**: containment started; it ends contained, or awaiting a person when an action is held.
- **contained**: every action is in place; the close step closes it, unless its verdict says an analyst
  must see it (then it stays contained and the analysts are told).
- **closed**: done. Only news (a related alert) brings it back, as reopened.
- **reopened**: a new response round, round + 1: news arrived (a new host, indicator, technique, a higher
  severity, the detection again after containment), an analyst decided while no run waited, or the
  approvals of a held action are complete. A new run claims it, exactly as a new incident.

An incident never goes back to new, and nothing skips the response: no status becomes contained but from
responding or from waiting on its actions. Keeping the same status is always allowed: the step's note goes
on the timeline and nothing else changes. Anything else raises ``IllegalTransition``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ._schema import IncidentStatus

_S = IncidentStatus

ALLOWED_TRANSITIONS: Mapping[IncidentStatus, frozenset[IncidentStatus]] = MappingProxyType(
    {
        _S.NEW: frozenset(
            {
                _S.TRIAGING,  # a respond run claims it
                _S.AWAITING_APPROVAL,  # no run could start or finish it: the dispatcher hands it to a person
            }
        ),
        _S.TRIAGING: frozenset(
            {
                _S.RESPONDING,  # an act step starts containment
                _S.AWAITING_APPROVAL,  # a gray verdict, the auto_contain gate, or closing needs an analyst
                _S.CLOSED,  # benign, nothing to do: the close step
                # News for an incident whose run ended while triaging (a dry run, a playbook without a
                # close step), or that arrived during the run (``end_run``): a new round.
                _S.REOPENED,
            }
        ),
        _S.RESPONDING: frozenset(
            {
                _S.CONTAINED,  # every action is in place (settle, or reconcile once the vendor confirms)
                _S.AWAITING_APPROVAL,  # an action held by a guardrail, an approval or the vendor, or failed
                # The same flow run retried after it crashed mid-containment claims the incident again and
                # starts over at triage; the ledger keeps its actions from running twice.
                _S.TRIAGING,
                _S.REOPENED,  # news for a round whose run stopped mid-containment: it starts over
            }
        ),
        _S.AWAITING_APPROVAL: frozenset(
            {
                _S.TRIAGING,  # the analyst decided while the run waited (or the same run is retried)
                # A later act step of the same playbook acts on what was not held.
                _S.RESPONDING,
                _S.CONTAINED,  # the held actions were approved or confirmed late (reconcile)
                _S.CLOSED,  # the escalation chain's default closes unknown as benign; a demo lab reset
                _S.REOPENED,  # a decision or complete approvals with no run waiting, or news: a new round
            }
        ),
        _S.CONTAINED: frozenset(
            {
                _S.CLOSED,  # the close step, or a demo lab reset
                _S.REOPENED,  # news, or the detection again after containment
                _S.RESPONDING,  # a later act step of the same playbook
                _S.AWAITING_APPROVAL,  # an escalate step after containment: a person looks at it
            }
        ),
        _S.CLOSED: frozenset({_S.REOPENED}),  # a related alert within the lookback reopens it
        _S.REOPENED: frozenset(
            {
                _S.TRIAGING,  # the new round's run claims it
                _S.AWAITING_APPROVAL,  # no run could start or finish the round: a person looks
            }
        ),
    }
)

# Statuses whose incident waits for a respond run to claim it (the dispatcher's sweep looks for these).
WAITING_FOR_RUN: tuple[IncidentStatus, ...] = (IncidentStatus.NEW, IncidentStatus.REOPENED)


class IllegalTransition(ValueError):
    """An incident's status may not change this way (see ``ALLOWED_TRANSITIONS``).

    >>> str(IllegalTransition("5f0c9a12", "closed", "responding"))
    'incident 5f0c9a12: status may not go from closed to responding'
    """

    def __init__(self, incident_id: str, current: str, wanted: str) -> None:
        self.incident_id, self.current, self.wanted = incident_id, str(current), str(wanted)
        super().__init__(
            f"incident {incident_id[:64]}: status may not go from {self.current[:32]} to {self.wanted[:32]}"
        )


def may_become(current: str, wanted: str) -> bool:
    """Whether an incident in ``current`` may take ``wanted`` next (the same status always may).
    A status the lifecycle does not know (a row written by hand) may become nothing but itself."""
    if current == wanted:
        return True
    try:
        return IncidentStatus(wanted) in ALLOWED_TRANSITIONS.get(IncidentStatus(current), frozenset())
    except ValueError:
        return False


def check_transition(incident_id: str, current: str, wanted: str) -> None:
    """Raise ``IllegalTransition`` unless an incident in ``current`` may take ``wanted`` next."""
    if not may_become(current, wanted):
        raise IllegalTransition(incident_id, current, wanted)


def may_enter(wanted: IncidentStatus) -> tuple[IncidentStatus, ...]:
    """The statuses that may become ``wanted`` (itself included), for the WHERE clause of a bulk UPDATE
    that must obey the table too."""
    return tuple(status for status in IncidentStatus if may_become(status, wanted))
