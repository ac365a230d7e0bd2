"""Intel answers kept in the store: TTL per indicator type, one worker's answer served to another, a bound
with the oldest evicted, hostile values kept as data, and a row that does not read back is a miss."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from actions.http import using_store
from actions.intel import (
    DEFAULT_NEGATIVE_TTLS,
    DEFAULT_TTLS,
    IntelRecord,
    SharedIntelCache,
    default_cache,
    shared_cache,
)
from flows.store import engine_for
from tests.actions._support import FakeClock

KEY = ("", "greynoise", "ipv4", "203.0.113.7")
RECORD = IntelRecord("ipv4", "203.0.113.7", "malicious", "greynoise", "scanner", "2025-01-01", "2025-11-20")


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    return engine_for(f"sqlite:///{tmp_path / 'garrison.db'}")


def _worker(store: Engine, clock: FakeClock, **options: float) -> SharedIntelCache:
    # memory_seconds=0: every read goes to the store, as another worker's first read would.
    return SharedIntelCache(store, clock, memory_seconds=0, **options)  # type: ignore[arg-type]


def test_an_answer_one_worker_kept_serves_another(store: Engine, clock: FakeClock) -> None:
    _worker(store, clock).put(KEY, [RECORD])

    assert _worker(store, clock).get(KEY) == [RECORD]
    assert _worker(store, clock).get(("", "greynoise", "ipv4", "203.0.113.8")) is None
    assert _worker(store, clock).get(("tenant-a", "greynoise", "ipv4", "203.0.113.7")) is None


@pytest.mark.parametrize(
    ("kind", "value"), [("ipv4", "198.51.100.1"), ("domain", "evil.test"), ("sha256", "a" * 64)]
)
def test_answers_expire_after_their_types_ttl(store: Engine, clock: FakeClock, kind: str, value: str) -> None:
    key = ("", "virustotal", kind, value)
    record = IntelRecord(kind, value, "malicious", "virustotal", "engines")
    one, two = _worker(store, clock), _worker(store, clock)
    one.put(key, [record])
    one.put(("", "greynoise", kind, value), [])  # "not known": a shorter TTL

    clock.advance(DEFAULT_NEGATIVE_TTLS[kind] + 1)
    assert two.get(("", "greynoise", kind, value)) is None
    assert two.get(key) == [record]
    clock.advance(DEFAULT_TTLS[kind] - DEFAULT_NEGATIVE_TTLS[kind])
    assert two.get(key) is None


def test_the_memory_layer_never_outlives_the_answer(store: Engine, clock: FakeClock) -> None:
    cache = SharedIntelCache(store, clock, ttls={"ipv4": 10}, memory_seconds=60)
    cache.put(KEY, [RECORD])
    assert cache.get(KEY) == [RECORD]

    clock.advance(11)
    assert cache.get(KEY) is None


def test_the_store_keeps_at_most_max_entries_evicting_the_oldest(store: Engine, clock: FakeClock) -> None:
    cache = _worker(store, clock, max_entries=3)
    keys = [("", "greynoise", "ipv4", f"198.51.100.{n}") for n in range(5)]
    for key in keys:
        cache.put(key, [])
        clock.advance(1)

    assert len(cache) == 3
    assert [cache.get(k) for k in keys] == [None, None, [], [], []]


def test_a_kept_answer_refreshed_is_young_again(store: Engine, clock: FakeClock) -> None:
    cache = _worker(store, clock, max_entries=2)
    first, second, third = (("", "greynoise", "ipv4", f"198.51.100.{n}") for n in range(3))
    cache.put(first, [])
    clock.advance(1)
    cache.put(second, [])
    clock.advance(1)
    cache.put(first, [])  # asked again: it is now the newest
    clock.advance(1)
    cache.put(third, [])

    assert cache.get(first) == [] and cache.get(second) is None and cache.get(third) == []


HOSTILE = [
    "http://x.test/'); DROP TABLE intel_answers; --",
    "http://x.test/\x00nul\u202eevil\U0001f480",
    'http://x.test/"quoted"\\back',
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_kept_as_data(store: Engine, clock: FakeClock, value: str) -> None:
    key = ("tenant-a", "urlhaus", "url", value)
    record = IntelRecord("url", value, "malicious", "urlhaus", value, None, None, None, value)
    _worker(store, clock).put(key, [record])

    assert _worker(store, clock).get(key) == [record]
    with store.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM intel_answers")).scalar_one() == 1


def test_a_row_that_does_not_read_back_is_a_miss_and_is_dropped(store: Engine, clock: FakeClock) -> None:
    cache = _worker(store, clock)
    cache.put(KEY, [RECORD])
    with store.begin() as connection:
        connection.execute(text('UPDATE intel_answers SET records = \'[{"type": "registry"}]\''))

    assert cache.get(KEY) is None
    assert len(cache) == 0


def test_using_store_makes_the_default_cache_the_stores(store: Engine) -> None:
    with using_store(store):
        assert default_cache() is shared_cache(store)

    assert not isinstance(default_cache(), SharedIntelCache)


def test_concurrent_askers_in_one_worker_share_one_fetch(store: Engine, clock: FakeClock) -> None:
    cache = _worker(store, clock)
    calls = 0

    async def fetch() -> list[IntelRecord]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return [RECORD]

    async def many() -> list[tuple[list[IntelRecord], bool]]:
        return await asyncio.gather(*(cache.get_or_fetch(KEY, fetch) for _ in range(5)))

    answers = asyncio.run(many())
    assert calls == 1
    assert all(records == [RECORD] for records, _ in answers)
    assert _worker(store, clock).get(KEY) == [RECORD]  # and the other workers have it
