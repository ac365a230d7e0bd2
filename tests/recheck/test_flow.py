"""The ``recheck`` flow on a real (temporary) Prefect API: the same check in batches of tasks, and a
markdown artifact with the counts and each incident reopened with its reason."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client

from flows.recheck import RecheckRequest, recheck_flow
from flows.settings import Settings, get_settings
from flows.store import Store
from tests.recheck._build import closed_incident, dns_alert, feed

pytestmark = pytest.mark.usefixtures("prefect_harness")
BAD = "cdn-update.example-telemetry.net"


async def _artifact(key: str = "recheck") -> Any:
    async with get_client() as client:
        return max((a for a in await client.read_artifacts() if a.key == key), key=lambda a: a.created)


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_flow_reopens_in_batches_and_publishes_a_summary(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    then = feed(tmp_path / "then.csv", ("domain", BAD, "benign", "Vendor CDN", "allow-feed"))
    ids = [
        closed_incident(store, dns_alert(n, BAD if n == 7 else f"x{n}.example-vendor.net"), feeds=[then])
        for n in range(60)
    ]
    now = feed(tmp_path / "now.csv", ("domain", BAD, "malicious", "Loader C2", "c2-feed"))
    monkeypatch.setenv("GARRISON_INTEL_FEEDS", json.dumps([str(now)]))
    get_settings.cache_clear()

    summary = recheck_flow(RecheckRequest(tenant="demo", dry_run=dry_run))

    assert summary["checked"] == 60 and summary["still_fine"] == 59 and summary["indicator_lookups"] == 60
    assert (summary["reopened"], summary["would_reopen"]) == ((0, 1) if dry_run else (1, 0))
    assert store.incident(ids[7]).status == ("closed" if dry_run else "reopened")  # type: ignore[union-attr]
    artifact = asyncio.run(_artifact())
    text = artifact.data or ""
    assert f"`{ids[7][:8]}`" in text and "is now listed malicious by c2-feed" in text
    assert ("would reopen" in text) is dry_run
    # The response figures beside the run: the 60 incidents of the tenant, one reopened unless dry.
    figures = asyncio.run(_artifact("response-metrics")).data or ""
    assert "## demo: 60 incident(s)" in figures and "| MTTR: received → contained |" in figures
    assert f"reopened: {0 if dry_run else 1} of 60" in figures
