"""CrowdStrike Falcon: network containment of a host (``contain`` / ``lift_containment``).

OAuth2 client credentials, the token cached until shortly before expiry; the hostname resolves to exactly
one device id through the devices query API; containment is verified by polling the device's status
(``normal → containment_pending → contained``). Shapes: tests/fixtures/vendors/edr/crowdstrike_*.json.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .._context import ActionContext
from .._errors import VendorRejected
from .._registry import TargetKind, action
from .._result import ActionResult, TargetState
from .._vendor import (
    BearerSession,
    HostInput,
    VendorClient,
    VendorSettings,
    client_credentials_token,
    json_body,
    one_or_refuse,
    open_http,
    pending,
    poll,
    succeeded,
)
from ..http import VendorHttp, VendorPolicy
from ._status import isolation_state

VENDOR = "crowdstrike"
SECRETS = ["crowdstrike_client_id", "crowdstrike_client_secret"]
DOC = "https://www.falconpy.io/Service-Collections/Hosts.html#performactionv2"
# Falcon allows thousands of calls a minute per client; stay well below and queue.
POLICY = VendorPolicy(rate_per_second=10.0, burst=10)

CONTAINED, CONTAINING, NORMAL, LIFTING = (
    "contained",
    "containment_pending",
    "normal",
    "lift_containment_pending",
)


class FalconSettings(VendorSettings):
    base_url: str = Field(default="https://api.crowdstrike.com", description="Falcon cloud API base URL.")
    member_cid: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{32}$", description="Child CID (Flight Control) of this tenant."
    )


class _Falcon(VendorClient):
    def __init__(self, ctx: ActionContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings(VENDOR, FalconSettings)
        self._client_id = ctx.secret("crowdstrike_client_id")
        self._client_secret = ctx.secret("crowdstrike_client_secret")
        self.http = open_http(
            ctx, VENDOR, self.settings, POLICY, secrets=[self._client_id, self._client_secret]
        )
        self.api = BearerSession(
            self.http,
            [self.settings.base_url, self._client_id, self._client_secret, self.settings.member_cid or ""],
            self._fetch_token,
        )

    async def _fetch_token(self, http: VendorHttp) -> tuple[str, float]:
        form = {"client_id": self._client_id, "client_secret": self._client_secret}
        if self.settings.member_cid:
            form["member_cid"] = self.settings.member_cid
        return await client_credentials_token(http, "/oauth2/token", form, default_ttl=1799)

    async def device(self, hostname: str) -> dict[str, Any]:
        """The one device of that hostname, with its details (status)."""
        response = await self.api.request(
            "GET", "/devices/queries/devices/v1", params={"filter": f"hostname:'{hostname}'"}
        )
        ids = [i for i in json_body(self.http, response).get("resources") or [] if isinstance(i, str)]
        device_id = one_or_refuse(ids, "CrowdStrike Falcon", hostname, self.ctx.tenant)
        device = await self.device_by_id(device_id)
        # Defence in depth: the filter must have matched the name exactly (not a prefix, not another host).
        if str(device.get("hostname", "")).lower() != hostname.lower():
            one_or_refuse([], "CrowdStrike Falcon", hostname, self.ctx.tenant)
        return device

    async def device_by_id(self, device_id: str) -> dict[str, Any]:
        response = await self.api.request("GET", "/devices/entities/devices/v2", params={"ids": device_id})
        resources = json_body(self.http, response).get("resources") or []
        return one_or_refuse(
            [r for r in resources if isinstance(r, dict)], "CrowdStrike Falcon", device_id, self.ctx.tenant
        )

    async def device_action(self, action_name: str, device_id: str) -> None:
        await self.api.request(
            "POST",
            "/devices/entities/devices-actions/v2",
            params={"action_name": action_name},
            json={"ids": [device_id]},
        )


_ON_THE_WAY = {CONTAINED: CONTAINING, NORMAL: LIFTING}


def _state(device: dict[str, Any], *, want: str) -> TargetState:
    status = str(device.get("status", ""))
    return isolation_state(
        status,
        want,
        on_the_way=_ON_THE_WAY,
        detail=f"device status {status or 'unknown'}",
        vendor_ref=device.get("device_id"),
        observed={"status": status},
    )


async def _change(ctx: ActionContext, hostname: str, *, action_name: str, want: str) -> ActionResult:
    async with _Falcon(ctx) as falcon:
        device = await falcon.device(hostname)
        device_id = str(device.get("device_id"))
        status = device.get("status")
        if status == want:
            return succeeded(f"device already {want}", changed=False, vendor_ref=device_id)
        if status != _ON_THE_WAY[want]:
            try:
                await falcon.device_action(action_name, device_id)
            except VendorRejected as error:
                # "already contained"/"not contained" races: trust the device status read below.
                if error.status_code not in (400, 409) or "already" not in str(error).lower():
                    raise
        final = await poll(
            ctx, falcon.settings, lambda: falcon.device_by_id(device_id), lambda d: d.get("status") == want
        )
        if final.get("status") == want:
            return succeeded(f"device {want}", vendor_ref=device_id)
        return pending(f"{action_name} sent; device status still {final.get('status')}", vendor_ref=device_id)


async def _read(ctx: ActionContext, hostname: str, want: str) -> TargetState:
    async with _Falcon(ctx) as falcon:
        return _state(await falcon.device(hostname), want=want)


async def read_contained(inputs: HostInput, ctx: ActionContext) -> TargetState:
    return await _read(ctx, inputs.hostname, CONTAINED)


async def read_released(inputs: HostInput, ctx: ActionContext) -> TargetState:
    return await _read(ctx, inputs.hostname, NORMAL)


@action(
    key="crowdstrike.isolate_host",
    inputs=HostInput,
    target=TargetKind.HOST,
    secrets=SECRETS,
    inverse="crowdstrike.release_host",
    doc_url=DOC,
    read_state=read_contained,
    idempotent=True,
)
async def isolate_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Network-contain the host in CrowdStrike Falcon (device action ``contain``), verified by its status."""
    return await _change(ctx, inputs.hostname, action_name="contain", want=CONTAINED)


@action(
    key="crowdstrike.release_host",
    inputs=HostInput,
    target=TargetKind.HOST,
    secrets=SECRETS,
    inverse="crowdstrike.isolate_host",
    doc_url=DOC,
    read_state=read_released,
    idempotent=True,
)
async def release_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Lift the host's network containment in CrowdStrike Falcon (device action ``lift_containment``)."""
    return await _change(ctx, inputs.hostname, action_name="lift_containment", want=NORMAL)
