"""SentinelOne: disconnect an agent from the network / reconnect it, by an agent-id filter.

A SentinelOne action applies to every agent its filter matches, and an empty filter matches them all:
the filter is built from exactly one resolved agent id, and ``agents_filter`` refuses any filter without
one before any HTTP call. Verified by polling the agent's ``networkStatus``.
Shapes: tests/fixtures/vendors/edr/sentinelone_*.json.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .._context import ActionContext
from .._errors import PolicyViolation, TargetNotFound
from .._vendor import VendorSettings, json_body, one_or_refuse, open_http
from ..http import VendorPolicy
from ._base import Side, StatusIsolation, register_host_isolation

VENDOR = "sentinelone"
SECRETS = ["sentinelone_api_token"]
# The API reference lives on every management console (login needed): Agent Actions.
DOC = "https://usea1-partners.sentinelone.net/api-doc/api-details?category=agent-actions&api=disconnect-from-network"
POLICY = VendorPolicy(rate_per_second=5.0, burst=5)
AGENTS = "/web/api/v2.1/agents"


class SentinelOneSettings(VendorSettings):
    site_ids: list[str] = Field(
        default_factory=list, description="Sites of this tenant: lookups and actions never leave them."
    )


def agents_filter(ids: list[str], site_ids: list[str] | None = None) -> dict[str, list[str]]:
    """The ``filter`` of an agent action: named agents only. Anything that could match every agent of a
    site or account — no ids, blank ids — is refused before a request exists."""
    clean = [i for i in ids if isinstance(i, str) and i.strip()]
    if not clean or len(clean) != len(ids):
        raise PolicyViolation(
            "sentinelone: refusing an agent action without agent ids (it would hit every agent)"
        )
    found: dict[str, list[str]] = {"ids": clean}
    if site_ids:
        found["siteIds"] = list(site_ids)
    return found


class _SentinelOne(StatusIsolation):
    settings: SentinelOneSettings
    id_field, status_field = "id", "networkStatus"
    noun, shown, still = "agent", "agent network", "agent network"
    on_the_way = {"disconnected": "disconnecting", "connected": "connecting"}

    def __init__(self, ctx: ActionContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings(VENDOR, SentinelOneSettings)
        token = ctx.secret("sentinelone_api_token")
        self.http = open_http(
            ctx,
            VENDOR,
            self.settings,
            POLICY,
            secrets=[token],
            headers={"Authorization": f"ApiToken {token}"},
        )

    def _scope(self) -> dict[str, str]:
        return {"siteIds": ",".join(self.settings.site_ids)} if self.settings.site_ids else {}

    async def host(self, hostname: str) -> dict[str, Any]:
        response = await self.http.request("GET", AGENTS, params={"computerName": hostname, **self._scope()})
        agents = [
            a
            for a in json_body(self.http, response).get("data") or []
            if isinstance(a, dict) and str(a.get("computerName", "")).lower() == hostname.lower()
        ]
        return one_or_refuse(agents, "SentinelOne", hostname, self.ctx.tenant)

    async def host_by_id(self, host_id: str) -> dict[str, Any]:
        response = await self.http.request("GET", AGENTS, params={"ids": host_id, **self._scope()})
        agents = [a for a in json_body(self.http, response).get("data") or [] if isinstance(a, dict)]
        return one_or_refuse(agents, "SentinelOne", host_id, self.ctx.tenant)

    async def agent_action(self, verb: str, agent_ids: list[str]) -> int:
        body = {"filter": agents_filter(agent_ids, self.settings.site_ids), "data": {}}
        response = await self.http.request("POST", f"{AGENTS}/actions/{verb}", json=body)
        data = json_body(self.http, response).get("data") or {}
        return int(data.get("affected") or 0)

    async def send(self, call: str, host_id: str, hostname: str) -> None:
        if await self.agent_action(call, [host_id]) == 0:
            # The filter matched nothing: the agent vanished or left the tenant's sites since the lookup.
            raise TargetNotFound(f"sentinelone: {call} affected no agent for {hostname!r}")


register_host_isolation(
    _SentinelOne,
    VENDOR,
    SECRETS,
    settings=SentinelOneSettings,
    isolate=Side(
        call="disconnect",
        request="POST /web/api/v2.1/agents/actions/disconnect (the agent computerName {hostname})",
        want="disconnected",
        doc_url=DOC,
        summary=(
            "Disconnect the agent's host from the network in SentinelOne (``agents/actions/disconnect``)."
        ),
    ),
    release=Side(
        call="connect",
        request="POST /web/api/v2.1/agents/actions/connect (the agent computerName {hostname})",
        want="connected",
        doc_url=DOC,
        summary="Reconnect the agent's host to the network in SentinelOne (``agents/actions/connect``).",
    ),
)

from . import sentinelone_response  # noqa: E402, F401 - registers sentinelone_response.* (blocklist, scripts)
