"""The console's protection without a server: the Host check, the generated basic-auth secret, and the
Prefect settings every child of `garrison up` gets."""

from __future__ import annotations

import asyncio
import base64
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.runtime import child_env
from flows.runtime._console import HostCheck, ensure_auth_string
from flows.settings import Settings


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"tenant data"})


def _get(app: Any, host: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:4200") as client:
            return await client.get("/api/flow_runs", headers={"Host": host})

    return asyncio.run(go())


@pytest.mark.parametrize(
    "host", ["evil.example:4200", "localhost:4200", "127.0.0.1:4201", "127.0.0.1", "127.0.0.1:4200.evil", ""]
)
def test_a_host_other_than_the_consoles_own_is_refused(host: str) -> None:
    response = _get(HostCheck(_hello, ["127.0.0.1:4200"], hint="http://127.0.0.1:4200"), host)
    assert response.status_code == 400
    assert b"tenant data" not in response.content
    assert "open http://127.0.0.1:4200" in response.text


def test_the_consoles_own_host_passes() -> None:
    assert _get(HostCheck(_hello, ["127.0.0.1:4200"]), "127.0.0.1:4200").content == b"tenant data"


def test_lifespan_and_websockets_are_handled() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    check = HostCheck(_hello, ["127.0.0.1:4200"])
    asyncio.run(check({"type": "lifespan"}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}]  # Prefect's start-up (migrations, services)
    sent.clear()
    scope = {"type": "websocket", "headers": [(b"host", b"rebound.example:4200")]}
    asyncio.run(check(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_the_auth_string_is_generated_once_owner_only(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_AUTH_STRING", raising=False)
    assert settings.prefect_auth_string() is None and settings.prefect_auth_headers() == {}
    value, created = ensure_auth_string(settings)
    user, _, password = value.partition(":")
    assert created and user == "garrison" and len(password) >= 40
    assert stat.S_IMODE(settings.prefect_auth_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.secrets_dir.stat().st_mode) == 0o700
    assert ensure_auth_string(settings) == (value, False)
    token = base64.b64encode(value.encode()).decode()
    assert settings.prefect_auth_headers() == {"Authorization": f"Basic {token}"}
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "ops:given")  # the operator's own wins
    assert settings.prefect_auth_string() == "ops:given"


def test_children_get_the_secret_and_only_the_ui_origin(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_KEY", "a-cloud-key")  # would be sent instead of the auth string
    env = child_env(Settings(home=settings.home, prefect_port=4333), "garrison:s3cret")
    assert env["PREFECT_SERVER_API_AUTH_STRING"] == env["PREFECT_API_AUTH_STRING"] == "garrison:s3cret"
    assert env["PREFECT_SERVER_CORS_ALLOWED_ORIGINS"] == "http://127.0.0.1:4333"
    assert "*" not in env["PREFECT_SERVER_CORS_ALLOWED_METHODS"] + env["PREFECT_SERVER_CORS_ALLOWED_HEADERS"]
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4333/api"
    assert "PREFECT_API_KEY" not in env


def test_ipv6_hosts_are_bracketed_in_urls(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, host="::1", prefect_port=4200)
    assert settings.prefect_authority == "[::1]:4200"
    assert settings.prefect_api_url == "http://[::1]:4200/api"
