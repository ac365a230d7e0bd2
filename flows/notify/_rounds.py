"""An incident's response rounds: what started each one, what each found and did, and what was done at all.

A closed incident that is reopened (the re-check found persistence back, a related alert, an analyst's
decision, complete approvals) runs ``respond`` again: a new response round, whose ledger rows are keyed
by the round (``flows.store.idempotency_key``), so the same host is isolated again and the same Run-key
values removed again. The store marks each round's start on the timeline (``data["round"]``). A report
tells each round once, in order, and counts the objects acted on, not the rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flows.store import ActionView, IncidentView, TimelineEntry, idempotency_key

# The wording the store and the re-check wrap a round's reason in (``_retriage``, ``_decisions``,
# ``_approvals``): the report says it in the reader's language (``round.start.<step>``) instead.
_WRAPPED = re.compile(
    r"^(?:re-check: reopened: |reopened by a related alert: |re-triage: |new response round: "
    r"|approvals complete for )|(?: \(new response round \d+\)|: new response round \d+"
    r"|: response round \d+ does the action)$"
)


@dataclass
class Round:
    number: int
    started_at: datetime
    step: str = ""  # the timeline step that started it: recheck, intake, retriage, decision, approve
    why: list[str] = field(default_factory=list)  # raw English text from the store, made inert later
    said: dict[str, Any] = field(default_factory=dict)  # the starting line's data (an analyst's decision)
    actions: list[ActionView] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)

    @property
    def verdict(self) -> str | None:
        """The verdict this round's triage (or analyst) gave, if it gave one."""
        found = [str(e.data["verdict"]) for e in self.timeline if e.step in ("classify", "decision")
                 and isinstance(e.data.get("verdict"), str) and e.data["verdict"] != "escalate"]  # fmt: skip
        return found[-1] if found else None


def rounds(incident: IncidentView) -> list[Round]:
    """The incident's response rounds, in order; every timeline line and ledger row in exactly one."""
    found = [Round(1, incident.created_at)]
    for entry in incident.timeline:
        number = entry.data.get("round")
        if isinstance(number, int) and not isinstance(number, bool) and number > found[-1].number:
            found.append(Round(number, entry.at, entry.step, _why(entry), dict(entry.data)))
        found[-1].timeline.append(entry)
    for action in incident.actions:
        number = _round_of(incident, action)
        if number is None:  # not keyed by round (a rollback): the round it was last touched in
            holder = next((r for r in reversed(found) if r.started_at <= action.updated_at), found[0])
        else:  # a round the timeline does not mark (older incidents) belongs with the one before it
            holder = next(r for r in reversed(found) if r.number <= number)
        holder.actions.append(action)
    return found


def distinct(actions: Sequence[ActionView]) -> list[ActionView]:
    """One row per action and target, the latest round's (its status is the one that holds now), in the
    order they were first done."""
    latest: dict[tuple[str, str], ActionView] = {}
    for action in actions:  # the ledger's order: a later round's row comes later
        latest[(action.key, action.target)] = action
    return list(latest.values())


def _round_of(incident: IncidentView, action: ActionView) -> int | None:
    """The round the row was done in (``ActionView.round``), or None for a row not keyed by it: a
    rollback's key derives from the row it undoes (``undo_key``) and it keeps that row's round, yet it
    was done in whichever round was current then."""
    keyed = idempotency_key(incident.tenant, incident.id, action.key, action.target, action.round)
    return action.round if keyed == action.idempotency_key else None


def _why(entry: TimelineEntry) -> list[str]:
    listed = entry.data.get("reasons")  # the re-check names each thing it found
    if isinstance(listed, list) and listed:
        return [str(item) for item in listed[:10]]
    return [_WRAPPED.sub("", entry.message).strip()]
