"""Wazuh active response: block an IP on the tenant's chosen agents (``PUT /active-response``).

Authentication: Basic credentials for a JWT (``POST /security/user/authenticate``), cached. The command
(default ``firewall-drop``, a name defined in the manager's ossec.conf; a ``!script`` runs a script by
file name) runs on the agents listed in the tenant's settings — never ``all``. Active response is fire and
forget: the agent lifts the block itself after the timeout configured on the manager, and no API reads or
reverses it, so this action declares no inverse and cannot read state. Shapes:
tests/fixtures/vendors/wazuh_*.json.
"""

from __future__ import annotations

import base64
from typing import Annotated

from pydantic import Field, StringConstraints

from ._capabilities import Capability
from ._context import ActionContext
from ._errors import PermanentError, VendorRejected
from ._inputs import IpInput
from ._registry import action, registry
from ._result import ActionResult, ActionStatus
from ._vendor import BearerSession, VendorClient, VendorSettings, json_body, open_http, succeeded
from .http import VendorHttp, VendorPolicy

VENDOR = "wazuh"
SECRETS = ["wazuh_user", "wazuh_password"]
DOC = "https://documentation.wazuh.com/current/user-manual/api/reference.html#operation/api.controllers.active_response_controller.run_command"
# The manager's API allows 300 requests a minute by default (max_request_per_minute).
POLICY = VendorPolicy(rate_per_second=4.0, burst=5)


class WazuhSettings(VendorSettings):
    agents_list: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{3,}$")]] = Field(
        min_length=1, description="Agent ids that enforce IP blocks (e.g. gateways), never 'all'."
    )
    block_command: str = Field(
        default="firewall-drop",
        pattern=r"^!?[A-Za-z0-9_.-]{1,64}$",
        description="Active-response command name (or !script file name) that blocks alert.data.srcip.",
    )


class _Wazuh(VendorClient):
    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(VENDOR, WazuhSettings)
        self._user, self._password = ctx.secret("wazuh_user"), ctx.secret("wazuh_password")
        basic = base64.b64encode(f"{self._user}:{self._password}".encode()).decode()
        self._basic = basic
        self.http = open_http(ctx, VENDOR, self.settings, POLICY, secrets=[self._user, self._password, basic])
        self.api = BearerSession(self.http, [self.settings.base_url, self._user, self._password], self._fetch)

    async def _fetch(self, http: VendorHttp) -> tuple[str, float]:
        response = await http.request(
            "POST", "/security/user/authenticate", headers={"Authorization": f"Basic {self._basic}"}
        )
        token = (json_body(http, response).get("data") or {}).get("token")
        if not isinstance(token, str) or not token:
            raise PermanentError("wazuh: the authenticate answer has no token")
        return token, 900.0  # auth_token_exp_timeout's default


registry.declare_settings(VENDOR, WazuhSettings)


@action(
    key="wazuh.block_ip",
    inputs=IpInput,
    capability=Capability.BLOCK_IP,
    secrets=SECRETS,
    inverse=None,
    doc_url=DOC,
    call="PUT /active-response?agents_list=<agents> {{command: <block_command>, alert.data.srcip: {ip}}}",
)
async def block_ip(inputs: IpInput, ctx: ActionContext) -> ActionResult:
    """Run the Wazuh active response that drops the IP (firewall-drop) on the tenant's blocking agents."""
    async with _Wazuh(ctx) as wazuh:
        body = {
            "command": wazuh.settings.block_command,
            "arguments": [],
            "alert": {"data": {"srcip": str(inputs.ip)}},
        }
        agents = ",".join(wazuh.settings.agents_list)
        response = await wazuh.api.request(
            "PUT", "/active-response", params={"agents_list": agents, "wait_for_complete": "false"}, json=body
        )
        answer = json_body(wazuh.http, response)
    data = answer.get("data") or {}
    affected = [str(a) for a in data.get("affected_items") or []]
    failed = data.get("failed_items") or []
    if answer.get("error") not in (0, None) and not affected:
        raise VendorRejected(f"wazuh: {wazuh.http.scrub(str(answer.get('message', 'error')))}")
    if failed or not affected:
        detail = f"active response reached {len(affected)} of {len(wazuh.settings.agents_list)} agents"
        return ActionResult(status=ActionStatus.FAILED, detail=detail, vendor_ref=",".join(affected) or None)
    return succeeded(
        f"{wazuh.settings.block_command} sent for {inputs.ip} to agents {', '.join(affected)}",
        vendor_ref=",".join(affected),
    )
