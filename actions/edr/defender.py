"""Microsoft Defender for Endpoint: isolate / unisolate a machine, verified by polling the machine action.

OAuth2 client credentials against Entra ID (token cached); the hostname resolves to exactly one machine
by ``computerDnsName``; the isolate call answers 201 with a MachineAction in status ``Pending``, polled
until ``Succeeded``/``Failed`` (bounded). ``ActiveRequestAlreadyExists`` means an action is in progress:
Garrison polls that action instead of failing. Shapes: tests/fixtures/vendors/edr/defender_*.json.

Custom indicators (domain, IP, URL, file SHA-256) are the separate adapter ``defender_indicators``, with
its own app registration (``Ti.ReadWrite.All``); see ``_iocs``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .._context import ActionContext
from .._errors import TransientError, VendorRejected
from .._result import ActionResult, ActionStatus, TargetState
from .._vendor import (
    json_body,
    pending,
    poll,
    succeeded,
)
from ..http import VendorPolicy
from . import defender_response  # noqa: F401 - registers defender_response.* (files, registry, tasks, …)
from ._base import IsolationClient, Side, register_host_isolation
from ._entra import MdeApp, MdeAppSettings
from ._iocs import (
    DOMAIN,
    IP,
    SHA256,
    URL,
    IndicatorClient,
    IndicatorSettings,
    IocKind,
    deleted,
    register_indicator_blocking,
)
from ._mde_api import MDE_WINDOWS
from ._status import isolation_state

VENDOR = "defender"
SECRETS = ["defender_client_id", "defender_client_secret"]
DOC_ISOLATE = "https://learn.microsoft.com/en-us/defender-endpoint/api/isolate-machine"
DOC_UNISOLATE = "https://learn.microsoft.com/en-us/defender-endpoint/api/unisolate-machine"
# Machine actions: 100 calls per minute and 1500 per hour per tenant (Microsoft's documented limits).
POLICY = VendorPolicy(rate_per_second=1.5, burst=10, windows=MDE_WINDOWS)
RUNNING = ("Pending", "InProgress")
ENDED_BADLY = ("Failed", "TimeOut", "Cancelled")


class DefenderSettings(MdeAppSettings):
    isolation_type: Literal["Full", "Selective"] = Field(default="Full", description="MDE IsolationType.")


class _DefenderApi(MdeApp):
    """The MDE API behind one Entra ID app (isolation, or indicators with an app of its own)."""

    settings: DefenderSettings


class _Defender(_DefenderApi, IsolationClient):
    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(VENDOR, DefenderSettings)
        super().__init__(ctx, VENDOR, self.settings, POLICY)

    async def machine_actions(self, machine_id: str) -> list[dict[str, Any]]:
        response = await self.api.request(
            "GET", "/api/machineactions", params={"$filter": f"machineId eq '{machine_id}'"}
        )
        return [a for a in json_body(self.http, response).get("value") or [] if isinstance(a, dict)]

    async def machine_action(self, action_id: str) -> dict[str, Any]:
        answer = json_body(self.http, await self.api.request("GET", f"/api/machineactions/{action_id}"))
        return answer if isinstance(answer, dict) else {}

    async def machine_id(self, hostname: str) -> str:
        return str((await self.machine(hostname)).get("id"))

    async def state(self, hostname: str, side: Side) -> TargetState:
        machine_id = await self.machine_id(hostname)
        return _state(machine_id, await self.machine_actions(machine_id), side.want)

    async def change(self, hostname: str, side: Side) -> ActionResult:
        machine_id = await self.machine_id(hostname)
        current = _latest_isolation(await self.machine_actions(machine_id))
        if current is not None and current.get("type") == side.want and current.get("status") == "Succeeded":
            return succeeded(
                f"machine already {side.call}d", changed=False, vendor_ref=str(current.get("id"))
            )
        if current is not None and current.get("type") == side.want and current.get("status") in RUNNING:
            action_record = current  # already requested (by us before a crash, or by an analyst)
        else:
            action_record = await self._request(machine_id, side)
        return await self._verify(action_record, side)

    async def _request(self, machine_id: str, side: Side) -> dict[str, Any]:
        body: dict[str, str] = {"Comment": f"Garrison incident {self.ctx.incident_id}"}
        if side.call == "isolate":
            body["IsolationType"] = self.settings.isolation_type
        try:
            answer = json_body(
                self.http,
                await self.api.request("POST", f"/api/machines/{machine_id}/{side.call}", json=body),
            )
            return answer if isinstance(answer, dict) else {}
        except VendorRejected as error:
            if error.code != "ActiveRequestAlreadyExists":
                raise
        # Another action is running on the machine: follow it if it is ours, else come back later.
        running = [a for a in await self.machine_actions(machine_id) if a.get("status") in RUNNING]
        mine = [a for a in running if a.get("type") == side.want]
        if mine:
            return max(mine, key=lambda a: str(a.get("creationDateTimeUtc", "")))
        kinds = ", ".join(sorted({str(a.get("type")) for a in running})) or "unknown"
        raise TransientError(f"defender: another machine action is in progress ({kinds})")

    async def _verify(self, record: dict[str, Any], side: Side) -> ActionResult:
        action_id = str(record.get("id"))
        final = record
        if record.get("status") in RUNNING:
            final = await poll(
                self.ctx,
                self.settings,
                lambda: self.machine_action(action_id),
                lambda a: a.get("status") not in RUNNING,
            )
        status = final.get("status")
        if status == "Succeeded":
            return succeeded(f"machine {side.call}d", vendor_ref=action_id)
        if status in RUNNING:
            return pending(f"{side.call} requested; machine action still {status}", vendor_ref=action_id)
        return ActionResult(
            status=ActionStatus.FAILED, detail=f"machine action {status}", vendor_ref=action_id
        )


def _latest_isolation(actions: list[dict[str, Any]]) -> dict[str, Any] | None:
    relevant = [
        a for a in actions if a.get("type") in ("Isolate", "Unisolate") and a.get("status") not in ENDED_BADLY
    ]
    return max(relevant, key=lambda a: str(a.get("creationDateTimeUtc", "")), default=None)


# Defender has no isolation status field: the state is its latest isolation machine action, done or not.
_ON_THE_WAY = {"Isolate": "Isolate pending", "Unisolate": "Unisolate pending"}


def _state(machine_id: str, actions: list[dict[str, Any]], want: str) -> TargetState:
    latest = _latest_isolation(actions)
    if latest is None:  # never isolated (or every isolation failed): the machine is on the network
        status, observed, detail = "Unisolate", {}, "no isolation action on record"
    else:
        kind = str(latest.get("type"))
        status = kind if latest.get("status") == "Succeeded" else f"{kind} pending"
        observed = {"type": latest.get("type"), "status": latest.get("status"), "id": latest.get("id")}
        detail = f"latest {observed['type']} action {observed['status']}"
    return isolation_state(
        status, want, on_the_way=_ON_THE_WAY, detail=detail, vendor_ref=machine_id, observed=observed
    )


register_host_isolation(
    _Defender,
    VENDOR,
    SECRETS,
    settings=DefenderSettings,
    isolate=Side(
        call="isolate",
        request="POST /api/machines/<id of {hostname}>/isolate {{IsolationType: <isolation_type>}}",
        want="Isolate",
        doc_url=DOC_ISOLATE,
        summary=(
            "Isolate the machine in Microsoft Defender for Endpoint, verified by polling the machine action."
        ),
    ),
    release=Side(
        call="unisolate",
        request="POST /api/machines/<id of {hostname}>/unisolate",
        want="Unisolate",
        doc_url=DOC_UNISOLATE,
        summary="Release the machine from isolation in Microsoft Defender for Endpoint (``unisolate``).",
    ),
)


# -- custom indicators -------------------------------------------------------------------------------------
# Shapes from Microsoft's API reference ("Submit or Update Indicator", "List Indicators", "Delete
# Indicator"): POST /api/indicators with indicatorValue, indicatorType, action, title, description,
# expirationTime, severity — a submit of an existing value updates it, so a create is never a duplicate;
# DELETE /api/indicators/{id} answers 204, 404 once gone.
IND_VENDOR = "defender_indicators"
IND_SECRETS = ["defender_indicators_client_id", "defender_indicators_client_secret"]
IND_DOC_CREATE = "https://learn.microsoft.com/en-us/defender-endpoint/api/post-ti-indicator"
IND_DOC_DELETE = "https://learn.microsoft.com/en-us/defender-endpoint/api/delete-ti-indicator-by-id"
# Indicators: 100 calls per minute and 1500 per hour (Microsoft's documented limits).
IND_POLICY = VendorPolicy(rate_per_second=1.5, burst=10, windows=MDE_WINDOWS)
_MDE_TYPES = {DOMAIN: "DomainName", IP: "IpAddress", URL: "Url", SHA256: "FileSha256"}
_BLOCKING = ("Block", "BlockAndRemediate", "AlertAndBlock")


class DefenderIndicatorSettings(DefenderSettings, IndicatorSettings):
    severity: Literal["Informational", "Low", "Medium", "High"] = Field(
        default="High", description="Severity of the indicators Garrison submits."
    )


class _DefenderIndicators(_DefenderApi, IndicatorClient):
    settings: DefenderIndicatorSettings

    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(IND_VENDOR, DefenderIndicatorSettings)
        super().__init__(ctx, IND_VENDOR, self.settings, IND_POLICY)

    async def find(self, kind: IocKind, value: str) -> dict[str, Any] | None:
        # The value is validated (no quote can close the OData string literal).
        response = await self.api.request(
            "GET", "/api/indicators", params={"$filter": f"indicatorValue eq '{value}'"}
        )
        same = [
            i
            for i in json_body(self.http, response).get("value") or []
            if isinstance(i, dict)
            and i.get("indicatorType") == _MDE_TYPES[kind]
            and str(i.get("indicatorValue")).lower() == value.lower()
        ]
        return same[0] if same else None

    def blocking(self, record: dict[str, Any]) -> bool:
        return record.get("action") in _BLOCKING

    def strength(self, kind: IocKind) -> str:
        return "BlockAndRemediate" if kind is SHA256 else "Block"

    async def create(self, kind: IocKind, value: str) -> str:
        body = {
            "indicatorValue": value,
            "indicatorType": _MDE_TYPES[kind],
            "action": self.strength(kind),
            "title": f"Garrison incident {self.ctx.incident_id}",
            "description": f"Blocked by Garrison for incident {self.ctx.incident_id}",
            "expirationTime": self.expiration(),
            "severity": self.settings.severity,
        }
        answer = json_body(self.http, await self.api.request("POST", "/api/indicators", json=body))
        return str(answer.get("id")) if isinstance(answer, dict) else "None"

    async def delete(self, indicator_id: str) -> bool:
        return await deleted(self.api.request("DELETE", f"/api/indicators/{indicator_id}"))


def _indicator_requests(kind: IocKind) -> tuple[str, str]:
    """How plans show the indicator create and delete for ``kind`` (``{field}`` is filled with the target)."""
    value = "{" + kind.field + "}"
    return (
        f"POST /api/indicators {{{{indicatorType: {_MDE_TYPES[kind]}, indicatorValue: {value}, action: "
        f"{'BlockAndRemediate' if kind is SHA256 else 'Block'}}}}}",
        f"DELETE /api/indicators/<id of the {_MDE_TYPES[kind]} indicator {value}>",
    )


register_indicator_blocking(
    _DefenderIndicators,
    IND_VENDOR,
    IND_SECRETS,
    settings=DefenderIndicatorSettings,
    product="Microsoft Defender for Endpoint",
    kinds={kind: (IND_DOC_CREATE, IND_DOC_DELETE) for kind in _MDE_TYPES},
    requests=_indicator_requests,
)
