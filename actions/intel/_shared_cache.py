"""Intel answers kept in the store (table ``intel_answers``), so that an answer one worker paid for serves
every worker: the same TTLs per indicator type as ``IntelCache``, the same bound with the oldest evicted.

A short memory layer stands in front (``memory_seconds``, 30 s by default): an answer read from or
written to the store is served from memory until then or until its own expiry, whichever is first. Answers
never change once kept, so the only thing the memory layer can delay is another worker's ``clear`` (or an
eviction), by at most ``memory_seconds``. Values are hostile (an indicator is whatever an alert said; a
record's text is whatever a provider sent): they travel as bound parameters and JSON, the row is found by
a hash of its key and checked against the key itself, and a row that does not read back as records is a
miss, never an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, Double, Index, MetaData, String, Table, Text, delete, func, select
from sqlalchemy.engine import Connection, Engine

from ..http import Clock, SystemClock, ensure_tables, state_engine, upsert
from ._cache import CacheKey, IntelCache
from ._record import IntelRecord

_log = logging.getLogger("garrison.actions.intel")
IntelMetadata = MetaData()

answers = Table(
    "intel_answers",
    IntelMetadata,
    # sha256 of the key: an indicator (a URL) may be longer than an index entry may be.
    Column("key", String(64), primary_key=True),
    Column("scope", String(255), nullable=False),  # "" shared by every tenant, or the tenant
    Column("provider", String(255), nullable=False),
    Column("type", String(32), nullable=False),
    Column("value", Text, nullable=False),  # JSON text: PostgreSQL's text refuses NUL, JSON escapes it
    Column("records", Text, nullable=False),  # JSON list of IntelRecord.to_dict()
    Column("stored_at", Double, nullable=False),  # wall clock: the order of eviction
    Column("expires_at", Double, nullable=False),
    Index("ix_intel_answers_stored_at", "stored_at"),
    Index("ix_intel_answers_expires_at", "expires_at"),
)


def _digest(key: CacheKey) -> str:
    return hashlib.sha256("\x00".join(key).encode("utf-8", "surrogatepass")).hexdigest()


def _decode(key: CacheKey, row: Any) -> list[IntelRecord] | None:
    try:
        if (row.scope, row.provider, row.type, json.loads(row.value)) != key:
            return None
        data = json.loads(row.records)
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            return None
        return [IntelRecord.from_dict(item) for item in data]
    except (ValueError, TypeError):
        return None


class SharedIntelCache(IntelCache):
    """``IntelCache`` whose answers live in the store ``engine``, shared by every worker using it.

    >>> from sqlalchemy import create_engine
    >>> cache = SharedIntelCache(create_engine("sqlite://"), ttls={"ipv4": 60})
    >>> cache.put(("", "greynoise", "ipv4", "8.8.8.8"), [])
    >>> cache.get(("", "greynoise", "ipv4", "8.8.8.8"))
    []
    """

    def __init__(
        self,
        engine: Engine,
        clock: Clock | None = None,
        *,
        ttls: Mapping[str, float] | None = None,
        negative_ttls: Mapping[str, float] | None = None,
        max_entries: int = 50_000,
        memory_seconds: float = 30.0,
    ) -> None:
        super().__init__(clock, ttls=ttls, negative_ttls=negative_ttls, max_entries=max_entries)
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.engine = state_engine(engine)
        self._memory_seconds = memory_seconds
        # Memory layer: key -> (monotonic deadline, records); the store is the truth.
        self._memory: dict[CacheKey, tuple[float, tuple[IntelRecord, ...]]] = {}
        self._memory_guard = threading.Lock()
        ensure_tables(self.engine, IntelMetadata)

    def _remember(self, key: CacheKey, records: tuple[IntelRecord, ...], expires_at: float) -> None:
        left = min(self._memory_seconds, expires_at - self.clock.wall())
        if left <= 0:
            return
        with self._memory_guard:
            self._memory[key] = (self.clock.monotonic() + left, records)
            if len(self._memory) > self._max:
                del self._memory[next(iter(self._memory))]

    def _recalled(self, key: CacheKey) -> list[IntelRecord] | None:
        with self._memory_guard:
            found = self._memory.get(key)
            if found is None:
                return None
            if self.clock.monotonic() >= found[0]:
                del self._memory[key]
                return None
            return list(found[1])

    def get(self, key: CacheKey) -> list[IntelRecord] | None:
        """The kept answer (from any worker), or None when there is none or it expired."""
        remembered = self._recalled(key)
        if remembered is not None:
            return remembered
        digest = _digest(key)
        with self.engine.begin() as connection:
            row = connection.execute(select(answers).where(answers.c.key == digest)).first()
        if row is None or self.clock.wall() >= float(row.expires_at):
            return None
        records = _decode(key, row)
        if records is None:
            _log.warning("intel cache: unreadable answer for %s dropped", key[1])
            with self.engine.begin() as connection:
                connection.execute(delete(answers).where(answers.c.key == digest))
            return None
        self._remember(key, tuple(records), float(row.expires_at))
        return records

    def put(self, key: CacheKey, records: list[IntelRecord]) -> None:
        now = self.clock.wall()
        expires_at = now + self.ttl(key[2], empty=not records)
        digest = _digest(key)
        row = {
            "key": digest,
            "scope": key[0],
            "provider": key[1],
            "type": key[2],
            "value": json.dumps(key[3]),
            "records": json.dumps([r.to_dict() for r in records], ensure_ascii=False),
            "stored_at": now,
            "expires_at": expires_at,
        }
        with self.engine.begin() as connection:
            upsert(connection, answers, row)
            self._evict_oldest(connection, now, digest)
        self._remember(key, tuple(records), expires_at)

    def _evict_oldest(self, connection: Connection, now: float, kept: str) -> None:
        count = connection.execute(select(func.count()).select_from(answers)).scalar_one()
        if count <= self._max:
            return
        count -= connection.execute(delete(answers).where(answers.c.expires_at <= now)).rowcount
        if count <= self._max:
            return
        # Oldest first; the answer just kept is never the one to go.
        oldest = (
            select(answers.c.key)
            .where(answers.c.key != kept)
            .order_by(answers.c.stored_at, answers.c.key)
            .limit(count - self._max)
        )
        connection.execute(delete(answers).where(answers.c.key.in_(oldest)))

    def clear(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(answers))
        with self._memory_guard:
            self._memory.clear()

    def __len__(self) -> int:
        with self.engine.begin() as connection:
            query = select(func.count()).select_from(answers).where(answers.c.expires_at > self.clock.wall())
            return int(connection.execute(query).scalar_one())


_caches: weakref.WeakKeyDictionary[Engine, SharedIntelCache] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def shared_cache(engine: Engine) -> SharedIntelCache:
    """This process's cache on the store ``engine`` (real clock)."""
    with _guard:
        found = _caches.get(engine)
        if found is None:
            found = SharedIntelCache(engine, SystemClock())
            _caches[engine] = found
        return found
