"""Vendor answers for the custom-indicator adapters, and a fake of each indicator list.

ORIGIN
- CrowdStrike Falcon IOC Management: falconpy's IOC service class (``indicator_create_v1`` — POST
  /iocs/entities/indicators/v1 with ``{"comment", "indicators": [{"type", "value", "action", "severity",
  "applied_globally", "platforms", "expiration", "description", "source"}]}`` —, ``indicator_combined_v1``
  — GET /iocs/combined/indicator/v1?filter=… —, ``indicator_delete_v1`` — DELETE …?ids=), the PSFalcon
  ``New-FalconIoc`` reference (actions ``no_action allow prevent_no_ui detect prevent``; types; expiration
  ``YYYY-MM-DDThh:mm:ssZ``) and the Falcon API's documented envelope ``{"meta", "resources", "errors"}``;
  the duplicate answer is Falcon's 400 "Duplicate type: … and value: … combination".
- Microsoft Defender for Endpoint: the API reference pages "Indicator resource type", "Submit or Update
  Indicator API" (post-ti-indicator: indicatorValue, indicatorType, action, title, description,
  expirationTime, severity; the response example), "List Indicators" (OData ``{"value": [...]}``) and
  "Delete Indicator" (204 No Content; 404 when it does not exist). Values below are ours.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx
from pydantic import SecretStr

from actions import ActionContext
from actions.http import HttpPool
from tests.actions._support import assert_no_secret


def context(
    pool: HttpPool, vendor: str, settings: dict[str, Any], secrets: dict[str, str], **kwargs: Any
) -> ActionContext:
    """A tenant configuring only ``vendor``, with that adapter's own secrets (canaries)."""
    return ActionContext(
        tenant="acme",
        incident_id="inc-1",
        secrets={name: SecretStr(value) for name, value in secrets.items()},
        vendors={vendor: settings},
        http=pool,
        **kwargs,
    )


def assert_no_secret_of(secrets: dict[str, str], *texts: str) -> None:
    assert_no_secret(*texts)
    assert not any(value in text for value in secrets.values() for text in texts)


FALCON_META = {"query_time": 0.01, "powered_by": "ioc-manager", "trace_id": "5f2c5d0e-0000-4000-8000-ioc"}


def falcon_indicator(ioc_id: str, kind: str, value: str, action: str) -> dict[str, Any]:
    return {
        "id": ioc_id,
        "type": kind,
        "value": value,
        "action": action,
        "severity": "high",
        "applied_globally": True,
        "platforms": ["windows", "mac", "linux"],
        "expiration": "2025-12-22T02:00:00Z",
        "expired": False,
        "deleted": False,
        "source": "Garrison",
        "created_on": "2025-11-22T02:00:00.000000Z",
        "created_by": "api-client-id:CANARY-ioc",
    }


class FakeFalconIocs:
    """The IOC list of one CID: combined query filtered by type and value, create, delete."""

    def __init__(self, mock: respx.MockRouter, token: str) -> None:
        self.iocs: list[dict[str, Any]] = []
        mock.post("/oauth2/token", name="token").respond(
            201, json={"access_token": token, "expires_in": 1799, "token_type": "bearer"}
        )
        self.query = mock.get("/iocs/combined/indicator/v1", name="query").mock(side_effect=self._query)
        self.create = mock.post("/iocs/entities/indicators/v1", name="create").mock(side_effect=self._create)
        self.delete = mock.delete("/iocs/entities/indicators/v1", name="delete").mock(
            side_effect=self._delete
        )

    def add(self, kind: str, value: str, action: str) -> dict[str, Any]:
        ioc = falcon_indicator(f"{len(self.iocs) + 1:064x}", kind, value, action)
        self.iocs.append(ioc)
        return ioc

    def _query(self, request: httpx.Request) -> httpx.Response:
        wanted = request.url.params["filter"]
        found = [i for i in self.iocs if wanted == f"type:'{i['type']}'+value:'{i['value']}'"]
        meta = {**FALCON_META, "pagination": {"limit": 100, "offset": 0, "total": len(found)}}
        return httpx.Response(200, json={"meta": meta, "resources": found, "errors": []})

    def _create(self, request: httpx.Request) -> httpx.Response:
        [wanted] = json.loads(request.content)["indicators"]
        if any(i["type"] == wanted["type"] and i["value"] == wanted["value"] for i in self.iocs):
            message = f"Duplicate type: '{wanted['type']}' and value: '{wanted['value']}' combination."
            return httpx.Response(
                400,
                json={"meta": FALCON_META, "resources": [], "errors": [{"code": 400, "message": message}]},
            )
        ioc = self.add(wanted["type"], wanted["value"], wanted["action"])
        return httpx.Response(201, json={"meta": FALCON_META, "resources": [ioc], "errors": []})

    def _delete(self, request: httpx.Request) -> httpx.Response:
        ioc_id = request.url.params["ids"]
        if not any(i["id"] == ioc_id for i in self.iocs):
            error = {"code": 404, "message": "Could not find indicators for the given ids"}
            return httpx.Response(404, json={"meta": FALCON_META, "resources": [], "errors": [error]})
        self.iocs = [i for i in self.iocs if i["id"] != ioc_id]
        return httpx.Response(200, json={"meta": FALCON_META, "resources": [ioc_id], "errors": []})


