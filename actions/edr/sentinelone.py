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
from .._registry import TargetKind, action
from .._result import ActionResult, TargetState
from .._vendor import HostInput, VendorSettings, json_body, one_or_refuse, open_http, pending, poll, succeeded
from ..http import VendorHttp, VendorPolicy
from ._status import isolation_state

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


class _SentinelOne:
    def __init__(self, ctx: ActionContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings(VENDOR, SentinelOneSettings)
        token = ctx.secret("sentinelone_api_token")
        self.http: VendorHttp = open_http(
            ctx,
            VENDOR,
            self.settings,
            POLICY,
            secrets=[token],
            headers={"Authorization": f"ApiToken {token}"},
        )

    async def __aenter__(self) -> _SentinelOne:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.__aexit__(None, None, None)

    def _scope(self) -> dict[str, str]:
        return {"siteIds": ",".join(self.settings.site_ids)} if self.settings.site_ids else {}

    async def agent(self, hostname: str) -> dict[str, Any]:
        response = await self.http.request("GET", AGENTS, params={"computerName": hostname, **self._scope()})
        agents = [
            a
            for a in json_body(self.http, response).get("data") or []
            if isinstance(a, dict) and str(a.get("computerName", "")).lower() == hostname.lower()
        ]
        return one_or_refuse(agents, "SentinelOne", hostname, self.ctx.tenant)

    async def agent_by_id(self, agent_id: str) -> dict[str, Any]:
        response = await self.http.request("GET", AGENTS, params={"ids": agent_id, **self._scope()})
        agents = [a for a in json_body(self.http, response).get("data") or [] if isinstance(a, dict)]
        return one_or_refuse(agents, "SentinelOne", agent_id, self.ctx.tenant)

    async def agent_action(self, verb: str, agent_ids: list[str]) -> int:
        body = {"filter": agents_filter(agent_ids, self.settings.site_ids), "data": {}}
        response = await self.http.request("POST", f"{AGENTS}/actions/{verb}", json=body)
        data = json_body(self.http, response).get("data") or {}
        return int(data.get("affected") or 0)


_ON_THE_WAY = {"disconnected": "disconnecting", "connected": "connecting"}


def _state(agent: dict[str, Any], want: str) -> TargetState:
    status = str(agent.get("networkStatus", ""))
    return isolation_state(
        status,
        want,
        on_the_way=_ON_THE_WAY,
        detail=f"agent network {status or 'unknown'}",
        vendor_ref=agent.get("id"),
        observed={"networkStatus": status},
    )


async def _change(ctx: ActionContext, hostname: str, *, verb: str, want: str) -> ActionResult:
    async with _SentinelOne(ctx) as s1:
        agent = await s1.agent(hostname)
        agent_id = str(agent.get("id"))
        if agent.get("networkStatus") == want:
            return succeeded(f"agent already {want}", changed=False, vendor_ref=agent_id)
        # Already on its way (sent before a crash, or by an analyst): follow it rather than send again.
        if agent.get("networkStatus") != _ON_THE_WAY[want]:
            affected = await s1.agent_action(verb, [agent_id])
            if affected == 0:
                # The filter matched nothing: the agent vanished or left the tenant's sites since the lookup.
                raise TargetNotFound(f"sentinelone: {verb} affected no agent for {hostname!r}")
        final = await poll(
            ctx, s1.settings, lambda: s1.agent_by_id(agent_id), lambda a: a.get("networkStatus") == want
        )
        if final.get("networkStatus") == want:
            return succeeded(f"agent {want}", vendor_ref=agent_id)
        return pending(f"{verb} sent; agent network {final.get('networkStatus')}", vendor_ref=agent_id)


async def read_disconnected(inputs: HostInput, ctx: ActionContext) -> TargetState:
    async with _SentinelOne(ctx) as s1:
        return _state(await s1.agent(inputs.hostname), "disconnected")


async def read_connected(inputs: HostInput, ctx: ActionContext) -> TargetState:
    async with _SentinelOne(ctx) as s1:
        return _state(await s1.agent(inputs.hostname), "connected")


@action(
    key="sentinelone.isolate_host",
    inputs=HostInput,
    target=TargetKind.HOST,
    secrets=SECRETS,
    inverse="sentinelone.release_host",
    doc_url=DOC,
    read_state=read_disconnected,
    idempotent=True,
)
async def isolate_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Disconnect the agent's host from the network in SentinelOne (``agents/actions/disconnect``)."""
    return await _change(ctx, inputs.hostname, verb="disconnect", want="disconnected")


@action(
    key="sentinelone.release_host",
    inputs=HostInput,
    target=TargetKind.HOST,
    secrets=SECRETS,
    inverse="sentinelone.isolate_host",
    doc_url=DOC,
    read_state=read_connected,
    idempotent=True,
)
async def release_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Reconnect the agent's host to the network in SentinelOne (``agents/actions/connect``)."""
    return await _change(ctx, inputs.hostname, verb="connect", want="connected")
