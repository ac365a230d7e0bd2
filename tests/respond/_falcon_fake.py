"""One customer's CrowdStrike Falcon cloud, faked at the HTTP boundary for end-to-end response tests: one
router for the OAuth2 token, the devices API (lookup, record, ``contain`` / ``lift_containment`` settling as
the real status does), custom IOCs, and Real Time Response (sessions, admin commands sent and polled).

Each device is a Windows host whose registry, processes, scheduled tasks and files change as RTR's own
commands and the fixed scripts would change them: the adapter tests' ``FakeRtr`` plays them from the
scripts' contract, and is reused here without its routes. Shapes are the vendor fixtures of the adapter
tests (tests/fixtures/vendors, see their ORIGIN).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx

from tests.actions._support import vendor_fixture
from tests.actions.edr._indicator_shapes import FALCON_META, falcon_indicator
from tests.actions.edr._rtr_fake import FakeRtr

BASE = "https://falcon.acme.test"
TOKEN = "CANARY-issued-token-acme-falcon"
SESSIONS = "/real-time-response/entities/sessions/v1"
ADMIN_COMMAND = "/real-time-response/entities/admin-command/v1"
IOCS = "/iocs/entities/indicators/v1"
_HOSTNAME_FILTER = re.compile(r"^hostname:'([^']*)'$")
_SETTLES = {"containment_pending": "contained", "lift_containment_pending": "normal"}
_ASKED = {"contain": "containment_pending", "lift_containment": "lift_containment_pending"}


class WindowsHost(FakeRtr):
    """A Windows host's state and what RTR commands do to it: ``FakeRtr`` without routes of its own (the
    cloud routes each session's commands to its device's host)."""

    def __init__(self) -> None:  # no super().__init__(): that would register a second Falcon on the router
        self.registry = {}
        self.registry_writes = 0
        self.script_errors = {}
        self.processes = {}
        self.tasks = {}
        self.services = {}
        self.files = {}
        self.vault = {}

    def run(self, command: str) -> tuple[str, str]:
        """What the command prints (stdout, stderr) once it ran on this host."""
        return self._do(command)


@dataclass
class Device:
    device_id: str
    hostname: str
    host: WindowsHost = field(default_factory=WindowsHost)
    status: str = "normal"  # Falcon's containment status


@dataclass
class Session:
    session_id: str
    device_id: str
    open: bool = True
    commands: list[dict[str, Any]] = field(default_factory=list)  # each admin command sent in it


class FalconCloud:
    """The Falcon API of one CID, shared by Garrison's three API clients (containment, IOCs, RTR)."""

    def __init__(self, mock: respx.MockRouter) -> None:
        self.devices: dict[str, Device] = {}
        self.iocs: list[dict[str, Any]] = []
        self.sessions: list[Session] = []
        self.client_ids: list[str] = []
        self.device_actions: list[tuple[str, list[str]]] = []  # (action_name, ids)
        self._results: dict[str, dict[str, Any]] = {}
        # Prefect runs each action as a task of its own, on threads: the cloud's state is shared.
        self._lock = threading.Lock()
        self.token = mock.post(f"{BASE}/oauth2/token", name="token").mock(side_effect=self._token)
        self.query = mock.get(f"{BASE}/devices/queries/devices/v1", name="query").mock(
            side_effect=self._query
        )
        self.details = mock.get(f"{BASE}/devices/entities/devices/v2", name="details").mock(
            side_effect=self._details
        )
        self.action = mock.post(f"{BASE}/devices/entities/devices-actions/v2", name="action").mock(
            side_effect=self._device_action
        )
        self.ioc_query = mock.get(f"{BASE}/iocs/combined/indicator/v1", name="ioc-query").mock(
            side_effect=self._ioc_query
        )
        self.ioc_create = mock.post(f"{BASE}{IOCS}", name="ioc-create").mock(side_effect=self._ioc_create)
        self.ioc_delete = mock.delete(f"{BASE}{IOCS}", name="ioc-delete").mock(side_effect=self._ioc_delete)
        self.init = mock.post(f"{BASE}{SESSIONS}", name="init").mock(side_effect=self._init)
        self.close = mock.delete(f"{BASE}{SESSIONS}", name="close").mock(side_effect=self._close)
        self.execute = mock.post(f"{BASE}{ADMIN_COMMAND}", name="execute").mock(side_effect=self._execute)
        self.status = mock.get(f"{BASE}{ADMIN_COMMAND}", name="status").mock(side_effect=self._status)

    def add_device(self, device_id: str, hostname: str) -> Device:
        device = Device(device_id, hostname)
        self.devices[device_id] = device
        return device

    @property
    def commands(self) -> list[str]:
        """Every RTR command line sent, in order."""
        return [c["command_string"] for s in self.sessions for c in s.commands]

    # -- OAuth2 and devices ---------------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        with self._lock:
            self.client_ids.append(form["client_id"][0])
        return httpx.Response(201, json={"access_token": TOKEN, "expires_in": 1799, "token_type": "bearer"})

    def _query(self, request: httpx.Request) -> httpx.Response:
        _authorized(request)
        wanted = _HOSTNAME_FILTER.match(request.url.params["filter"])
        assert wanted is not None, f"unexpected filter {request.url.params['filter']!r}"
        ids = [d.device_id for d in self.devices.values() if d.hostname.lower() == wanted.group(1).lower()]
        return httpx.Response(200, json={"meta": {}, "resources": ids, "errors": []})

    def _details(self, request: httpx.Request) -> httpx.Response:
        _authorized(request)
        body = vendor_fixture("crowdstrike-device-entities.json")
        template = body["resources"][0]
        records = []
        with self._lock:
            for device_id in request.url.params.get_list("ids"):
                device = self.devices[device_id]
                records.append(
                    {**template, "device_id": device_id, "hostname": device.hostname, "status": device.status}
                )
                device.status = _SETTLES.get(device.status, device.status)  # settles by the next read
        body["resources"] = records
        return httpx.Response(200, json=body)

    def _device_action(self, request: httpx.Request) -> httpx.Response:
        _authorized(request)
        name = request.url.params["action_name"]
        ids = json.loads(request.content)["ids"]
        with self._lock:
            self.device_actions.append((name, ids))
            for device_id in ids:
                self.devices[device_id].status = _ASKED[name]
        resources = [{"id": device_id, "path": ""} for device_id in ids]
        return httpx.Response(202, json={"meta": {}, "resources": resources, "errors": []})

    # -- custom IOCs ----------------------------------------------------------------------------------

    def _ioc_query(self, request: httpx.Request) -> httpx.Response:
        _authorized(request)
        wanted = request.url.params["filter"]
        found = [i for i in self.iocs if wanted == f"type:'{i['type']}'+value:'{i['value']}'"]
        meta = {**FALCON_META, "pagination": {"limit": 100, "offset": 0, "total": len(found)}}
        return httpx.Response(200, json={"meta": meta, "resources": found, "errors": []})

    def _ioc_create(self, request: httpx.Request) -> httpx.Response:
        _authorized(request)
        [wanted] = json.loads(request.content)["indicators"]
        with self._lock:
            ioc = falcon_indicator(
                f"{len(self.iocs) + 1:064x}", wanted["type"], wanted["value"], wanted["action"]
            )
            self.iocs.append(ioc)
        return httpx.Response(201, json={"meta": FALCON_META, "resources": [ioc], "errors": []})

    def _ioc_delete(self, request: httpx.Request) -> httpx.Response:
        _authorized(request)
        ioc_id = request.url.params["ids"]
        with self._lock:
            if not any(i["id"] == ioc_id for i in self.iocs):
                error = {"code": 404, "message": "Could not find indicators for the given ids"}
                return httpx.Response(404, json={"meta": FALCON_META, "resources": [], "errors": [error]})
            self.iocs = [i for i in self.iocs if i["id"] != ioc_id]
        return httpx.Response(200, json={"meta": FALCON_META, "resources": [ioc_id], "errors": []})

    # -- Real Time Response ---------------------------------------------------------------------------

    def _init(self, request: httpx.Request) -> httpx.Response:
        _authorized(request)
        body = json.loads(request.content)
        assert body["queue_offline"] is False and body["device_id"] in self.devices
        answer = vendor_fixture("crowdstrike-rtr-session.json")
        with self._lock:
            session = Session(f"fdd6408f-6688-441b-8659-{len(self.sessions) + 1:012d}", body["device_id"])
            self.sessions.append(session)
        answer["resources"][0]["session_id"] = session.session_id
        return httpx.Response(201, json=answer)

    def _close(self, request: httpx.Request) -> httpx.Response:
        _authorized(request)
        session = self._session(request.url.params["session_id"])
        session.open = False
        return httpx.Response(204)

    def _execute(self, request: httpx.Request) -> httpx.Response:
        _authorized(request)
        body = json.loads(request.content)
        session = self._session(body["session_id"])
        assert session.open, f"command sent in closed session {session.session_id}"
        with self._lock:
            session.commands.append(body)
            request_id = f"ceaec9d1-7ef7-4bda-aac0-{len(self._results) + 1:012d}"
            stdout, stderr = self.devices[session.device_id].host.run(body["command_string"])
            self._results[request_id] = {"stdout": stdout, "stderr": stderr, "base": body["base_command"]}
        answer = vendor_fixture("crowdstrike-rtr-command.json")
        answer["resources"][0].update(cloud_request_id=request_id, session_id=session.session_id)
        return httpx.Response(201, json=answer)

    def _status(self, request: httpx.Request) -> httpx.Response:
        _authorized(request)
        assert request.url.params["sequence_id"] == "0"
        result = self._results[request.url.params["cloud_request_id"]]
        answer = vendor_fixture("crowdstrike-rtr-status.json")
        answer["resources"][0].update(
            base_command=result["base"], complete=True, stdout=result["stdout"], stderr=result["stderr"]
        )
        return httpx.Response(200, json=answer)

    def _session(self, session_id: str) -> Session:
        found = [s for s in self.sessions if s.session_id == session_id]
        assert found, f"no session {session_id}"
        return found[0]


def _authorized(request: httpx.Request) -> None:
    assert request.headers.get("authorization") == f"Bearer {TOKEN}", f"{request.url.path} without the token"
