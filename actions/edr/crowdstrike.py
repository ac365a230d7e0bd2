"""CrowdStrike Falcon: network containment of a host (``contain`` / ``lift_containment``), and blocking
domains, IPs and file hashes with custom IOCs (the separate adapter ``crowdstrike_iocs``, see ``_iocs``).

OAuth2 client credentials, the token cached until shortly before expiry; the hostname resolves to exactly
one device id through the devices query API; containment is verified by polling the device's status
(``normal → containment_pending → contained``). Shapes: tests/fixtures/vendors/edr/crowdstrike_*.json.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .._context import ActionContext
from .._errors import VendorRejected
from .._vendor import VendorSettings, client_credentials_token, json_body, one_or_refuse
from ..http import VendorHttp, VendorPolicy
from ._base import ClientCredentials, Side, StatusIsolation, register_host_isolation
from ._iocs import (
    DOMAIN,
    IP,
    SHA256,
    IndicatorClient,
    IndicatorSettings,
    IocKind,
    deleted,
    register_indicator_blocking,
)

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


class _FalconApi(ClientCredentials):
    """The Falcon API behind one API client (containment, or IOC management with its own client)."""

    settings: FalconSettings

    def token_scope(self) -> list[str]:
        return [self.settings.base_url, self._client_id, self._client_secret, self.settings.member_cid or ""]

    async def fetch_token(self, http: VendorHttp) -> tuple[str, float]:
        form = {"client_id": self._client_id, "client_secret": self._client_secret}
        if self.settings.member_cid:
            form["member_cid"] = self.settings.member_cid
        return await client_credentials_token(http, "/oauth2/token", form, default_ttl=1799)


class _Falcon(_FalconApi, StatusIsolation):
    settings: FalconSettings
    id_field, status_field = "device_id", "status"
    noun, shown, still = "device", "device status", "device status still"
    on_the_way = {CONTAINED: CONTAINING, NORMAL: LIFTING}

    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(VENDOR, FalconSettings)
        super().__init__(ctx, VENDOR, self.settings, POLICY)

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
        request="POST /devices/entities/devices-actions/v2?action_name=contain ({hostname})",
        want=CONTAINED,
        doc_url=DOC,
        summary=(
            "Network-contain the host in CrowdStrike Falcon (device action ``contain``), verified by "
            "its status."
        ),
    ),
    release=Side(
        call="lift_containment",
        request="POST /devices/entities/devices-actions/v2?action_name=lift_containment ({hostname})",
        want=NORMAL,
        doc_url=DOC,
        summary=(
            "Lift the host's network containment in CrowdStrike Falcon (device action ``lift_containment``)."
        ),
    ),
)


# -- custom IOCs -------------------------------------------------------------------------------------------
# Shapes from falconpy's IOC service class (``IOC.indicator_create`` / ``indicator_combined`` /
# ``indicator_delete``: POST and DELETE /iocs/entities/indicators/v1, GET /iocs/combined/indicator/v1) and
# its tests; the create body is ``{"comment", "indicators": [{"type", "value", "action", "severity",
# "applied_globally", "platforms", "expiration", "description", "source"}]}``. Falcon prevents only what
# runs (hashes): a domain or an IP can only be detected, which the result says.
IOC_VENDOR = "crowdstrike_iocs"
IOC_SECRETS = ["crowdstrike_iocs_client_id", "crowdstrike_iocs_client_secret"]
IOC_DOC_CREATE = "https://www.falconpy.io/Service-Collections/IOC.html#indicator_create_v1"
IOC_DOC_DELETE = "https://www.falconpy.io/Service-Collections/IOC.html#indicator_delete_v1"
IOCS = "/iocs/entities/indicators/v1"
_FALCON_TYPES = {DOMAIN: ("domain",), IP: ("ipv4", "ipv6"), SHA256: ("sha256",)}
_PREVENTS = {SHA256}  # every other type: detect only
_BLOCKING = ("prevent", "prevent_no_ui", "detect")


class FalconIocSettings(FalconSettings, IndicatorSettings):
    severity: Literal["informational", "low", "medium", "high", "critical"] = Field(
        default="high", description="Severity of the IOCs Garrison creates."
    )


class _FalconIocs(_FalconApi, IndicatorClient):
    settings: FalconIocSettings

    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(IOC_VENDOR, FalconIocSettings)
        super().__init__(ctx, IOC_VENDOR, self.settings, POLICY)

    @staticmethod
    def falcon_type(kind: IocKind, value: str) -> str:
        types = _FALCON_TYPES[kind]
        return types[1] if kind is IP and ":" in value else types[0]

    async def find(self, kind: IocKind, value: str) -> dict[str, Any] | None:
        kind_type = self.falcon_type(kind, value)
        # The value is validated (plain domain, IP, 64 hex): it cannot close the FQL string literal.
        response = await self.api.request(
            "GET", "/iocs/combined/indicator/v1", params={"filter": f"type:'{kind_type}'+value:'{value}'"}
        )
        resources = json_body(self.http, response).get("resources") or []
        same = [
            r
            for r in resources
            if isinstance(r, dict) and r.get("type") == kind_type and str(r.get("value")).lower() == value
        ]
        return same[0] if same else None

    def blocking(self, record: dict[str, Any]) -> bool:
        return record.get("action") in _BLOCKING

    def strength(self, kind: IocKind) -> str:
        if kind in _PREVENTS:
            return "prevent"
        return f"detect only: Falcon cannot prevent a {kind.noun}, it alerts on it"

    async def create(self, kind: IocKind, value: str) -> str:
        note = f"Garrison incident {self.ctx.incident_id}"
        indicator = {
            "type": self.falcon_type(kind, value),
            "value": value,
            "action": "prevent" if kind in _PREVENTS else "detect",
            "severity": self.settings.severity,
            "applied_globally": True,
            "platforms": ["windows", "mac", "linux"],
            "expiration": self.expiration(),
            "description": note,
            "source": "Garrison",
        }
        response = await self.api.request("POST", IOCS, json={"comment": note, "indicators": [indicator]})
        resources = json_body(self.http, response).get("resources") or [{}]
        return str(resources[0].get("id")) if isinstance(resources[0], dict) else "None"

    async def delete(self, indicator_id: str) -> bool:
        return await deleted(self.api.request("DELETE", IOCS, params={"ids": indicator_id}))


def _ioc_requests(kind: IocKind) -> tuple[str, str]:
    """How plans show the IOC create and delete for ``kind`` (``{field}`` is filled with the target)."""
    types = "|".join(_FALCON_TYPES[kind])
    action = "prevent" if kind in _PREVENTS else "detect"
    value = "{" + kind.field + "}"
    return (
        f"POST {IOCS} {{{{type: {types}, value: {value}, action: {action}}}}}",
        f"DELETE {IOCS}?ids=<the {types} indicator {value}>",
    )


register_indicator_blocking(
    _FalconIocs,
    IOC_VENDOR,
    IOC_SECRETS,
    settings=FalconIocSettings,
    product="CrowdStrike Falcon",
    kinds={kind: (IOC_DOC_CREATE, IOC_DOC_DELETE) for kind in _FALCON_TYPES},
    requests=_ioc_requests,
)
from . import crowdstrike_rtr  # noqa: E402, F401 - registers crowdstrike_rtr.* (RTR: its own API client)
