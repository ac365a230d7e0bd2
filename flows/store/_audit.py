"""The audit trail: append-only rows chained by SHA-256, so an edit or deletion breaks the chain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ._schema import AuditRow, utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, at: datetime, actor: str, event: str, subject: str, data: dict[str, Any]) -> str:
    body = json.dumps(
        [prev_hash, at.isoformat(), actor, event, subject, data],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append_audit(
    session: Session, actor: str, event: str, subject: str, data: dict[str, Any] | None = None
) -> None:
    """Add one entry in the caller's transaction."""
    last = session.scalar(select(AuditRow).order_by(AuditRow.id.desc()).limit(1).with_for_update())
    session.add(AuditRow(**_entry(last.hash if last else GENESIS, actor, event, subject, data)))


def append_audit_conn(
    conn: Connection, actor: str, event: str, subject: str, data: dict[str, Any] | None = None
) -> None:
    """The same as ``append_audit``, for Core connections (batched intake)."""
    last = conn.execute(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)).scalar()
    conn.execute(insert(AuditRow).values(**_entry(last or GENESIS, actor, event, subject, data)))


def _entry(
    prev_hash: str, actor: str, event: str, subject: str, data: dict[str, Any] | None
) -> dict[str, Any]:
    """The next link of the chain: its fields and their hash over the previous link's."""
    at, payload = utcnow(), data or {}
    return {
        "at": at,
        "actor": actor,
        "event": event,
        "subject": subject,
        "data": payload,
        "prev_hash": prev_hash,
        "hash": _digest(prev_hash, at, actor, event, subject, payload),
    }


@dataclass(frozen=True)
class AuditCheck:
    """What ``garrison audit verify`` reports: the entries read, and the first broken link if any."""

    entries: int
    last_hash: str
    broken_at: int | None = None
    event: str = ""
    why: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def check_audit(session: Session) -> AuditCheck:
    """Walk the chain from the start; stop at the first entry that does not follow from the one before."""
    prev_hash, count = GENESIS, 0
    for row in session.scalars(select(AuditRow).order_by(AuditRow.id)):
        at = row.at if row.at.tzinfo else row.at.replace(tzinfo=utcnow().tzinfo)
        expected = _digest(prev_hash, at, row.actor, row.event, row.subject, row.data)
        if row.prev_hash != prev_hash:
            why = "it does not follow the entry before it: an entry before it was deleted or changed"
            return AuditCheck(count, prev_hash, row.id, row.event, why)
        if row.hash != expected:
            return AuditCheck(
                count, prev_hash, row.id, row.event, "its content was changed after it was written"
            )
        prev_hash, count = row.hash, count + 1
    return AuditCheck(count, prev_hash)


def verify_audit(session: Session) -> int | None:
    """The id of the first row whose chain is broken, or None when the whole trail is intact."""
    return check_audit(session).broken_at
