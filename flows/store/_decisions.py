"""An analyst's decision on a gray incident, as the store keeps it (``Store.record_decision`` and
``Store.decide_waiting``): the verdict, the analyst's reason beside triage's, a timeline line and an audit
entry; on an incident that waits with no run behind it, a new response round that acts on the decision."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from flows.models import Reason, VerdictLabel

from ._audit import append_audit
from ._lifecycle import check_transition
from ._rows import aware, note
from ._schema import IncidentRow, IncidentStatus, utcnow


def record_decision(
    engine: Engine, incident_id: str, verdict: VerdictLabel, analyst: str, comment: str, waited_seconds: float
) -> None:
    finding, reason = _decision_reason(verdict, analyst, comment)
    with Session(engine) as session, session.begin():
        row = session.get_one(IncidentRow, incident_id, with_for_update=True)
        # A decision that comes after the incident was closed meanwhile (the escalation chain's default, a
        # lab reset) must not bring it back to triage: the lifecycle refuses, and nothing is recorded.
        check_transition(incident_id, row.status, IncidentStatus.TRIAGING)
        row.verdict = verdict
        row.reasons = [*(row.reasons or []), reason.model_dump()]
        row.status = IncidentStatus.TRIAGING
        note(
            session,
            incident_id,
            "decision",
            f"{finding} (after {waited_seconds:.0f} s)",
            analyst=analyst,
            verdict=verdict.value,
            comment=comment,
            waited_seconds=round(waited_seconds, 3),
            status=IncidentStatus.TRIAGING,
        )
        append_audit(session, analyst, f"decision.{verdict.value}", incident_id, {"comment": comment})


def decide_waiting(
    engine: Engine, incident_id: str, verdict: str, analyst: str, comment: str, run_over: bool = False
) -> str:
    with Session(engine) as session, session.begin():
        row = session.get(IncidentRow, incident_id, with_for_update=True)
        if row is None:
            raise ValueError(f"no incident {incident_id}")
        # ``run_over``: Prefect says the incident's run is in a final state though it never ended its
        # round (it crashed while paused for this decision): the incident waits all the same.
        if row.status != IncidentStatus.AWAITING_APPROVAL or (row.run_ended_at is None and not run_over):
            raise ValueError(
                f"incident {incident_id[:8]} is not waiting for a decision (status {row.status})"
            )
        # How long the incident waited for a person (its run ended when it began to wait): for MTTA.
        waited = max(0.0, (utcnow() - aware(row.run_ended_at or row.updated_at)).total_seconds())
        said: dict[str, Any] = {
            "analyst": analyst,
            "verdict": verdict,
            "comment": comment,
            "waited_seconds": round(waited, 3),
        }
        if verdict == "escalate":
            message = f"analyst {analyst} escalated it" + (f": {comment}" if comment else "")
        else:
            check_transition(incident_id, row.status, IncidentStatus.REOPENED)
            finding, reason = _decision_reason(VerdictLabel(verdict), analyst, comment)
            row.decided_verdict = verdict
            row.verdict = verdict
            row.reasons = [*(row.reasons or []), reason.model_dump()]
            row.status, row.round, row.flow_run_id = IncidentStatus.REOPENED, (row.round or 1) + 1, None
            message = f"{finding}: new response round {row.round}"
            said["round"] = row.round
        note(session, incident_id, "decision", message, **said)
        append_audit(session, analyst, f"decision.{verdict}", incident_id, {"comment": comment})
        return message


def decided_verdict(engine: Engine, incident_id: str) -> str | None:
    with Session(engine) as session:
        row = session.get(IncidentRow, incident_id)
        return row.decided_verdict if row is not None else None


def _decision_reason(verdict: VerdictLabel, analyst: str, comment: str) -> tuple[str, Reason]:
    finding = f"analyst {analyst} decided {verdict}" + (f": {comment}" if comment else "")
    return finding, Reason(
        question="What did the analyst decide?",
        finding=finding,
        effect=0,
        code="analyst_decision",
        params={"analyst": analyst, "verdict": verdict.value, "comment": comment},
    )