def mde_indicator(ioc_id: str, kind: str, value: str, action: str) -> dict[str, Any]:
    # The response example of "Submit or Update Indicator API", with our values.
    return {
        "id": ioc_id,
        "indicatorValue": value,
        "indicatorType": kind,
        "action": action,
        "application": None,
        "source": "Garrison",
        "sourceType": "AadApp",
        "title": "Garrison incident inc-1",
        "creationTimeDateTimeUtc": "2025-11-22T02:00:00.0000000Z",
        "createdBy": "45097602-1234-5678-1234-9f453233e62c",
        "expirationTime": "2025-12-22T02:00:00Z",
        "lastUpdateTime": "2025-11-22T02:00:00.0000000Z",
        "lastUpdatedBy": None,
        "severity": "High",
        "description": "Blocked by Garrison for incident inc-1",
        "recommendedActions": None,
        "rbacGroupNames": [],
    }


class FakeMdeIndicators:
    """The tenant's indicators: list filtered by value (OData), submit-or-update, delete by id."""

    def __init__(self, mock: respx.MockRouter, api: str, login: str, tenant: str, token: str) -> None:
        self.indicators: list[dict[str, Any]] = []
        mock.post(f"{login}/{tenant}/oauth2/token", name="token").respond(
            200, json={"token_type": "Bearer", "expires_in": 3599, "access_token": token}
        )
        self.listing = mock.get(f"{api}/api/indicators", name="list").mock(side_effect=self._list)
        self.submit = mock.post(f"{api}/api/indicators", name="submit").mock(side_effect=self._submit)
        self.delete = mock.delete(url__regex=rf"{api}/api/indicators/[^/?]+$", name="delete").mock(
            side_effect=self._delete
        )

    def add(self, kind: str, value: str, action: str) -> dict[str, Any]:
        indicator = mde_indicator(str(995 + len(self.indicators)), kind, value, action)
        self.indicators.append(indicator)
        return indicator

    def _list(self, request: httpx.Request) -> httpx.Response:
        wanted = request.url.params["$filter"]
        found = [i for i in self.indicators if wanted == f"indicatorValue eq '{i['indicatorValue']}'"]
        return httpx.Response(
            200, json={"@odata.context": "https://mde.test/api/$metadata#Indicators", "value": found}
        )

    def _submit(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        same = [i for i in self.indicators if i["indicatorValue"] == body["indicatorValue"]]
        indicator = (
            same[0] if same else self.add(body["indicatorType"], body["indicatorValue"], body["action"])
        )
        indicator["action"] = body["action"]  # submit *or update*
        return httpx.Response(200, json=indicator)

    def _delete(self, request: httpx.Request) -> httpx.Response:
        ioc_id = request.url.path.rsplit("/", 1)[1]
        if not any(i["id"] == ioc_id for i in self.indicators):
            error = {"code": "NotFound", "message": f"Indicator {ioc_id} was not found", "target": "x"}
            return httpx.Response(404, json={"error": error})
        self.indicators = [i for i in self.indicators if i["id"] != ioc_id]
        return httpx.Response(204)
