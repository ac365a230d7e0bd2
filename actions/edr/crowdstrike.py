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
from .._vendor import VendorSettings, client_credentials_token, json_body, one_or_refuse
from ..http import VendorHttp, VendorPolicy
from ._base import ClientCredentials, Side, StatusIsolation, register_host_isolation

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


class _Falcon(ClientCredentials, StatusIsolation):
    settings: FalconSettings
    id_field, status_field = "device_id", "status"
    noun, shown, still = "device", "device status", "device status still"
    on_the_way = {CONTAINED: CONTAINING, NORMAL: LIFTING}

    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(VENDOR, FalconSettings)
        super().__init__(ctx, VENDOR, self.settings, POLICY)

    def token_scope(self) -> list[str]:
        return [self.settings.base_url, self._client_id, self._client_secret, self.settings.member_cid or ""]

    async def fetch_token(self, http: VendorHttp) -> tuple[str, float]:
        form = {"client_id": self._client_id, "client_secret": self._client_secret}
        if self.settings.member_cid:
            form["member_cid"] = self.settings.member_cid
        return await client_credentials_token(http, "/oauth2/token", form, default_ttl=1799)

    async def host(self, hostname: str) -> dict[str, Any]:
        response = await self.api.request(
            "GET", "/devices/queries/devices/v1", params={"filter": f"hostname:'{hostname}'"}
        )
        ids = [i for i in json_body(self.http, response).get("resources") or [] if isinstance(i, str)]
        device_id = one_or_refuse(ids, "CrowdStrike Falcon", hostname, self.ctx.tenant)
        device = await self.host_by_id(device_id)
        # Defence in depth: the filter must have matched the name exactly (not a prefix, not another host).
        if str(device.get("hostname", "")).lower() != hostname.lower():
            one_or_refuse([], "CrowdStrike Falcon", hostname, self.ctx.tenant)
        return device

    async def host_by_id(self, host_id: str) -> dict[str, Any]:
        response = await self.api.request("GET", "/devices/entities/devices/v2", params={"ids": host_id})
        resources = json_body(self.http, response).get("resources") or []
        return one_or_refuse(
            [r for r in resources if isinstance(r, dict)], "CrowdStrike Falcon", host_id, self.ctx.tenant
        )

    async def send(self, call: str, host_id: str, hostname: str) -> None:
        try:
            await self.api.request(
                "POST",
                "/devices/entities/devices-actions/v2",
                params={"action_name": call},
                json={"ids": [host_id]},
            )
        except VendorRejected as error:
            # "already contained"/"not contained" races: trust the device status read next.
            if error.status_code not in (400, 409) or "already" not in str(error).lower():
                raise


register_host_isolation(
    _Falcon,
    VENDOR,
    SECRETS,
    settings=FalconSettings,
    isolate=Side(
        call="contain",
        want=CONTAINED,
        doc_url=DOC,
        summary=(
            "Network-contain the host in CrowdStrike Falcon (device action ``contain``), verified by "
            "its status."
        ),
    ),
    release=Side(
        call="lift_containment",
        want=NORMAL,
        doc_url=DOC,
        summary=(
            "Lift the host's network containment in CrowdStrike Falcon (device action ``lift_containment``)."
        ),
    ),
)
