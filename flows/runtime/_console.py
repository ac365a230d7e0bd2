"""The analyst console: Prefect's server and UI, reachable only by Garrison and the analyst who logs in.

Prefect's OSS server answers any web origin and any Host by default, so a page the analyst opens while
Garrison runs could read every tenant's incident reports through the analyst's browser (and DNS rebinding
gets around a loopback binding). ``garrison up`` closes that with three of Prefect's own settings and one
check of ours:

- ``PREFECT_SERVER_API_AUTH_STRING``: every API call needs basic auth with a secret generated into
  ``$GARRISON_HOME/secrets/PREFECT_API_AUTH_STRING``; Garrison's processes send it
  (``PREFECT_API_AUTH_STRING``) and the UI asks the analyst for it once. A hostile page cannot know it.
- ``PREFECT_SERVER_CORS_ALLOWED_ORIGINS`` (and ``…_METHODS``, ``…_HEADERS``): only the UI's own origin.
- :class:`HostCheck`: a request whose ``Host`` is not the configured ``host:port`` is refused (400)
  before Prefect sees it, so a rebound name never reaches the API or the UI.

Prefect has no Host setting, so ``garrison up`` serves Prefect's own application
(``prefect.server.api.server.create_app``, what ``prefect server start`` serves) wrapped in that check,
with uvicorn and the options ``prefect server start`` uses.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from flows.settings import Settings, get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

AUTH_USER = "garrison"


def console_env(settings: Settings, auth_string: str) -> dict[str, str]:
    """Prefect settings for the server and every client of it (runner, flow runs, intake)."""
    return {
        "PREFECT_SERVER_API_AUTH_STRING": auth_string,
        "PREFECT_API_AUTH_STRING": auth_string,
        "PREFECT_SERVER_CORS_ALLOWED_ORIGINS": settings.prefect_ui_url,
        "PREFECT_SERVER_CORS_ALLOWED_METHODS": "GET,POST,PUT,PATCH,DELETE",
        "PREFECT_SERVER_CORS_ALLOWED_HEADERS": "Authorization,Content-Type",
    }


def ensure_auth_string(settings: Settings) -> tuple[str, bool]:
    """The console's ``user:password``; generated (0600, in the 0700 secrets folder) when there is none.
    Returns it and whether it was created now."""
    existing = settings.prefect_auth_string()
    if existing is not None:
        return existing, False
    settings.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = f"{AUTH_USER}:{secrets.token_urlsafe(32)}"
    path = settings.prefect_auth_path
    path.touch(mode=0o600)
    path.write_text(value, encoding="utf-8")
    return value, True


class HostCheck:
    """ASGI middleware: refuse HTTP and websocket requests whose ``Host`` is not one of ``allowed``.

    Unlike Starlette's ``TrustedHostMiddleware`` it compares the port too: ``HostCheck(app,
    ["127.0.0.1:4200"])`` refuses ``Host: localhost:4200`` and ``Host: evil.example:4200`` alike.
    """

    def __init__(self, app: ASGIApp, allowed: list[str], hint: str = "") -> None:
        self.app = app
        self.allowed = frozenset(host.lower() for host in allowed)
        self.hint = hint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next((v for k, v in scope.get("headers", []) if k == b"host"), b"")
            if host.decode("latin-1").lower() not in self.allowed:
                await self._refuse(scope, send)
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = f"unexpected Host header{'; open ' + self.hint if self.hint else ''}\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_console_app(settings: Settings | None = None) -> ASGIApp:
    """Prefect's server application (API, UI and its services) behind :class:`HostCheck`."""
    from prefect.server.api.server import create_app

    settings = settings or get_settings()
    return HostCheck(create_app(final=True), [settings.prefect_authority], hint=settings.prefect_ui_url)


def serve_console() -> None:
    """Run the console in the foreground, as ``prefect server start`` would (one worker, services on)."""
    import uvicorn
    from prefect.settings import get_current_settings

    settings = get_settings()
    server = get_current_settings().server
    uvicorn.run(
        create_console_app(settings),
        host=settings.host,
        port=settings.prefect_port,
        timeout_keep_alive=server.api.keepalive_timeout,
        ws_ping_interval=server.api.websocket_ping_interval,
        ws_ping_timeout=server.api.websocket_ping_timeout,
        log_level=server.logging_level.lower(),
    )
