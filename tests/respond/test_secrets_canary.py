"""A canary secret per tenant, respond flows run at DEBUG against vendors that succeed, refuse (echoing the
credential back) or lack a secret: the canaries appear nowhere afterwards — not in logs, console output,
the store's tables or database files, flow results, Prefect's runs, task runs, logs and database, or the
messages in the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import prefect.settings
import pytest
from prefect.client.orchestration import get_client
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from actions import registry
from actions.lab import LabBase
from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.settings import Settings, get_settings
from flows.store import Store
from flows.store._schema import Base
from tests.respond import _fake_vendor

pytestmark = pytest.mark.usefixtures("prefect_harness")

CANARIES = {
    "acme": "CANARY-acme-fake-token-a11ce",
    "globex": "CANARY-globex-fake-token-b0b0",
    "initech": "CANARY-initech-never-set-c4c4",  # referenced, never set: the action must say it is missing
}
PLAYBOOK = """
name: canary
steps:
  - {id: contain, kind: act, actions: [fakevendor.isolate_host]}
  - {id: tell-customer, kind: notify, event: incident_report}
"""


@pytest.fixture
def vendors() -> Iterator[dict[str, _fake_vendor.FakeVendor]]:
    _fake_vendor.register()
    acme = _fake_vendor.FakeVendor(token=CANARIES["acme"])
    globex = _fake_vendor.FakeVendor(token="the-token-globex-should-have")  # refuses, echoing what it got
    with _fake_vendor.running(acme), _fake_vendor.running(globex):
        yield {"acme": acme, "globex": globex, "initech": acme}
    for key in ("fakevendor.isolate_host", "fakevendor.release_host"):
        registry.actions.pop(key, None)


def _tenants(path: Path, vendors: dict[str, _fake_vendor.FakeVendor]) -> Path:
    blocks = []
    for tenant, vendor in vendors.items():
        blocks.append(
            f"  - id: {tenant}\n"
            f"    name: {tenant.title()} Inc.\n"
            f"    notify: [{{url: 'outbox://{tenant}'}}]\n"
            f"    adapters:\n"
            f"      fakevendor:\n"
            f"        settings: {{base_url: '{vendor.url}'}}\n"
            f"        secrets: {{fakevendor_token: {{env: {tenant.upper()}_FAKEVENDOR_TOKEN}}}}\n"
        )
    path.write_text("tenants:\n" + "".join(blocks), encoding="utf-8")
    return path


def _incident(store: Store, tenant: str) -> str:
    document = {
        "class_uid": 2004,
        "severity_id": 4,
        "metadata": {"tenant_uid": tenant, "product": {"name": "edr"}, "uid": f"{tenant}-1"},
        "finding_info": {"uid": f"{tenant}-1", "title": "Beacon to known C2"},
        "device": {"hostname": f"{tenant.upper()}-WS-1"},
    }
    return store.record_alert(Alert.model_validate(document), document).incident_id


def test_no_tenant_secret_appears_anywhere_after_responding_at_debug(
    settings: Settings,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    vendors: dict[str, _fake_vendor.FakeVendor],
) -> None:
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(_tenants(tmp_path / "tenants.yaml", vendors)))
    monkeypatch.setenv("ACME_FAKEVENDOR_TOKEN", CANARIES["acme"])
    monkeypatch.setenv("GLOBEX_FAKEVENDOR_TOKEN", CANARIES["globex"])
    monkeypatch.delenv("INITECH_FAKEVENDOR_TOKEN", raising=False)
    get_settings.cache_clear()
    playbook = tmp_path / "canary.yaml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")

    with caplog.at_level(logging.DEBUG):
        results = {
            tenant: respond(RespondRequest(incident_id=_incident(store, tenant), playbook=str(playbook)))
            for tenant in ("acme", "globex", "initech")
        }

    # The runs did what they should, so the search below covers real success and failure paths.
    actions = {tenant: store.incident(r["incident_id"]).actions for tenant, r in results.items()}  # type: ignore[union-attr]
    assert [a.status for a in actions["acme"]] == ["succeeded"]
    assert vendors["acme"].calls["acme-ws-1"] == 1
    assert actions["globex"][0].status == "failed" and "401" in actions["globex"][0].detail
    assert "***" in actions["globex"][0].detail  # the echoed credential was scrubbed, not dropped silently
    assert actions["initech"][0].status == "failed" and "fakevendor_token" in actions["initech"][0].detail

    haystacks = {
        "log records": "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records),
        "console": "".join(capfd.readouterr()),
        "flow results": repr(results),
        "store tables": _dump_tables(store),
        "outbox": "".join(
            p.read_text(encoding="utf-8") for p in settings.outbox_dir.rglob("*") if p.is_file()
        ),
        "prefect api": asyncio.run(_prefect_records()),
    }
    files = [p for p in settings.home.rglob("*") if p.is_file()]
    files += _prefect_files()
    for tenant, canary in CANARIES.items():
        for where, text in haystacks.items():
            assert canary not in text, f"{tenant}'s secret found in {where}"
        for path in files:
            assert canary.encode() not in path.read_bytes(), f"{tenant}'s secret found in {path}"
    assert len(caplog.records) > 20 and files  # we did look at something


def _dump_tables(store: Store) -> str:
    lines = []
    present = set(inspect(store.engine).get_table_names())  # the lab's exist only where the lab was used
    with Session(store.engine) as session:
        for table in [*Base.metadata.sorted_tables, *LabBase.metadata.sorted_tables]:
            if table.name not in present:
                continue
            lines.extend(repr(tuple(row)) for row in session.execute(select(table)))
    return "\n".join(lines)


async def _prefect_records() -> str:
    async with get_client() as client:
        runs = await client.read_flow_runs()
        tasks = await client.read_task_runs()
        logs = await client.read_logs()
        artifacts = await client.read_artifacts()
    parts: list[Any] = [r.model_dump(mode="json") for r in runs]
    parts += [t.model_dump(mode="json") for t in tasks]
    parts += [entry.model_dump(mode="json") for entry in logs]
    parts += [a.model_dump(mode="json") for a in artifacts]
    return repr(parts)


def _prefect_files() -> list[Path]:
    """Prefect's home (results, storage) and the test server's database."""
    found = [p for p in Path(prefect.settings.PREFECT_HOME.value()).rglob("*") if p.is_file()]
    url = str(prefect.settings.PREFECT_SERVER_DATABASE_CONNECTION_URL.value() or "")
    if url.startswith("sqlite") and "///" in url:
        database = Path(url.split("///", 1)[1])
        found += [p for p in database.parent.glob(database.name + "*") if p.is_file()]
    return found
