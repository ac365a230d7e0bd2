"""A signed request is accepted once: its signature is remembered, under the tenant's intake lock, in the
transaction that stores what it brought; the same signature again is a ``Replay``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Connection

from ._schema import SeenSignatureRow


class Replay(Exception):
    """This signed request was accepted before."""


def lock_tenant(conn: Connection, tenant: str) -> None:
    """Hold the tenant's intake lock until ``conn``'s transaction ends."""
    # Grouping reads then writes: two requests of one tenant must not both open "the" incident.
    # SQLite already serialises writers (BEGIN IMMEDIATE); PostgreSQL takes a per-tenant advisory lock.
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:tenant))"), {"tenant": f"garrison:{tenant}"}
        )


def remember_signature(conn: Connection, tenant: str, signature: str, expires_at: datetime) -> None:
    """Within ``conn``'s transaction: mark a signed request as seen for ``tenant``; Replay if it was."""
    lock_tenant(conn, tenant)
    remember_locked(conn, tenant, signature, expires_at, datetime.now(UTC))


def remember_locked(
    conn: Connection, tenant: str, signature: str, expires_at: datetime, now: datetime
) -> None:
    """``remember_signature`` for a caller that holds the tenant's lock already."""
    conn.execute(delete(SeenSignatureRow).where(SeenSignatureRow.expires_at < now))
    seen = conn.execute(
        select(func.count())
        .select_from(SeenSignatureRow)
        .where(SeenSignatureRow.tenant == tenant, SeenSignatureRow.signature == signature)
    ).scalar_one()
    if seen:
        raise Replay("this signed request was already accepted")
    conn.execute(insert(SeenSignatureRow).values(tenant=tenant, signature=signature, expires_at=expires_at))
