"""The MDE API as ``defender_response`` uses it: one machine by hostname, machine actions sent once and
followed to a final state, and the result of a live response script.

An app registration of its own (``Machine.StopAndQuarantine``, ``Machine.LiveResponse``): containment on
a host's objects is a stronger grant than isolation, so a tenant opts into it apart from ``defender``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import Field

from .._context import ActionContext
from .._errors import PermanentError, TransientError, VendorRejected
from .._vendor import json_body, poll
from ..http import VendorPolicy
from ._entra import MdeApp, MdeAppSettings
from ._mde_library import script_result

VENDOR = "defender_response"
SECRETS = [f"{VENDOR}_client_id", f"{VENDOR}_client_secret"]
# Microsoft's documented limits of the machine action and indicator APIs ("100 calls per minute and 1500
# calls per hour", e.g. learn.microsoft.com/en-us/defender-endpoint/api/isolate-machine), counted per
# (tenant, adapter) like every limiter; runliveresponse allows 10 a minute (its 429s queue later calls).
MDE_WINDOWS = ((100, 60.0), (1500, 3600.0))
POLICY = VendorPolicy(rate_per_second=1.5, burst=10, windows=MDE_WINDOWS)
RUNNING = ("Pending", "InProgress")
ENDED_BADLY = ("Failed", "TimeOut", "Cancelled")
_PRINTABLE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


class DefenderResponseSettings(MdeAppSettings):
    # A RunScript times out on the machine after 10 minutes; past this wait the action is PENDING.
    verify_timeout: float = Field(default=300.0, ge=0, description="Seconds to follow a machine action.")
    result_domains: tuple[str, ...] = Field(
        default=("core.windows.net", "core.usgovcloudapi.net"),
        description="Domains a live response result link may point to (MDE's storage).",
    )


def one_line(text: object, limit: int = 300) -> str:
    """Vendor or host text made safe for a result's detail: one line, capped."""
    flat = _PRINTABLE.sub(" ", str(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def latest(actions: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(actions, key=lambda a: str(a.get("creationDateTimeUtc", "")), default=None)


def failure_reason(record: dict[str, Any]) -> str:
    """Why MDE says a machine action failed: its commands' errors, its cancellation, or its HRESULT."""
    errors = [
        str(error)
        for command in record.get("commands") or []
        if isinstance(command, dict)
        for error in command.get("errors") or []
    ]
    if record.get("cancellationComment"):
        errors.append(f"cancelled: {record['cancellationComment']}")
    if not errors and record.get("errorHResult"):
        errors.append(f"HRESULT {record['errorHResult']}")
    return one_line("; ".join(errors) or "MDE gave no reason")


def live_response_commands(record: dict[str, Any]) -> list[tuple[str, str]]:
    """``(ScriptName, Args)`` of each RunScript command of a LiveResponse machine action."""
    found = []
    for command in record.get("commands") or []:
        inner = command.get("command") if isinstance(command, dict) else None
        if not isinstance(inner, dict) or inner.get("type") != "RunScript":
            continue
        params = {p.get("key"): p.get("value") for p in inner.get("params") or [] if isinstance(p, dict)}
        found.append((str(params.get("ScriptName", "")), str(params.get("Args", ""))))
    return found


@dataclass(frozen=True)
class Followed:
    """A machine action as it stood when Garrison stopped following it."""

    record: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.record.get("status"))

    @property
    def ref(self) -> str:
        return str(self.record.get("id"))


class MdeResponse(MdeApp):
    """One action's client of the MDE API, for machine actions on one host's objects."""

    settings: DefenderResponseSettings

    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(VENDOR, DefenderResponseSettings)
        super().__init__(ctx, VENDOR, self.settings, POLICY)

    async def machine_id(self, hostname: str) -> str:
        return str((await self.machine(hostname))["id"])

    async def machine_actions(self, machine_id: str) -> list[dict[str, Any]]:
        response = await self.api.request(
            "GET", "/api/machineactions", params={"$filter": f"machineId eq '{machine_id}'"}
        )
        return [a for a in json_body(self.http, response).get("value") or [] if isinstance(a, dict)]

    async def running(self, machine_id: str, ours: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """The newest of our actions still running on the machine (sent before a crash, or by an analyst)."""
        actions = await self.machine_actions(machine_id)
        return latest([a for a in actions if a.get("status") in RUNNING and ours(a)])

    async def start(
        self, machine_id: str, call: str, body: dict[str, Any], ours: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """The machine action doing ``call``: one already running that is ours, else a new one."""
        found = await self.running(machine_id, ours)
        if found is not None:
            return found
        try:
            answer = json_body(
                self.http, await self.api.request("POST", f"/api/machines/{machine_id}/{call}", json=body)
            )
            return answer if isinstance(answer, dict) else {}
        except VendorRejected as error:
            if error.code != "ActiveRequestAlreadyExists":
                raise
        # Another action holds the machine: follow it if it is ours, else come back later.
        actions = await self.machine_actions(machine_id)
        mine = latest([a for a in actions if a.get("status") in RUNNING and ours(a)])
        if mine is not None:
            return mine
        kinds = ", ".join(sorted({str(a.get("type")) for a in actions if a.get("status") in RUNNING}))
        raise TransientError(f"{VENDOR}: another machine action is in progress ({kinds or 'unknown'})")

    async def follow(self, record: dict[str, Any]) -> Followed:
        """Poll the machine action until it ends or the settings' timeout passes (then still running)."""
        if record.get("status") not in RUNNING:
            return Followed(record)
        action_id = str(record.get("id"))

        async def read() -> dict[str, Any]:
            answer = json_body(self.http, await self.api.request("GET", f"/api/machineactions/{action_id}"))
            return answer if isinstance(answer, dict) else {}

        return Followed(await poll(self.ctx, self.settings, read, lambda a: a.get("status") not in RUNNING))

    async def run_script(self, machine_id: str, script: str, args: str) -> Followed:
        """Run one library script on the machine (or follow the same run already going) and follow it."""
        body = {
            "Commands": [
                {
                    "type": "RunScript",
                    "params": [{"key": "ScriptName", "value": script}, {"key": "Args", "value": args}],
                }
            ],
            "Comment": f"Garrison incident {self.ctx.incident_id}",
        }
        record = await self.start(machine_id, "runliveresponse", body, same_script(script, args))
        return await self.follow(record)

    async def script_output(self, action_id: str, script: str) -> dict[str, Any]:
        """The script's GARRISON-RESULT, read from MDE's result file (a short-lived storage link)."""
        link = json_body(
            self.http,
            await self.api.request(
                "GET", f"/api/machineactions/{action_id}/GetLiveResponseResultDownloadLink(index=0)"
            ),
        )
        url = link.get("value") if isinstance(link, dict) else None
        if not isinstance(url, str) or not self._allowed(url):
            raise PermanentError(f"{VENDOR}: the result link of {script} is not on MDE's storage")
        # The link is signed: sent without our bearer token, which must never leave the MDE API.
        response = await self.http.request("GET", url)
        return script_result(response.content, script)

    def _allowed(self, url: str) -> bool:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            return False
        host = parsed.host.lower()
        return parsed.scheme == "https" and any(
            host == domain or host.endswith(f".{domain}") for domain in self.settings.result_domains
        )


def same_script(script: str, args: str) -> Callable[[dict[str, Any]], bool]:
    def ours(record: dict[str, Any]) -> bool:
        return record.get("type") == "LiveResponse" and live_response_commands(record) == [(script, args)]

    return ours
