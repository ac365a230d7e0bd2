"""Intake fixtures: two tenants with keys and HMAC secrets, a client, and the headers senders use."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flows.intake import create_app
from flows.intake._auth import sign
from flows.settings import Settings, get_settings

KEYS = {"demo": "demo-key-for-tests", "acme": "acme-key-for-tests"}
HMAC_SECRETS = {"demo": "demo-hmac-secret", "acme": "acme-hmac-secret"}

TENANTS_YAML = """
tenants:
  - id: demo
    name: Demo Customer Ltd.
    notify: [{url: "outbox://demo"}]
    auth:
      api_keys: [{env: TEST_DEMO_KEY}]
      hmac_secret: {env: TEST_DEMO_HMAC}
    sources:
      sysmon:
        product: sysmon
        title: {const: "Sysmon: reg.exe adds a Run key"}
        uid: Event.System.EventRecordID
        hostname: Event.System.Computer
        time: "Event.System.TimeCreated.#attributes.SystemTime"
        command_line: Event.EventData.CommandLine
        process_path: Event.EventData.Image
  - id: acme
    name: ACME Corp.
    auth:
      api_keys: [{env: TEST_ACME_KEY}]
      hmac_secret: {env: TEST_ACME_HMAC}
    grouping: {on_closed: link}
"""


class RecordingDispatcher:
    def __init__(self) -> None:
        self.dispatched: list[str] = []

    async def dispatch(self, incident_id: str) -> str | None:
        self.dispatched.append(incident_id)
        return None


@pytest.fixture
def tenants_yaml() -> str:
    """The tenants file the intake runs with (a test module overrides this fixture to change it)."""
    return TENANTS_YAML


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tenants_yaml: str) -> Iterator[Settings]:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(tenants_yaml, encoding="utf-8")
    monkeypatch.setenv("GARRISON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(tenants))
    for tenant, key in KEYS.items():
        monkeypatch.setenv(f"TEST_{tenant.upper()}_KEY", key)
        monkeypatch.setenv(f"TEST_{tenant.upper()}_HMAC", HMAC_SECRETS[tenant])
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def client(settings: Settings, dispatcher: RecordingDispatcher) -> TestClient:
    return TestClient(create_app(settings, dispatcher=dispatcher, sweep=False))


def key_headers(tenant: str = "demo", content_type: str = "application/json") -> dict[str, str]:
    return {
        "X-Garrison-Tenant": tenant,
        "Authorization": f"Bearer {KEYS[tenant]}",
        "Content-Type": content_type,
    }


def signed_headers(
    body: bytes,
    tenant: str = "demo",
    at: int | None = None,
    content_type: str = "application/json",
    method: str = "POST",
    target: str = "/v1/alerts",
) -> dict[str, str]:
    """Headers of a request signed for ``method`` and ``target`` (path and query, as sent)."""
    stamp = int(time.time()) if at is None else at
    return {
        "X-Garrison-Tenant": tenant,
        "Content-Type": content_type,
        **sign(HMAC_SECRETS[tenant], body, stamp, method, target),
    }


def ndjson(documents: list[Any]) -> bytes:
    return b"\n".join(json.dumps(d).encode() for d in documents) + b"\n"
