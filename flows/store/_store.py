"""Every write and read of incidents, alerts, the action ledger and notifications goes through here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import case, delete, null, or_, select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session, selectinload

from flows.models import Alert, Indicator, Verdict, VerdictLabel

from . import _decisions, _retriage
from ._audit import AuditCheck, append_audit, check_audit, verify_audit
from ._engine import engine_for
from ._ingest import Accepted, GroupingRules, IncomingAlert, ingest
from ._ledger import Ledger
from ._lifecycle import WAITING_FOR_RUN, check_transition, may_enter
from ._rows import aware, note
from ._schema import (
    AlertRow,
    DeadLetterRow,
    IncidentRow,
    IncidentStatus,
    IndicatorRow,
    NotificationRow,
    utcnow,
)
from ._views import IncidentSummary, IncidentView, incident_summary, incident_view


@dataclass(frozen=True)
class AlertReceipt:
    alert_id: str
    incident_id: str
    duplicate: bool


DEAD_LETTER_LIMIT = 10_000
DEAD_LETTER_MAX_BODY = 65_536


class Store:
    """The Garrison store. Each method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(engine_for(url))

    # -- intake ----------------------------------------------------------------------------------------

    def record_alert(self, alert: Alert, document: dict[str, Any]) -> AlertReceipt:
        """Store one OCSF alert with the default grouping rules (see ``ingest`` for batches and policy)."""
        [accepted] = self.ingest([IncomingAlert(alert=alert, document=document)], GroupingRules())
        return AlertReceipt(
            alert_id=accepted.alert_id, incident_id=accepted.incident_id, duplicate=accepted.duplicate
        )

    def ingest(
        self,
        items: Sequence[IncomingAlert],
        rules: GroupingRules,
        signature: tuple[str, datetime] | None = None,
    ) -> list[Accepted]:
        """Store a batch of one tenant's alerts atomically, grouped into incidents (``_ingest``)."""
        return ingest(self.engine, items, rules, signature=signature)

    def alert_documents(self, incident_id: str) -> list[dict[str, Any]]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(AlertRow).where(AlertRow.incident_id == incident_id).order_by(AlertRow.received_at)
            )
            return [row.document for row in rows]

    # -- incidents -------------------------------------------------------------------------------------

    def incident(self, incident_id: str) -> IncidentView | None:
        with Session(self.engine) as session:
            row = session.scalar(
                select(IncidentRow)
                .where(IncidentRow.id == incident_id)
                .options(
                    selectinload(IncidentRow.indicators),
                    selectinload(IncidentRow.actions),
                    selectinload(IncidentRow.notifications),
                    selectinload(IncidentRow.timeline),
                )
            )
            return incident_view(row) if row else None

    def incident_id(self, given: str) -> str | None:
        """The full id of the incident ``given`` names: itself, or a unique prefix of 6 or more characters
        (as ``incidents list`` shows them, like git's short hashes); None if none or several match."""
        given = given.strip().lower()
        if len(given) < 6 or not all(c in "0123456789abcdef-" for c in given):
            return given if self.incident(given) is not None else None
        with Session(self.engine) as session:
            found = session.scalars(
                select(IncidentRow.id).where(IncidentRow.id.like(f"{given}%")).limit(2)
            ).all()
        return found[0] if len(found) == 1 else None

    def incidents(
        self, tenant: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[IncidentSummary]:
        query = select(IncidentRow).order_by(IncidentRow.created_at.desc()).limit(limit)
        if tenant:
            query = query.where(IncidentRow.tenant == tenant)
        if status:
            query = query.where(IncidentRow.status == status)
        with Session(self.engine) as session:
            return [incident_summary(row) for row in session.scalars(query)]

    def undispatched(self, older_than_seconds: float = 0.0) -> list[str]:
        """New or reopened incidents with no flow run yet (Prefect was down, or the trigger failed)."""
        cutoff = utcnow().timestamp() - older_than_seconds
        with Session(self.engine) as session:
            rows = session.scalars(
                select(IncidentRow)
                .where(
                    IncidentRow.status.in_(WAITING_FOR_RUN),
                    IncidentRow.flow_run_id.is_(None),
                )
                .order_by(IncidentRow.created_at)
            )
            return [row.id for row in rows if aware(row.created_at).timestamp() <= cutoff]

    def set_flow_run(self, incident_id: str, flow_run_id: str) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get_one(IncidentRow, incident_id)
            row.flow_run_id = flow_run_id
            note(session, incident_id, "dispatch", "respond flow run created", flow_run_id=flow_run_id)

    def claim(self, incident_id: str, flow_run_id: str) -> bool:
        """Take the incident for one flow run: new or reopened ones, or a retry of the same run.
        Two runs racing for one incident: exactly one wins, the other does nothing. A retry finds its
        incident only in a status that may go back to ``triaging`` (``ALLOWED_TRANSITIONS``): a contained or
        closed one is not triaged again by a rerun; news reopens it instead."""
        waiting = IncidentRow.status.in_(WAITING_FOR_RUN)
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(IncidentRow)
                .where(
                    IncidentRow.id == incident_id,
                    IncidentRow.status.in_(may_enter(IncidentStatus.TRIAGING)),
                    or_(waiting, IncidentRow.flow_run_id == flow_run_id),
                )
                .values(
                    status=IncidentStatus.TRIAGING,
                    flow_run_id=flow_run_id,
                    updated_at=utcnow(),
                    run_ended_at=None,
                    # A fresh run reads every alert, so a recorded re-triage request is answered by it; a
                    # retry of the same run keeps the request (it may not re-read what it already did).
                    retriage_reason=case((waiting, null()), else_=IncidentRow.retriage_reason),
                )
            )
            claimed = cast("CursorResult[Any]", result).rowcount  # an UPDATE's result has a rowcount
            if claimed:
                note(session, incident_id, "respond", "respond flow run started", flow_run_id=flow_run_id)
            return bool(claimed)

    def set_status(self, incident_id: str, status: IncidentStatus, message: str, step: str) -> None:
        """Move the incident to ``status`` with a timeline note (``message``, under ``step``) and an audit
        entry; ``IllegalTransition`` when the lifecycle does not allow it (``ALLOWED_TRANSITIONS``), and
        then nothing is written. Keeping the current status only adds the note: when it was contained or
        closed stays the first time."""
        with Session(self.engine) as session, session.begin():
            row = session.get_one(IncidentRow, incident_id, with_for_update=True)
            check_transition(incident_id, row.status, status)
            if row.status != status:
                row.status = status
                now = utcnow()
                if status is IncidentStatus.CONTAINED:
                    row.contained_at = now
                elif status is IncidentStatus.CLOSED:
                    row.closed_at = now
                append_audit(session, "respond", f"incident.{status}", incident_id)
            note(session, incident_id, step, message, status=status)

    def set_verdict(self, incident_id: str, verdict: Verdict) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get_one(IncidentRow, incident_id)
            row.verdict = verdict.verdict
            row.score = verdict.score
            row.reasons = [reason.model_dump() for reason in verdict.reasons]
            message = f"verdict {verdict.verdict} (score {verdict.score})"
            note(session, incident_id, "classify", message, **verdict.model_dump(mode="json"))

    def record_decision(
        self, incident_id: str, verdict: VerdictLabel, analyst: str, comment: str, waited_seconds: float
    ) -> None:
        """An analyst's decision on a gray incident becomes its verdict: triage's reasons are kept and the
        analyst's is appended (question "What did the analyst decide?"); the incident leaves
        ``awaiting_approval`` for the playbook to go on (``triaging``). The score is triage's, unchanged."""
        _decisions.record_decision(self.engine, incident_id, verdict, analyst, comment, waited_seconds)

    def decide_waiting(
        self, incident_id: str, verdict: str, analyst: str, comment: str, run_over: bool = False
    ) -> str:
        """An analyst's decision on an incident that waits with no run behind it (the default: no paused
        run holds a runner slot). ``malicious`` / ``benign`` become the verdict of a new response round
        (REOPENED, round + 1, no flow run: the dispatcher starts it), whose run acts on it instead of
        classifying; ``escalate`` is recorded and the incident keeps waiting. Returns what happened, one
        line; ValueError when the incident does not wait for a decision. ``run_over``: Prefect reports the
        incident's run final though it never ended its round (it crashed while paused for a decision)."""
        return _decisions.decide_waiting(self.engine, incident_id, verdict, analyst, comment, run_over)

    def decided_verdict(self, incident_id: str) -> str | None:
        """The verdict an analyst decided for this response round (``decide_waiting``), if any."""
        return _decisions.decided_verdict(self.engine, incident_id)

    def note_first_evidence(self, incident_id: str, when: datetime) -> None:
        """Move the incident's first evidence back to ``when`` if telemetry saw the intrusion earlier than
        what is stored (the first alert, at intake); a later moment changes nothing. A naive ``when`` is
        taken as UTC; an aware one is stored as UTC, since SQLite keeps the clock time and drops the zone."""
        when = aware(when).astimezone(UTC)
        with Session(self.engine) as session, session.begin():
            row = session.get_one(IncidentRow, incident_id)
            stored = row.first_evidence_at
            if stored is None or when < aware(stored):
                row.first_evidence_at = when

    def save_indicators(self, incident_id: str, indicators: list[Indicator]) -> None:
        """Replace the incident's indicators with enriched ones (provenance snapshotted)."""
        with Session(self.engine) as session, session.begin():
            current = {
                (row.type, row.value): row
                for row in session.scalars(
                    select(IndicatorRow).where(IndicatorRow.incident_id == incident_id)
                )
            }
            for indicator in indicators:
                row = current.get((indicator.type, indicator.value))
                provenance = [p.model_dump() for p in indicator.provenance]
                if row is None:
                    row = _indicator_row(incident_id, indicator)
                    session.add(row)
                row.provenance = provenance

    def add_timeline(
        self,
        incident_id: str,
        step: str,
        message: str,
        data: dict[str, Any] | None = None,
        *,
        audit: str | None = None,
    ) -> None:
        """One line on the incident's timeline; with ``audit`` (an event name such as ``escalation.tier``)
        also an audit entry, in the same transaction."""
        with Session(self.engine) as session, session.begin():
            note(session, incident_id, step, message, **(data or {}))
            if audit is not None:
                append_audit(session, "garrison", audit, incident_id, data)

    def relate(self, incident_id: str, earlier_id: str) -> bool:
        """Name ``earlier_id`` as the incident's related one, unless it names one already (the intake's
        link, made when the alert arrived, is kept); True when set."""
        with Session(self.engine) as session, session.begin():
            done = session.execute(
                update(IncidentRow)
                .where(IncidentRow.id == incident_id, IncidentRow.related_incident_id.is_(None))
                .values(related_incident_id=earlier_id)
            )
            return bool(cast("CursorResult[Any]", done).rowcount)

    # -- the action ledger -----------------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        """Claims with leases, guardrail counts, approvals (``_ledger``); the respond engine uses these."""
        return Ledger(self.engine)

    # -- notifications and audit -----------------------------------------------------------------------

    def record_notification(
        self,
        *,
        incident_id: str,
        tenant: str,
        event: str,
        language: str,
        target: str,
        subject: str,
        body: str,
        status: str,
        error: str = "",
    ) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(
                NotificationRow(
                    incident_id=incident_id,
                    tenant=tenant,
                    event=event,
                    language=language,
                    target=target,
                    subject=subject,
                    body=body,
                    status=status,
                    error=error,
                )
            )
            note(
                session,
                incident_id,
                "notify",
                f"{event} notification to {target}: {status}",
                event=event,
                status=status,
            )

    def dead_letter(
        self, *, endpoint: str, status: int, reason: str, body: bytes, tenant: str | None = None
    ) -> None:
        """Keep a rejected payload for operators: truncated, and only each tenant's newest
        ``DEAD_LETTER_LIMIT``, so one tenant's rejects never evict another's."""
        same_tenant = DeadLetterRow.tenant.is_(None) if tenant is None else DeadLetterRow.tenant == tenant
        with Session(self.engine) as session, session.begin():
            # A per-tenant sequence number, so trimming a tenant's oldest rows needs no count.
            last = session.scalar(
                select(DeadLetterRow.seq)
                .where(same_tenant, DeadLetterRow.seq.is_not(None))
                .order_by(DeadLetterRow.seq.desc())
                .limit(1)
            )
            seq = (last or 0) + 1
            session.add(
                DeadLetterRow(
                    tenant=tenant,
                    endpoint=endpoint,
                    status=status,
                    reason=reason[:2000],
                    body=body[:DEAD_LETTER_MAX_BODY],
                    truncated=len(body) > DEAD_LETTER_MAX_BODY,
                    seq=seq,
                )
            )
            if seq % 100 == 0 and seq > DEAD_LETTER_LIMIT:  # trim now and then, not on every rejection
                # Rows from before sequence numbers (seq NULL) are older than all of the tenant's newest.
                session.execute(
                    delete(DeadLetterRow).where(
                        same_tenant,
                        or_(DeadLetterRow.seq <= seq - DEAD_LETTER_LIMIT, DeadLetterRow.seq.is_(None)),
                    )
                )

    def dead_letters(self, limit: int = 50, tenant: str | None = None) -> list[dict[str, Any]]:
        """The newest dead letters, of one tenant or of all."""
        query = select(DeadLetterRow).order_by(DeadLetterRow.id.desc()).limit(limit)
        if tenant is not None:
            query = query.where(DeadLetterRow.tenant == tenant)
        with Session(self.engine) as session:
            rows = session.scalars(query)
            return [
                {
                    "id": r.id,
                    "at": aware(r.at).isoformat(),
                    "tenant": r.tenant,
                    "endpoint": r.endpoint,
                    "status": r.status,
                    "reason": r.reason,
                    "size": len(r.body),
                    "truncated": r.truncated,
                }
                for r in rows
            ]

    def verify_audit(self) -> int | None:
        with Session(self.engine) as session:
            return verify_audit(session)

    def check_audit(self) -> AuditCheck:
        """The audit trail's hash chain, walked from its start (``garrison audit verify``)."""
        with Session(self.engine) as session:
            return check_audit(session)

    # -- re-triage -------------------------------------------------------------------------------------

    def reopen(
        self,
        incident_id: str,
        reason: str,
        *,
        step: str = "recheck",
        data: dict[str, Any] | None = None,
        actor: str = "garrison",
    ) -> int | None:
        """Start the next response round of a closed incident (``_retriage.reopen_closed``)."""
        return _retriage.reopen_closed(self.engine, incident_id, reason, step=step, data=data, actor=actor)

    def end_run(self, incident_id: str) -> str | None:
        """The respond run ends: mark it, and start the new response round the intake asked for while the
        run was in flight; returns why (None when nothing was asked). From here on the intake starts a new
        round itself when news arrives. The round is left REOPENED with no flow run, which the
        dispatcher's sweeper (``undispatched``) starts."""
        return _retriage.end_run(self.engine, incident_id)


def _indicator_row(incident_id: str, indicator: Indicator) -> IndicatorRow:
    return IndicatorRow(
        incident_id=incident_id,
        type=indicator.type,
        value=indicator.value,
        field=indicator.field[:512],
        provenance=[p.model_dump() for p in indicator.provenance],
    )
