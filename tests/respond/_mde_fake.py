"""One customer's Microsoft Defender for Endpoint, faked at the HTTP boundary for end-to-end response tests:
the Entra ID token, machines by ``computerDnsName``, machine actions (isolate / unisolate, live response
``RunScript``, ``StopAndQuarantineFile``) followed to completion, live response results through MDE's
storage link, and the custom indicator list.

A live response script does on the fake host what the library script would (``FakeHost`` of the adapter
tests, which reads ``Args`` as PowerShell binds single-quoted literals), so a test sees the machine a real
run would leave. Shapes are the vendor fixtures of the adapter tests (tests/fixtures/vendors, see their
ORIGIN); every answer is built from them.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx

from tests.actions._support import vendor_fixture
from tests.actions.edr._indicator_shapes import mde_indicator
from tests.actions.edr.test_defender_response import FakeHost, parse_args

API = "https://mde.contoso.test"
LOGIN = "https://login.contoso.test"
BLOB = "https://contosoweu.blob.core.windows.net"
AAD_TENANT = "3f9a1c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"
TOKEN = "CANARY-issued-token-contoso-mde"
RUNNING = ("Pending", "InProgress")


@dataclass
class Machine:
    id: str
    dns_name: str
    host: FakeHost = field(default_factory=FakeHost)
    isolated: bool = False


class FakeMdeTenant:
    """The MDE API of one Entra ID tenant, shared by Garrison's three Defender app registrations."""

    def __init__(self, mock: respx.MockRouter) -> None:
        self.machines: dict[str, Machine] = {}
        self.actions: list[dict[str, Any]] = []
        self.indicators: list[dict[str, Any]] = []
        self.outputs: dict[str, str] = {}
        self.client_ids: list[str] = []
        # Prefect runs each action as a task of its own, on threads: the fake's state is shared.
        self._lock = threading.Lock()
        self.token = mock.post(f"{LOGIN}/{AAD_TENANT}/oauth2/token", name="token").mock(
            side_effect=self._token
        )
        self.machine_list = mock.get(f"{API}/api/machines", name="machines").mock(side_effect=self._machines)
        self.action_list = mock.get(f"{API}/api/machineactions", name="actions").mock(side_effect=self._list)
        self.action_one = mock.get(url__regex=rf"^{API}/api/machineactions/[^/?]+$", name="action").mock(
            side_effect=self._one
        )
        self.link = mock.get(
            url__regex=rf"^{API}/api/machineactions/[^/]+/GetLiveResponseResultDownloadLink\(index=0\)$",
            name="link",
        ).mock(side_effect=self._link)
        self.blob = mock.get(url__startswith=f"{BLOB}/investigation-actions-data/", name="blob").mock(
            side_effect=self._blob
        )
        self.machine_post = mock.post(url__regex=rf"^{API}/api/machines/[^/]+/[A-Za-z]+$", name="post").mock(
            side_effect=self._machine_post
        )
        self.indicator_list = mock.get(f"{API}/api/indicators", name="indicators").mock(
            side_effect=self._indicators
        )
        self.submit = mock.post(f"{API}/api/indicators", name="submit").mock(side_effect=self._submit)
        self.delete = mock.delete(url__regex=rf"^{API}/api/indicators/[^/?]+$", name="delete").mock(
            side_effect=self._delete
        )

    # -- what a test sets up and reads back ----------------------------------------------------------------

    def add_machine(self, machine_id: str, dns_name: str) -> Machine:
        machine = Machine(machine_id, dns_name)
        self.machines[machine_id] = machine
        return machine

    def posts(self, route: respx.Route) -> list[dict[str, Any]]:
        return [json.loads(call.request.content) for call in route.calls]

    def machine_calls(self, verb: str) -> list[dict[str, Any]]:
        """The bodies POSTed to ``/api/machines/<id>/<verb>``, in order."""
        return [
            json.loads(call.request.content)
            for call in self.machine_post.calls
            if call.request.url.path.rsplit("/", 1)[1] == verb
        ]

    def scripts(self) -> list[tuple[str, dict[str, str]]]:
        """Each RunScript sent: its script name and the parameters PowerShell would bind from its Args."""
        found = []
        for body in self.machine_calls("runliveresponse"):
            [command] = body["Commands"]
            params = {p["key"]: p["value"] for p in command["params"]}
            found.append((params["ScriptName"], parse_args(params["Args"])))
        return found

    def api_posts(self) -> list[str]:
        """Every POST that reached the MDE API (the login endpoint is not the API)."""
        return [
            call.request.url.path
            for route in (self.machine_post, self.submit)
            for call in route.calls
            if call.request.method == "POST"
        ]

    # -- the API ------------------------------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        assert form["grant_type"] == ["client_credentials"] and form["resource"], form.keys()
        with self._lock:
            self.client_ids.append(form["client_id"][0])
        return httpx.Response(200, json={**vendor_fixture("defender-token.json"), "access_token": TOKEN})

    def _authorized(self, request: httpx.Request) -> httpx.Response | None:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"error": {"code": "Unauthorized", "message": "no token"}})
        return None

    def _machines(self, request: httpx.Request) -> httpx.Response:
        refused = self._authorized(request)
        if refused:
            return refused
        wanted = request.url.params["$filter"]
        assert wanted.startswith("computerDnsName eq '") and wanted.endswith("'"), wanted
        name = wanted.removeprefix("computerDnsName eq '").removesuffix("'")
        listed = vendor_fixture("defender-machines.json")
        [shape] = listed["value"]
        # MDE compares names without case; it lists the name as the sensor reports it (lower case).
        listed["value"] = [
            {**shape, "id": m.id, "computerDnsName": m.dns_name}
            for m in self.machines.values()
            if m.dns_name.lower() == name.lower()
        ]
        return httpx.Response(200, json=listed)

    def _list(self, request: httpx.Request) -> httpx.Response:
        refused = self._authorized(request)
        if refused:
            return refused
        wanted = request.url.params["$filter"]
        with self._lock:
            found = [self._shown(a) for a in self.actions if wanted == f"machineId eq '{a['machineId']}'"]
        return httpx.Response(200, json={"value": found})

    def _one(self, request: httpx.Request) -> httpx.Response:
        action_id = request.url.path.rsplit("/", 1)[1]
        with self._lock:
            record = next((a for a in self.actions if a["id"] == action_id), None)
            if record is None:
                return httpx.Response(404, json={"error": {"code": "NotFound", "message": action_id}})
            if record["status"] in RUNNING:  # the machine is online: it runs the action by the first poll
                self._finish(record)
            return httpx.Response(200, json=self._shown(record))

    def _machine_post(self, request: httpx.Request) -> httpx.Response:
        refused = self._authorized(request)
        if refused:
            return refused
        _, _, _, machine_id, verb = request.url.path.split("/")
        body = json.loads(request.content)
        with self._lock:
            if machine_id not in self.machines:
                return httpx.Response(404, json={"error": {"code": "NotFound", "message": machine_id}})
            if verb in ("isolate", "unisolate"):
                record = copy.deepcopy(vendor_fixture("mde-isolate-machineaction-response.json"))
                record["type"] = verb.capitalize()
                status = 201
            elif verb == "runliveresponse":
                record = copy.deepcopy(vendor_fixture("defender-response-liveresponse-action.json"))
                [command] = body["Commands"]
                record["commands"][0]["command"] = {"type": command["type"], "params": command["params"]}
                status = 200
            elif verb == "StopAndQuarantineFile":
                record = copy.deepcopy(vendor_fixture("defender-response-stop-and-quarantine.json"))
                record["relatedFileInfo"]["fileIdentifier"] = body["Sha1"].upper()
                status = 201
            else:
                return httpx.Response(404, json={"error": {"code": "NotFound", "message": verb}})
            n = len(self.actions) + 1
            record.update(
                id=f"ma-{n:04d}",
                status="Pending",
                machineId=machine_id,
                computerDnsName=self.machines[machine_id].dns_name,
                requestorComment=body.get("Comment"),
                creationDateTimeUtc=f"2026-11-15T09:{n // 60:02d}:{n % 60:02d}.0000000Z",
            )
            self.actions.append(record)
            return httpx.Response(status, json=self._shown(record))

    def _finish(self, record: dict[str, Any]) -> None:
        machine = self.machines[record["machineId"]]
        record["status"] = "Succeeded"
        if record["type"] in ("Isolate", "Unisolate"):
            machine.isolated = record["type"] == "Isolate"
        elif record["type"] == "StopAndQuarantineFile":
            machine.host.quarantined.add(record["relatedFileInfo"]["fileIdentifier"].lower())
        else:
            params = {p["key"]: p["value"] for p in record["commands"][0]["command"]["params"]}
            printed = machine.host.execute(params["ScriptName"], params["Args"])
            self.outputs[record["id"]] = "GARRISON-RESULT " + json.dumps(printed, separators=(",", ":"))
            record["commands"][0]["commandStatus"] = "Completed"

    def _shown(self, record: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(record)

    def _link(self, request: httpx.Request) -> httpx.Response:
        action_id = request.url.path.split("/")[3]
        link = vendor_fixture("defender-response-result-link.json")
        link["value"] = (
            f"{BLOB}/investigation-actions-data/{action_id}?se=2026-11-15T10%3A00%3A00Z&sig=signed"
        )
        return httpx.Response(200, json=link)

    def _blob(self, request: httpx.Request) -> httpx.Response:
        # The signed storage link is fetched without the MDE token.
        assert "authorization" not in request.headers
        action_id = request.url.path.rsplit("/", 1)[1]
        transcript = vendor_fixture("defender-response-script-transcript.json")
        with self._lock:
            printed = self.outputs[action_id]
        transcript["script_output"] = transcript["script_output"] + "\n" + printed + "\n"
        return httpx.Response(200, json=transcript)

    def _indicators(self, request: httpx.Request) -> httpx.Response:
        refused = self._authorized(request)
        if refused:
            return refused
        wanted = request.url.params["$filter"]
        with self._lock:
            found = [i for i in self.indicators if wanted == f"indicatorValue eq '{i['indicatorValue']}'"]
        return httpx.Response(200, json={"@odata.context": f"{API}/api/$metadata#Indicators", "value": found})

    def _submit(self, request: httpx.Request) -> httpx.Response:
        refused = self._authorized(request)
        if refused:
            return refused
        body = json.loads(request.content)
        with self._lock:
            indicator = mde_indicator(
                str(7001 + len(self.indicators)),
                body["indicatorType"],
                body["indicatorValue"],
                body["action"],
            )
            indicator.update(title=body["title"], description=body["description"])
            self.indicators.append(indicator)
        return httpx.Response(200, json=indicator)

    def _delete(self, request: httpx.Request) -> httpx.Response:
        refused = self._authorized(request)
        if refused:
            return refused
        indicator_id = request.url.path.rsplit("/", 1)[1]
        with self._lock:
            if not any(i["id"] == indicator_id for i in self.indicators):
                error = {"code": "NotFound", "message": f"Indicator {indicator_id} was not found"}
                return httpx.Response(404, json={"error": error})
            self.indicators = [i for i in self.indicators if i["id"] != indicator_id]
        return httpx.Response(204)
