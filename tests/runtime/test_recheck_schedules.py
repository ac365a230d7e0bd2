"""The re-check deployment's schedules: the default one, which leaves out the tenants with their own, and
one per such tenant (``recheck.cron``), each with its own run parameters — registered through Prefect."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from flows.recheck import RecheckRequest, recheck_flow
from flows.runtime._runner import recheck_schedules
from flows.tenants import TenantDirectory, tenants_from

TENANTS = """
tenants:
  - id: demo
    name: Demo
  - id: acme
    name: Acme
    recheck: {cron: "0 */6 * * *"}
"""


def tenants(tmp_path: Path) -> TenantDirectory:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS, encoding="utf-8")
    return tenants_from(path)


def test_the_default_schedule_leaves_out_a_tenant_with_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GARRISON_RECHECK_CRON", raising=False)

    default, acme = recheck_schedules(tenants(tmp_path))

    assert (default.cron, default.timezone, default.slug) == ("17 3 * * *", "UTC", "recheck-default")
    assert RecheckRequest.model_validate(default.parameters["request"]).skip_own_schedules is True
    assert (acme.cron, acme.slug) == ("0 */6 * * *", "recheck-acme")
    assert RecheckRequest.model_validate(acme.parameters["request"]).tenant == "acme"


def test_with_the_default_off_only_the_tenants_own_schedules_remain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GARRISON_RECHECK_CRON", "off")

    assert [s.slug for s in recheck_schedules(tenants(tmp_path))] == ["recheck-acme"]


@pytest.mark.usefixtures("prefect_harness")
def test_prefect_keeps_each_schedule_with_its_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GARRISON_RECHECK_CRON", raising=False)
    deployment = recheck_flow.to_deployment(
        "recheck-schedules-test", schedules=recheck_schedules(tenants(tmp_path)), paused=False
    )
    deployment_id = deployment.apply()  # type: ignore[union-attr]

    async def read() -> list[tuple[str | None, dict[str, object]]]:
        async with get_client() as client:
            found = await client.read_deployment(deployment_id)
        return sorted((s.schedule.cron, s.parameters) for s in found.schedules)  # type: ignore[union-attr]

    [(acme_cron, acme), (default_cron, default)] = asyncio.run(read())
    assert (acme_cron, acme["request"]["tenant"]) == ("0 */6 * * *", "acme")  # type: ignore[index]
    assert (default_cron, default["request"]["skip_own_schedules"]) == ("17 3 * * *", True)  # type: ignore[index]
