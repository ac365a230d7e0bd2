"""`garrison ingest` with Garrison up starts the respond runs itself (it used to crash: sum() over an async
generator)."""

from __future__ import annotations

import pytest

from flows.cli import _ingest
from flows.settings import Settings


class _FakeDispatcher:
    started: list[str] = []

    def __init__(self, store: object, **console: object) -> None:
        assert set(console) == {"api_url", "auth_string"}  # Garrison's console, by its settings

    async def dispatch(self, incident_id: str) -> str | None:
        self.started.append(incident_id)
        return None if incident_id == "refused" else f"run-{incident_id}"


def test_ingest_starts_a_run_per_new_incident_when_garrison_is_up(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ingest, "answers", lambda url: True)
    monkeypatch.setattr(_ingest, "PrefectDispatcher", _FakeDispatcher)

    started = _ingest._dispatch(["a", "refused", "b"])

    assert started == 2 and _FakeDispatcher.started == ["a", "refused", "b"]
