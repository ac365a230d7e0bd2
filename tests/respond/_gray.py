"""Gray incidents pause their respond run for an analyst's decision: tests that run one to its end give
the demo tenant a short decision timeout (and a short poll), so the run times out quickly, not in 24 h."""

from __future__ import annotations

import contextvars
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.respond import RespondRequest, respond
from flows.settings import get_settings

DEFAULT_TENANTS = Path(__file__).parents[2] / "flows" / "defaults" / "tenants.yaml"


def decision_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minutes: float) -> Path:
    """Use a copy of the default tenants file whose demo tenant waits ``minutes`` for a decision."""
    data = yaml.safe_load(DEFAULT_TENANTS.read_text(encoding="utf-8"))
    for tenant in data["tenants"]:
        tenant.setdefault("policy", {})["decision_timeout_minutes"] = minutes
    path = tmp_path / "tenants-short-decisions.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(path))
    monkeypatch.setenv("GARRISON_DECISION_POLL_SECONDS", "0.2")
    get_settings.cache_clear()
    return path


class Running:
    """The respond flow in a thread (with the harness's Prefect settings), as a worker would run it."""

    def __init__(self, request: RespondRequest) -> None:
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        context = contextvars.copy_context()  # Prefect's settings (the harness) live in a context var
        self.thread = threading.Thread(target=context.run, args=(self._run, request), daemon=True)
        self.thread.start()

    def _run(self, request: RespondRequest) -> None:
        try:
            self.result = respond(request)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            self.error = error

    def join(self, timeout: float = 90.0) -> dict[str, Any]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the respond run did not end"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result
