"""Fixtures for adapter tests: a fake clock, a fresh HTTP pool per test, logs captured at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from actions.http import HttpPool
from tests.actions._support import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pool(clock: FakeClock) -> HttpPool:
    return HttpPool(clock)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every logger at DEBUG (httpx and httpcore included)."""
    with caplog.at_level(logging.DEBUG):
        yield caplog
