"""A fake Windows host behind the Falcon API for the ``crowdstrike_rtr`` tests: device lookup, RTR sessions,
admin commands sent and polled as falconpy's RealTimeResponseAdmin does, and what each command does to the
host. The fixed scripts are played from their contract (arguments as ``Script.call`` quotes them, one JSON
line out), written here again rather than imported, so that a wrong encoding in the adapter shows."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import respx

from actions import ActionContext
from actions.http import HttpPool
from tests.actions._support import vendor_fixture
from tests.actions.edr._indicator_shapes import context

BASE = "https://falcon.test"
SECRETS = {
    "crowdstrike_rtr_client_id": "CANARY-cs-rtr-client-id-4e1b",
    "crowdstrike_rtr_client_secret": "CANARY-cs-rtr-client-secret-a77c",
}
HOST = "WS-FINANCE-07"
TOKEN = "CANARY-issued-token-falcon"
DEVICE = vendor_fixture("crowdstrike-device-entities.json")["resources"][0]["device_id"]
SESSION = vendor_fixture("crowdstrike-rtr-session.json")["resources"][0]["session_id"]
OUTPUTS = vendor_fixture("crowdstrike-rtr-outputs.json")
RUN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
TASK_XML = '<?xml version="1.0" encoding="UTF-16"?><Task><Actions><Exec><Command>powershell.exe</Command>'
TASK_XML += "<Arguments>-enc SQBFAFgA</Arguments></Exec></Actions></Task>"
SHA = "5e0b8f7c6b5a4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b"
_REG_DELETE = re.compile(r'^reg delete "([^"]*)" "([^"]*)"$')
_RUNSCRIPT = re.compile(r'^runscript -CloudFile="(\w+)" -CommandLine="(.*)"$')
_ARG = re.compile(r"-(\w+) '((?:[^']|'')*)'")
# A value as the host holds it: REG_SZ / REG_EXPAND_SZ text, REG_MULTI_SZ strings, numbers, bytes.
Value = tuple[str, str | list[str] | int | bytes]


def ctx(pool: HttpPool, **kwargs: Any) -> ActionContext:
    settings = {"base_url": BASE, "verify_timeout": 30, "poll_interval": 2}
    return context(pool, "crowdstrike_rtr", settings, SECRETS, **kwargs)


def one_session_closed(falcon: FakeRtr) -> None:
    """One session was opened on the device, every command was sent in it, and it was deleted."""
    assert falcon.init.call_count == 1 and falcon.close.call_count == 1
    assert json.loads(falcon.init.calls.last.request.content) == {"device_id": DEVICE, "queue_offline": False}
    assert falcon.close.calls.last.request.url.params["session_id"] == SESSION
    assert all(
        c["session_id"] == SESSION and set(c) == {"base_command", "command_string", "session_id"}
        for c in falcon.commands
    )


def ps_table(processes: dict[int, str]) -> str:
    """``ps`` as the sensor prints it (the fixture's layout), for the host's processes now."""
    head = OUTPUTS["ps"].splitlines()[:3]
    rows = [
        f"{name:<17}{pid:>5} 11/22/2025 1:40:02 AM           88,004      3.75         612"
        for pid, name in processes.items()
    ]
    return "\n".join([*head, *rows]) + "\n"


class FakeRtr:
    """One Windows host behind the Falcon API: devices lookup, RTR sessions and admin commands, and what
    the commands (RTR's own, the fixed scripts) do to its registry, processes, tasks, services and files."""

    def __init__(self, mock: respx.MockRouter) -> None:
        self.registry: dict[tuple[str, str], Value] = {
            (RUN_KEY.lower(), "updater"): ("REG_SZ", r"C:\Users\Public\updater.exe -silent")
        }
        self.registry_writes = 0
        self.script_errors: dict[str, str] = {}  # script name -> what it prints on stderr
        self.processes = {4242: "powershell", 912: "svchost"}
        self.tasks = {r"\microsoft\windows\bluetooths": TASK_XML}
        self.services = {"software update": "Automatic", "wuauserv": "Manual"}
        self.files = {r"c:\users\o'brien\downloads\invoice.exe": SHA}
        self.vault: dict[str, str] = {}
        self.platform = "Windows"
        self.ids = [DEVICE]
        self.polls_until_done = 1
        self.commands: list[dict[str, Any]] = []
        self._results: dict[str, dict[str, Any]] = {}
        mock.post("/oauth2/token", name="token").respond(
            201, json={"access_token": TOKEN, "expires_in": 1799, "token_type": "bearer"}
        )
        self.query = mock.get("/devices/queries/devices/v1", name="query").mock(side_effect=self._query)
        self.details = mock.get("/devices/entities/devices/v2", name="details").mock(
            side_effect=self._details
        )
        self.init = mock.post("/real-time-response/entities/sessions/v1", name="init").mock(
            side_effect=self._init
        )
        self.close = mock.delete("/real-time-response/entities/sessions/v1", name="close").respond(204)
        self.execute = mock.post("/real-time-response/entities/admin-command/v1", name="execute").mock(
            side_effect=self._execute
        )
        self.status = mock.get("/real-time-response/entities/admin-command/v1", name="status").mock(
            side_effect=self._status
        )

    @property
    def sent(self) -> list[str]:
        return [c["command_string"] for c in self.commands]

    def _query(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"meta": {}, "resources": self.ids, "errors": []})

    def _details(self, request: httpx.Request) -> httpx.Response:
        body = vendor_fixture("crowdstrike-device-entities.json")
        body["resources"][0]["platform_name"] = self.platform
        return httpx.Response(200, json=body)

    def _init(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json=vendor_fixture("crowdstrike-rtr-session.json"))

    def _execute(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.commands.append(body)
        request_id = f"ceaec9d1-7ef7-4bda-aac0-{len(self.commands):012d}"
        stdout, stderr = self._do(body["command_string"])
        self._results[request_id] = {
            "stdout": stdout,
            "stderr": stderr,
            "base": body["base_command"],
            "polls": 0,
        }
        answer = vendor_fixture("crowdstrike-rtr-command.json")
        answer["resources"][0]["cloud_request_id"] = request_id
        return httpx.Response(201, json=answer)

    def _status(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["sequence_id"] == "0"
        result = self._results[request.url.params["cloud_request_id"]]
        result["polls"] += 1
        done = result["polls"] >= self.polls_until_done
        answer = vendor_fixture("crowdstrike-rtr-status.json")
        answer["resources"][0].update(
            base_command=result["base"],
            complete=done,
            stdout=result["stdout"] if done else "",
            stderr=result["stderr"] if done else "",
        )
        return httpx.Response(200, json=answer)

    # -- what the commands do on the host ------------------------------------------------------------

    def _do(self, command: str) -> tuple[str, str]:
        if command == "ps":
            return ps_table(self.processes), ""
        if command.startswith("kill "):
            return ("", "") if self.processes.pop(int(command[5:]), None) else ("", "No such process")
        if (reg := _REG_DELETE.match(command)) is not None:
            return self._reg_delete(*reg.groups())
        script = _RUNSCRIPT.match(command)
        assert script is not None, f"unexpected command {command!r}"
        if script.group(1) in self.script_errors:
            return "", self.script_errors[script.group(1)]
        args = {name: value.replace("''", "'") for name, value in _ARG.findall(script.group(2))}
        answer = getattr(self, f"_{script.group(1)}")(args)
        return "#< CLIXML\n" + json.dumps(answer) + "\n", ""

    def _reg_delete(self, key: str, name: str) -> tuple[str, str]:
        if self.registry.pop((key.lower(), name.lower()), None) is None:
            return "", OUTPUTS["reg_query_absent_stderr"]
        return "", ""

    def _garrison_registry_value(self, args: dict[str, str]) -> dict[str, Any]:
        where = (args["Key"].lower(), args["Name"].lower())
        now = self._read_value(where)
        if args["Action"] == "read":
            return now
        if now == {"present": True, "type": args["Type"], "data": args["DataBase64"]}:
            return {"present": True, "changed": False}
        raw = base64.b64decode(args["DataBase64"])
        text = raw.decode("utf-8", "replace")  # as .NET GetString: unused for REG_BINARY
        kind = args["Type"]
        value: str | list[str] | int | bytes = text
        if kind == "REG_MULTI_SZ":
            value = text.split("\0") if text else []
        elif kind in ("REG_DWORD", "REG_QWORD"):
            value = int(text)
            assert 0 <= value < 2 ** (32 if kind == "REG_DWORD" else 64), "[uint] cast would throw"
        elif kind == "REG_BINARY":
            value = raw
        else:
            assert kind in ("REG_SZ", "REG_EXPAND_SZ"), f"ValidateSet refuses {kind}"
        self.registry[where] = (kind, value)
        self.registry_writes += 1
        return {"present": True, "changed": True}

    def _read_value(self, where: tuple[str, str]) -> dict[str, Any]:
        if where not in self.registry:
            return {"present": False}
        kind, value = self.registry[where]
        if isinstance(value, bytes):
            raw = value
        elif isinstance(value, list):
            raw = "\0".join(value).encode("utf-8")
        else:
            raw = str(value).encode("utf-8")
        return {"present": True, "type": kind, "data": base64.b64encode(raw).decode("ascii")}

    def _garrison_scheduled_task(self, args: dict[str, str]) -> dict[str, Any]:
        path = args["Path"].lower()
        if args["Action"] == "restore":
            if path in self.tasks:
                return {"present": True, "changed": False}
            self.tasks[path] = base64.b64decode(args["XmlBase64"]).decode()
            return {"present": True, "changed": True}
        if path not in self.tasks:
            return {"present": False, "changed": False}
        deleting = args["Action"] == "delete"
        xml = self.tasks.pop(path) if deleting else self.tasks[path]
        return {"present": not deleting, "changed": deleting, "enabled": True, "xml": xml}

    def _garrison_service(self, args: dict[str, str]) -> dict[str, Any]:
        name = args["Name"].lower()
        if name not in self.services:
            return {"present": False}
        before = self.services[name]
        changed = args["Action"] == "set" and before != args["StartType"]
        if changed:
            self.services[name] = args["StartType"]
        return {"present": True, "start_type": before, "changed": changed}

    def _garrison_quarantine_file(self, args: dict[str, str]) -> dict[str, Any]:
        path = args["Path"].lower()
        out = {
            "present": path in self.files,
            "quarantined": path in self.vault,
            "changed": False,
            "sha256": "",
        }
        if args["Action"] == "quarantine" and path in self.files:
            self.vault[path] = self.files.pop(path)
            out.update(present=False, quarantined=True, changed=True, sha256=self.vault[path])
        elif args["Action"] == "restore" and path not in self.files and path in self.vault:
            self.files[path] = self.vault.pop(path)
            out.update(present=True, quarantined=False, changed=True, sha256=self.files[path])
        return out
