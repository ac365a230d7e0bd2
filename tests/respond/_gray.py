"""Gray incidents pause their respond run for an analyst's decision: tests that run one to its end give
the demo tenant a short decision timeout (and a short poll), so the run times out quickly, not in 24 h."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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
