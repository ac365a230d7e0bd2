"""The SentinelOne Management API (v2.1) as ``sentinelone_response`` uses it: one agent by computer name
within the tenant's scope, the blocklist (``/restrictions``), and Remote Script Orchestration.

A console often holds several customers (one site or account each), and a blocklist item or a remote script
applies to whatever its ``filter`` names: every request here carries the tenant's one scope, and the
settings refuse a tenant without one before any call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator, model_validator

from .._context import ActionContext
from .._errors import PermanentError, TargetNotFound, VendorRejected
from .._vendor import VendorClient, VendorSettings, json_body, one_or_refuse, open_http, poll
from ..http import VendorPolicy
from .sentinelone import agents_filter

VENDOR = "sentinelone_response"
SECRETS = [f"{VENDOR}_api_token"]
POLICY = VendorPolicy(rate_per_second=5.0, burst=5)
API = "/web/api/v2.1"
AGENTS = f"{API}/agents"
RESTRICTIONS = f"{API}/restrictions"
EXECUTE = f"{API}/remote-scripts/execute"
STATUS = f"{API}/remote-scripts/status"
# Remote script task states that no longer change (SEKOIA-IO's and XSOAR's SentinelOne integrations).
DONE, ENDED_BADLY = "completed", ("failed", "canceled", "cancelled", "expired")
_ID = r"^[0-9]{1,24}$"
_PRINTABLE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


class SentinelOneResponseSettings(VendorSettings):
    site_ids: list[str] = Field(
        default_factory=list, description="The tenant's sites: every lookup, block and script stays in them."
    )
    account_ids: list[str] = Field(
        default_factory=list, description="The tenant's accounts, when it is scoped by account instead."
    )
    registry_script_id: str | None = Field(
        default=None, pattern=_ID, description="Script library id of garrison-s1-reg.ps1 (delete a value)."
    )
    task_script_id: str | None = Field(
        default=None, pattern=_ID, description="Script library id of garrison-s1-task.ps1 (delete a task)."
    )
    service_script_id: str | None = Field(
        default=None, pattern=_ID, description="Script library id of garrison-s1-svc.ps1 (disable a service)."
    )
    script_timeout: int = Field(
        default=120, ge=10, le=3600, description="scriptRuntimeTimeoutSeconds of each remote script."
    )
    # A remote script waits for an offline agent; past this the action is PENDING.
    verify_timeout: float = Field(default=300.0, ge=0, description="Seconds to follow a remote script.")

    @field_validator("site_ids", "account_ids")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        if any(not re.fullmatch(_ID, i) for i in value):
            raise ValueError("must be SentinelOne ids (digits only)")
        return value

    @model_validator(mode="after")
    def _one_scope(self) -> SentinelOneResponseSettings:
        if bool(self.site_ids) == bool(self.account_ids):
            raise ValueError(
                "give exactly one of site_ids or account_ids: without a scope a blocklist item or a remote "
                "script would reach every customer of the console"
            )
        return self

    @property
    def scope(self) -> tuple[str, list[str]]:
        """The filter key and ids of the tenant's scope: ``("siteIds", […])`` or ``("accountIds", […])``."""
        return ("siteIds", self.site_ids) if self.site_ids else ("accountIds", self.account_ids)


