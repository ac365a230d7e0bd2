"""Intel test fixtures: a cache on the fake clock (``clock`` and ``pool`` come from tests/actions)."""

from __future__ import annotations

import pytest

from actions.intel import IntelCache
from tests.actions._support import FakeClock


@pytest.fixture
def cache(clock: FakeClock) -> IntelCache:
    return IntelCache(clock)
