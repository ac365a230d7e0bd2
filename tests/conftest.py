"""Shared test set-up: isolated homes for Garrison and Prefect, one Prefect test harness per session."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _unused_port() -> int:
    """A port nothing listens on (bound and released): a test must never reach a Garrison or Prefect that
    happens to run on this machine's default ports (4200, 8000)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Before anything imports prefect: its settings are read at import time.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="garrison-tests-"))
os.environ.update(
    {
        "PREFECT_HOME": str(_SESSION_DIR / "prefect"),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(_SESSION_DIR / "prefect" / "storage"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "GARRISON_HOME": str(_SESSION_DIR / "garrison"),
        "GARRISON_PREFECT_PORT": str(_unused_port()),
        "GARRISON_API_PORT": str(_unused_port()),
    }
)
for _name in ("PREFECT_API_URL", "GARRISON_DATABASE_URL", "GARRISON_TENANTS_FILE", "GARRISON_INTEL_FEEDS"):
    os.environ.pop(_name, None)

import pytest  # noqa: E402

from flows.settings import Settings, get_settings  # noqa: E402
from flows.store import Store  # noqa: E402
from tests._postgres import missing_postgres, throwaway_postgres  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A fresh Garrison home (store, outbox) for one test."""
    monkeypatch.setenv("GARRISON_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store.open(settings.database_url)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """The store's URL on a throwaway PostgreSQL server for the module's tests (``tests/_postgres.py``);
    skipped, saying why, where none can start."""
    reason = missing_postgres()
    if reason:
        pytest.skip(reason)
    with throwaway_postgres() as url:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A real (temporary) Prefect API for the whole session; start-up costs 10-13 s, so only once."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
