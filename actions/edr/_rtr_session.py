"""One Falcon Real Time Response session on one host, for one action.

The RTR API client (adapter ``crowdstrike_rtr``) is its own Falcon API client: it needs the "Real time
response (admin): Write" scope, which the containment client must not hold. A hostname resolves to exactly
one Windows device (devices query, then the device's record: the name must match exactly); a session is
opened on it (``RTR_InitSession``, never queued for an offline host), each command is sent with
``RTR_ExecuteAdminCommand`` and polled with ``RTR_CheckAdminCommandStatus`` (sequence 0) until complete,
and the session is deleted (``RTR_DeleteSession``) whatever happened. Batch sessions are out of scope: one
action acts on one host. Shapes: falconpy's RealTimeResponse / RealTimeResponseAdmin endpoints, see
tests/fixtures/vendors/ORIGIN.txt.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from .._context import ActionContext
from .._errors import ActionError, PermanentError, TransientError
from .._vendor import json_body, one_or_refuse, poll
from ..http import VendorPolicy
from .crowdstrike import FalconSettings, _FalconApi

VENDOR = "crowdstrike_rtr"
SECRETS = [f"{VENDOR}_client_id", f"{VENDOR}_client_secret"]
# RTR admits far fewer calls than the rest of the Falcon API; a session's polls share this budget.
POLICY = VendorPolicy(rate_per_second=5.0, burst=5)
SESSIONS = "/real-time-response/entities/sessions/v1"
ADMIN_COMMAND = "/real-time-response/entities/admin-command/v1"
PRODUCT = "CrowdStrike Falcon"
_log = logging.getLogger("garrison.actions.crowdstrike_rtr")


@dataclass(frozen=True)
class Outcome:
    """What one command did: ``complete`` False means it was still running when polling stopped."""

    cloud_request_id: str
    complete: bool
    stdout: str = ""
    stderr: str = ""


class HostSession:
    """An open RTR session: ``run`` one command at a time."""

    def __init__(self, rtr: RtrClient, device_id: str, session_id: str) -> None:
        self.rtr = rtr
        self.device_id = device_id
        self.session_id = session_id

    async def run(self, base_command: str, command_string: str, *, changes: bool = False) -> Outcome:
        """Send the command and poll it until complete (bounded by the tenant's ``verify_timeout``).

        A read that does not complete is transient (sending it again is harmless); a change that does not
        complete is returned incomplete, for the action to report PENDING rather than send it twice.
        """
        body = {"base_command": base_command, "command_string": command_string, "session_id": self.session_id}
        sent = _first(self.rtr, await self.rtr.api.request("POST", ADMIN_COMMAND, json=body))
        request_id = str(sent.get("cloud_request_id") or "")
        if not request_id:
            raise PermanentError(f"{VENDOR}: {base_command} was accepted without a cloud_request_id")

        async def status() -> dict[str, Any]:
            params = {"cloud_request_id": request_id, "sequence_id": 0}
            return _first(self.rtr, await self.rtr.api.request("GET", ADMIN_COMMAND, params=params))

        final = await poll(
            self.rtr.ctx, self.rtr.settings, status, lambda found: found.get("complete") is True
        )
        if final.get("complete") is not True:
            if not changes:
                raise TransientError(
                    f"{VENDOR}: {base_command} did not complete within {self.rtr.settings.verify_timeout:g}s"
                )
            return Outcome(request_id, complete=False)
        return Outcome(request_id, True, str(final.get("stdout") or ""), str(final.get("stderr") or ""))


class RtrClient(_FalconApi):
    """The RTR API of one tenant, for one action."""

    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(VENDOR, FalconSettings)
        super().__init__(ctx, VENDOR, self.settings, POLICY)

    async def device_id(self, hostname: str) -> str:
        """The one Windows device of that name (TargetNotFound for none or several)."""
        response = await self.api.request(
            "GET", "/devices/queries/devices/v1", params={"filter": f"hostname:'{hostname}'"}
        )
        ids = [i for i in json_body(self.http, response).get("resources") or [] if isinstance(i, str)]
        device_id = one_or_refuse(ids, PRODUCT, hostname, self.ctx.tenant)
        response = await self.api.request("GET", "/devices/entities/devices/v2", params={"ids": device_id})
        records = [r for r in json_body(self.http, response).get("resources") or [] if isinstance(r, dict)]
        record = one_or_refuse(records, PRODUCT, device_id, self.ctx.tenant)
        # Defence in depth: the filter must have matched the name exactly (not a prefix, not another host).
        if str(record.get("hostname", "")).lower() != hostname.lower():
            one_or_refuse([], PRODUCT, hostname, self.ctx.tenant)
        platform = str(record.get("platform_name", ""))
        if platform != "Windows":
            raise PermanentError(
                f"{VENDOR}: {hostname} runs {platform or 'an unknown platform'}, not Windows"
            )
        return device_id

    @asynccontextmanager
    async def on_host(self, hostname: str) -> AsyncIterator[HostSession]:
        """A session on the host's one device, deleted on the way out whatever happened."""
        device_id = await self.device_id(hostname)
        opened = await self.api.request(
            "POST", SESSIONS, json={"device_id": device_id, "queue_offline": False}
        )
        session_id = str(_first(self, opened).get("session_id") or "")
        if not session_id:
            raise PermanentError(f"{VENDOR}: no session_id in the answer to a session on {hostname}")
        try:
            yield HostSession(self, device_id, session_id)
        finally:
            try:
                await self.api.request("DELETE", SESSIONS, params={"session_id": session_id})
            except ActionError as error:
                # The session expires by itself within minutes; a failed delete must not hide the outcome.
                _log.warning("%s: session on %s not deleted: %s", VENDOR, hostname, error)


def _first(rtr: RtrClient, response: Any) -> dict[str, Any]:
    resources = json_body(rtr.http, response).get("resources") or []
    if not resources or not isinstance(resources[0], dict):
        raise PermanentError(
            f"{VENDOR}: {response.request.method} {response.request.url.path} has no resources"
        )
    first: dict[str, Any] = resources[0]
    return first
