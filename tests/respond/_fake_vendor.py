"""A fake EDR vendor on loopback, and a test-only adapter (``fakevendor.*``) that calls it over HTTP.

The vendor counts every containment call per host (effective or not), answers scripted 429/5xx when
told to, and models acceptance honestly: a contain request marks the host ``containment_pending`` at
once, ``contained`` when the request's processing ends, whatever happens to the client meanwhile. The
adapter is deliberately *not* idempotent (a blind POST): only the ledger keeps it to one call per key.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from actions import (
    ActionContext,
    ActionResult,
    ActionStatus,
    Capability,
    Effect,
    TargetState,
    action,
    registry,
)
from actions.http import VendorHttp, VendorPolicy

VENDOR = "fakevendor"
SECRET = "fakevendor_token"
POLICY = VendorPolicy(rate_per_second=50.0, burst=50, breaker_threshold=3, breaker_cooldown=30.0, jitter=0.5)


class FakeVendor:
    def __init__(self, token: str | None = None, hold: float = 0.0, clock: Any = None) -> None:
        self.clock = clock  # the clients' (fake) clock: arrival times are read on it
        self.token = token  # when set, requests must carry "Bearer <token>"
        self.hold = hold  # seconds a contain request takes (the client may die meanwhile)
        self.status: dict[str, str] = {}
        self.calls: Counter[str] = Counter()  # POST /contain per host: what the crash test bounds
        self.answered: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.script: list[tuple[int, dict[str, str], dict[str, Any]]] = []  # answers before the real ones
        self.log: list[tuple[str, str, float]] = []  # (method, path, arrival on the clock) of every request
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def scripted(self) -> tuple[int, dict[str, str], dict[str, Any]] | None:
        with self.lock:
            return self.script.pop(0) if self.script else None

    def calls_for(self, prefix: str) -> int:
        with self.lock:
            return sum(n for host, n in self.calls.items() if host.startswith(prefix))

    def in_flight_for(self, prefix: str) -> int:
        with self.lock:
            return sum(n for host, n in self.in_flight.items() if host.startswith(prefix))

    def answered_for(self, prefix: str) -> int:
        with self.lock:
            return sum(n for host, n in self.answered.items() if host.startswith(prefix))


def _handler(vendor: FakeVendor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client died waiting: the vendor has done the work all the same

        def _gate(self) -> bool:
            url = urlsplit(self.path)
            now = (vendor.clock or time).monotonic()
            with vendor.lock:
                vendor.log.append((self.command, url.path, now))
            if vendor.token and self.headers.get("Authorization") != f"Bearer {vendor.token}":
                # Some vendors echo what they were sent: the client must scrub it.
                seen = self.headers.get("Authorization", "")
                self._answer(401, {"errors": [{"code": 401, "message": f"invalid credentials {seen}"}]})
                return False
            scripted = vendor.scripted()
            if scripted is not None:
                status, headers, body = scripted
                self._answer(status, body, headers)
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if not self._gate():
                return
            host = (parse_qs(urlsplit(self.path).query).get("host") or [""])[0]
            with vendor.lock:
                status = vendor.status.get(host.lower(), "normal")
            self._answer(200, {"host": host, "status": status})

        def do_POST(self) -> None:  # noqa: N802
            if not self._gate():
                return
            length = int(self.headers.get("Content-Length") or 0)
            host = str(json.loads(self.rfile.read(length) or b"{}").get("host", "")).lower()
            with vendor.lock:
                vendor.calls[host] += 1
                vendor.in_flight[host] += 1
                vendor.status[host] = "containment_pending"
            time.sleep(vendor.hold)
            with vendor.lock:
                vendor.status[host] = "contained"
                vendor.in_flight[host] -= 1
                vendor.answered[host] += 1
            self._answer(202, {"host": host, "status": "contained"})

    return Handler


@contextmanager
def running(vendor: FakeVendor) -> Iterator[FakeVendor]:
    thread = threading.Thread(target=vendor.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield vendor
    finally:
        vendor.server.shutdown()
        vendor.server.server_close()


# -- the test-only adapter ---------------------------------------------------------------------------------


class HostInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: str = Field(min_length=1, max_length=255, description="Host to contain.")


class FakeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The fake vendor's loopback URL (http: tests only).")
    lookup: float = Field(default=0.0, description="Seconds the device lookup takes before the call.")


def _http(ctx: ActionContext) -> VendorHttp:
    settings = ctx.settings(VENDOR, FakeSettings)
    token = ctx.secret(SECRET)
    return VendorHttp(
        tenant=ctx.tenant,
        vendor=VENDOR,
        base_url=settings.base_url,
        policy=POLICY,
        pool=ctx.pool(),
        secrets=[token],
        headers={"Authorization": f"Bearer {token}"},
    )


async def read_contained(inputs: HostInput, ctx: ActionContext) -> TargetState:
    async with _http(ctx) as http:
        status = (await http.request("GET", "/state", params={"host": inputs.hostname})).json()["status"]
    effect = {"contained": Effect.APPLIED, "containment_pending": Effect.IN_PROGRESS}.get(
        status, Effect.ABSENT
    )
    return TargetState(effect=effect, detail=f"device status {status}")


async def isolate_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Contain a host at the fake vendor with one blind POST (not idempotent on purpose)."""
    await asyncio.sleep(ctx.settings(VENDOR, FakeSettings).lookup)  # resolving the device, as real EDRs do
    async with _http(ctx) as http:
        await http.request("POST", "/contain", json={"host": inputs.hostname})
    return ActionResult(status=ActionStatus.SUCCEEDED, detail="device contained", vendor_ref=inputs.hostname)


async def release_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Lift containment at the fake vendor (rollback)."""
    return ActionResult(status=ActionStatus.SUCCEEDED, detail="released")


def register() -> None:
    """Register ``fakevendor.isolate_host`` once per process (idempotent)."""
    if f"{VENDOR}.isolate_host" in registry.actions:
        return
    action(
        key=f"{VENDOR}.isolate_host",
        inputs=HostInput,
        capability=Capability.ISOLATE_HOST,
        secrets=[SECRET],
        inverse=f"{VENDOR}.release_host",
        doc_url="tests/respond/_fake_vendor.py",
        read_state=read_contained,
    )(isolate_host)
    action(
        key=f"{VENDOR}.release_host",
        inputs=HostInput,
        capability=Capability.RELEASE_HOST,
        secrets=[SECRET],
        inverse=f"{VENDOR}.isolate_host",
        doc_url="tests/respond/_fake_vendor.py",
    )(release_host)