def one_line(text: object, limit: int = 300) -> str:
    """Vendor text made safe for a result's detail: one line, capped."""
    flat = _PRINTABLE.sub(" ", str(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class ScriptRun:
    """A remote script task as it stood when Garrison stopped following it (``task`` empty: none yet)."""

    parent_task_id: str
    task: dict[str, Any]
    awaiting_approval: bool = False

    @property
    def status(self) -> str:
        return str(self.task.get("status", "")).lower()


class S1Response(VendorClient):
    """One action's client of the SentinelOne console, for blocklist items and remote scripts."""

    def __init__(self, ctx: ActionContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings(VENDOR, SentinelOneResponseSettings)
        token = ctx.secret(SECRETS[0])
        self.http = open_http(
            ctx,
            VENDOR,
            self.settings,
            POLICY,
            secrets=[token],
            headers={"Authorization": f"ApiToken {token}"},
        )

    def _scope_params(self) -> dict[str, str]:
        key, ids = self.settings.scope
        return {key: ",".join(ids)}

    def _data(self, response: Any) -> Any:
        body = json_body(self.http, response)
        return body.get("data") if isinstance(body, dict) else None

    # -- agents --------------------------------------------------------------------------------------

    async def agent(self, hostname: str) -> dict[str, Any]:
        """The one agent of that computer name in the tenant's scope (or TargetNotFound)."""
        response = await self.http.request(
            "GET", AGENTS, params={"computerName": hostname, **self._scope_params()}
        )
        agents = [
            a
            for a in self._data(response) or []
            if isinstance(a, dict) and str(a.get("computerName", "")).lower() == hostname.lower()
        ]
        return one_or_refuse(agents, "SentinelOne", hostname, self.ctx.tenant)

    def agent_filter(self, agent_id: str) -> dict[str, list[str]]:
        key, ids = self.settings.scope
        # agents_filter refuses a filter without an agent id: it would reach every agent of the scope.
        found = agents_filter([agent_id], ids if key == "siteIds" else None)
        return found if key == "siteIds" else {**found, key: list(ids)}

    # -- blocklist -----------------------------------------------------------------------------------

    async def blocklist_items(self, sha256: str) -> list[dict[str, Any]]:
        """The tenant's Windows blocklist items for exactly this SHA-256."""
        # value__contains, not value: `value` matches case-sensitively and only the SHA-1 field (XSOAR's
        # SentinelOne-V2 notes both); the exact comparison below keeps the match exact.
        params = {
            "type": "black_hash",
            "osTypes": "windows",
            "value__contains": sha256,
            "limit": "100",
            **self._scope_params(),
        }
        items = self._data(await self.http.request("GET", RESTRICTIONS, params=params)) or []
        return [i for i in items if isinstance(i, dict) and self._same_hash(i, sha256) and self._ours(i)]

    @staticmethod
    def _same_hash(item: dict[str, Any], sha256: str) -> bool:
        values = {str(item.get(k) or "").lower() for k in ("sha256Value", "value")}
        return item.get("type") == "black_hash" and item.get("osType") == "windows" and sha256 in values

    def _ours(self, item: dict[str, Any]) -> bool:
        # An item carrying its scope must sit in the tenant's own ids (never another customer's, never a
        # group-level item that blocks only part of the site); one without scope came from a scoped query.
        scope = item.get("scope")
        if not isinstance(scope, dict):
            return True
        key, ids = self.settings.scope
        return bool(scope.get(key)) and set(map(str, scope.get(key) or [])) <= set(ids)

    def uncovered(self, items: list[dict[str, Any]]) -> list[str]:
        """The tenant's scope ids that no item blocks in yet."""
        key, ids = self.settings.scope
        covered: set[str] = set()
        for item in items:
            scope = item.get("scope")
            covered |= set(map(str, scope.get(key) or [])) if isinstance(scope, dict) else set(ids)
        return [i for i in ids if i not in covered]

    async def block_hash(self, sha256: str, scope_ids: list[str]) -> list[str]:
        """Create the blocklist item in those scope ids; the ids of what was created."""
        key, _ = self.settings.scope
        body = {
            "data": {
                "type": "black_hash",
                "sha256Value": sha256,
                "osType": "windows",
                "source": "Garrison",
                "description": f"Garrison incident {self.ctx.incident_id}",
            },
            "filter": {key: scope_ids},
        }
        created = self._data(await self.http.request("POST", RESTRICTIONS, json=body))
        rows = created if isinstance(created, list) else [created] if isinstance(created, dict) else []
        return [str(row.get("id")) for row in rows if isinstance(row, dict) and row.get("id")]

    async def delete_items(self, item_ids: list[str]) -> int:
        if not item_ids:
            raise PermanentError(f"{VENDOR}: refusing a blocklist delete without item ids")
        body = {"data": {"type": "black_hash", "ids": item_ids}}
        data = self._data(await self.http.request("DELETE", RESTRICTIONS, json=body))
        return int(data.get("affected") or 0) if isinstance(data, dict) else 0

    # -- remote scripts ------------------------------------------------------------------------------

    def script_id(self, setting: str) -> str:
        found = getattr(self.settings, setting)
        if not found:
            raise PermanentError(
                f"{VENDOR} for tenant {self.ctx.tenant}: settings.{setting} is not set (upload the library "
                "script to the console's script library and give its id)"
            )
        return str(found)

    async def run_script(self, agent_id: str, script_id: str, params: str, description: str) -> ScriptRun:
        """Run one library script on the agent and follow its task to a final state (bounded)."""
        body = {
            "filter": self.agent_filter(agent_id),
            "data": {
                "scriptId": script_id,
                "outputDestination": "SentinelCloud",
                "taskDescription": description,
                "inputParams": params,
                "scriptRuntimeTimeoutSeconds": self.settings.script_timeout,
            },
        }
        data = self._data(await self.http.request("POST", EXECUTE, json=body))
        data = data if isinstance(data, dict) else {}
        parent = str(data.get("parentTaskId") or "")
        if data.get("pending"):
            # A guardrail holds the script for a console user's approval: nothing runs until then.
            return ScriptRun(str(data.get("pendingExecutionId") or parent), {}, awaiting_approval=True)
        if int(data.get("affected") or 0) == 0 or not parent:
            raise TargetNotFound(f"{VENDOR}: the remote script reached no agent ({agent_id} left the scope?)")
        return await poll(
            self.ctx,
            self.settings,
            lambda: self._task(parent, agent_id),
            lambda run: run.status == DONE or run.status in ENDED_BADLY,
        )

    async def _task(self, parent: str, agent_id: str) -> ScriptRun:
        # parentTaskId, as SentinelOne's own SDK and XSOAR send it (the API text calls it parent_task_id).
        params = {"parentTaskId": parent, **self._scope_params()}
        tasks = self._data(await self.http.request("GET", STATUS, params=params)) or []
        mine = [t for t in tasks if isinstance(t, dict) and str(t.get("agentId")) == agent_id]
        return ScriptRun(parent, mine[0] if mine else {})


def duplicate(error: VendorRejected) -> bool:
    """Whether SentinelOne refused a blocklist item because it is there already."""
    text = str(error).lower()
    return error.status_code in (400, 409) and ("already exist" in text or "duplicat" in text)
