"""Helpers for adapter tests: a fake clock, vendor fixtures, canary secrets, running actions."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from actions import ActionContext, ActionResult, TargetState, registry
from actions.http import HttpPool

VENDOR_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
CATALOG = json.loads((VENDOR_FIXTURES / "edr-firewall-action-shapes.json").read_text(encoding="utf-8"))


def vendor_fixture(name: str) -> Any:
    path = VENDOR_FIXTURES / name
    return json.loads(path.read_text(encoding="utf-8")) if name.endswith(".json") else path.read_text("utf-8")


class FakeClock:
    """Virtual time: ``sleep`` parks the caller until every task is blocked, then time jumps to the earliest
    wake-up. Concurrent sleepers therefore wake in order at their own times, and no test really waits.
    Jitter is a fixed fraction; every sleep is recorded."""

    def __init__(self, *, start: float = 1000.0, wall: float = 1_763_776_800.0, jitter: float = 0.5) -> None:
        self.now = start
        self._wall_offset = wall - start
        self.jitter = jitter
        self.sleeps: list[float] = []
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self._wall_offset

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (self.now + seconds, next(self._seq), woken))
        if self._driver is None or self._driver.done() or self._driver.get_loop() is not loop:
            self._driver = loop.create_task(self._drive())
        await woken

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiters:
            await asyncio.sleep(0)
            if loop._ready:  # type: ignore[attr-defined]  # someone can still run: not idle yet
                continue
            wake, _, woken = heapq.heappop(self._waiters)
            self.now = max(self.now, wake)
            if not woken.done():
                woken.set_result(None)

    def random(self) -> float:
        return self.jitter

    def advance(self, seconds: float) -> None:
        self.now += seconds


# Canary values: a test fails if any of them shows up in a result, an exception or a log line.
CANARIES = {
    "crowdstrike_client_id": "CANARY-cs-client-id-5b1d",
    "crowdstrike_client_secret": "CANARY-cs-client-secret-9e2f",
    "defender_client_id": "CANARY-mde-client-id-41aa",
    "defender_client_secret": "CANARY-mde-client-secret-c0de",
    "sentinelone_api_token": "CANARY-s1-api-token-77b2",
    "panos_api_key": "CANARY-panos-key-1f0e",
    "opnsense_api_key": "CANARY-opn-key-3c4d",
    "opnsense_api_secret": "CANARY-opn-secret-8a9b",
    "wazuh_user": "CANARY-wazuh-user-2d2d",
    "wazuh_password": "CANARY-wazuh-password-6e6e",
    "openc2_api_token": "CANARY-openc2-token-0f0f",
}
# Tokens vendors hand out are secrets too.
ISSUED_TOKENS = ["CANARY-issued-token-falcon", "CANARY-issued-token-mde", "CANARY-issued-token-wazuh"]


def make_ctx(pool: HttpPool, vendor: str, settings: dict[str, Any], **kwargs: Any) -> ActionContext:
    return ActionContext(
        tenant="acme",
        incident_id="inc-1",
        secrets={name: SecretStr(value) for name, value in CANARIES.items()},
        vendors={vendor: settings},
        http=pool,
        **kwargs,
    )


def run(key: str, inputs: dict[str, Any] | BaseModel, ctx: ActionContext) -> ActionResult:
    return asyncio.run(registry.get(key).run(inputs, ctx))


def read(key: str, inputs: dict[str, Any], ctx: ActionContext) -> TargetState:
    return asyncio.run(registry.get(key).read_state(inputs, ctx))


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for value in [*CANARIES.values(), *ISSUED_TOKENS]:
            assert value not in text, f"secret {value[:12]}… leaked"
