"""Standing decisions: an analyst's verdict on one pattern of alerts that holds for a tenant until a date.

"This rule, on these hosts, with these command lines and destinations, is benign until DATE" — what an
analyst says after the third identical false positive. Triage reads the active ones as a named reason
(``flows.triage``); every decision names who made it and why, expires, and can be revoked, and each of
those is an audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ._audit import append_audit
from ._schema import StandingDecisionRow

MAX_STANDING_DAYS = 365  # a pattern cleared for longer than a year is a blind spot, not a decision
STANDING_VERDICTS = ("benign", "malicious")


@dataclass(frozen=True)
class StandingScope:
    """What a standing decision covers: alerts of ``rule`` from ``source`` on one of ``hosts`` ("" for an
    alert that names none) whose command lines and destinations are all among those named."""

    source: str
    rule: str
    hosts: tuple[str, ...] = ()
    command_lines: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()


@dataclass(frozen=True)
class StandingDecision:
    id: str
    tenant: str
    verdict: str
    scope: StandingScope
    analyst: str
    comment: str
    incident_id: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def in_force(self, now: datetime | None = None) -> bool:
        return self.revoked_at is None and _aware(self.expires_at) > (now or datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scope"] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.scope).items()}
        for name in ("created_at", "expires_at", "revoked_at"):
            value = getattr(self, name)
            data[name] = _aware(value).isoformat(timespec="seconds") if value else None
        return data


class StandingDecisions:
    """The standing decisions of every tenant, in the store's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        tenant: str,
        verdict: str,
        scope: StandingScope,
        analyst: str,
        comment: str,
        days: int,
        incident_id: str | None = None,
    ) -> StandingDecision:
        if verdict not in STANDING_VERDICTS:
            raise ValueError(f"a standing decision is benign or malicious, not {verdict!r}")
        if not 1 <= days <= MAX_STANDING_DAYS:
            raise ValueError(f"a standing decision lasts 1 to {MAX_STANDING_DAYS} days, not {days}")
        if not comment.strip():
            raise ValueError("a standing decision needs a comment: why this pattern is " + verdict)
        now = datetime.now(UTC)
        row = StandingDecisionRow(
            id=str(uuid.uuid4()),
            tenant=tenant,
            verdict=verdict,
            source=scope.source,
            rule=scope.rule,
            hosts=sorted({h.lower() for h in scope.hosts}),
            command_lines=sorted(set(scope.command_lines)),
            destinations=sorted({d.lower() for d in scope.destinations}),
            analyst=analyst,
            comment=comment,
            incident_id=incident_id,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
            append_audit(
                session,
                analyst,
                f"standing.{verdict}",
                row.id,
                {"tenant": tenant, "incident_id": incident_id, "days": days, "comment": comment},
            )
        return _view(row)

    def in_force(self, tenant: str, now: datetime | None = None) -> list[StandingDecision]:
        """The tenant's decisions that hold at ``now``: not expired, not revoked."""
        now = now or datetime.now(UTC)
        with Session(self.engine) as session:
            rows = session.scalars(
                select(StandingDecisionRow).where(
                    StandingDecisionRow.tenant == tenant, StandingDecisionRow.revoked_at.is_(None)
                )
            )
            return [d for d in map(_view, rows) if d.in_force(now)]

    def listed(self, tenant: str | None = None, ended_too: bool = False) -> list[StandingDecision]:
        """Newest first; with ``ended_too`` the expired and revoked ones as well."""
        with Session(self.engine) as session:
            query = select(StandingDecisionRow).order_by(StandingDecisionRow.created_at.desc())
            if tenant is not None:
                query = query.where(StandingDecisionRow.tenant == tenant)
            decisions = [_view(row) for row in session.scalars(query)]
        return decisions if ended_too else [d for d in decisions if d.in_force()]

    def revoke(self, given: str, analyst: str, comment: str) -> StandingDecision:
        """End a decision now. ``given`` is its id or an unambiguous prefix of at least 8 characters."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            row = self._one(session, given)
            if row.revoked_at is not None:
                raise ValueError(f"standing decision {row.id[:8]} was revoked by {row.revoked_by} already")
            row.revoked_at, row.revoked_by, row.revoke_comment = datetime.now(UTC), analyst, comment
            append_audit(session, analyst, "standing.revoked", row.id, {"comment": comment})
        return _view(row)

    @staticmethod
    def _one(session: Session, given: str) -> StandingDecisionRow:
        if len(given) < 8:
            raise ValueError("give at least the first 8 characters of the standing decision's id")
        rows: Sequence[StandingDecisionRow] = session.scalars(
            select(StandingDecisionRow).where(StandingDecisionRow.id.startswith(given, autoescape=True))
        ).all()
        if not rows:
            raise ValueError(f"no standing decision {given}")
        if len(rows) > 1:
            raise ValueError(f"{given} names {len(rows)} standing decisions: give more of the id")
        return rows[0]


def _view(row: StandingDecisionRow) -> StandingDecision:
    return StandingDecision(
        id=row.id,
        tenant=row.tenant,
        verdict=row.verdict,
        scope=StandingScope(
            source=row.source,
            rule=row.rule,
            hosts=tuple(row.hosts or ()),
            command_lines=tuple(row.command_lines or ()),
            destinations=tuple(row.destinations or ()),
        ),
        analyst=row.analyst,
        comment=row.comment,
        incident_id=row.incident_id,
        created_at=_aware(row.created_at),
        expires_at=_aware(row.expires_at),
        revoked_at=_aware(row.revoked_at) if row.revoked_at else None,
        revoked_by=row.revoked_by,
    )


def _aware(moment: datetime) -> datetime:
    # SQLite keeps the clock time and drops the zone: every moment Garrison stores is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
