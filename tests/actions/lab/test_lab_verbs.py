"""The lab's remaining verbs have real effects, capture what their inverse needs, and read their state."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actions.lab  # noqa: F401 - registers the lab.* actions
from actions import (
    ActionContext,
    ActionResult,
    ActionStatus,
    Effect,
    PermanentError,
    TargetNotFound,
    registry,
)
from actions.lab import AccountSeed, FileSeed, HostSeed, LabFleet, ProcessSeed, ServiceSeed, TaskSeed
from flows.store import Store

HOST = "WS-DUOBEAN-3"
SHA = "5c2d6daaf85a710605678f8e7ef0b725b33303f3234197b9dc4b46196734a4f0"
TASK = r"\Microsoft\Windows\Updater"


@pytest.fixture
def fleet(store: Store) -> LabFleet:
    fleet = LabFleet(store.engine)
    fleet.seed(
        HostSeed(
            tenant="demo",
            hostname=HOST,
            services=[ServiceSeed(name="SoftwareUpdate", binary_path=r"C:\Users\a\AppData\Roaming\u.exe")],
            scheduled_tasks=[TaskSeed(name=TASK, command="powershell -enc SQBFAFgA")],
            processes=[ProcessSeed(pid=4242, name="msiexec.exe", command_line="msiexec /q")],
            files=[FileSeed(path=r"C:\Users\a\AppData\Roaming\MSVCR110.dll", sha256=SHA)],
        )
    )
    fleet.seed_accounts("demo", [AccountSeed(name="vpn-jdoe")])
    return fleet


def run(store: Store, key: str, inputs: dict[str, Any], **kwargs: Any) -> ActionResult:
    ctx = ActionContext(tenant=kwargs.pop("tenant", "demo"), incident_id="i1", db=store.engine, **kwargs)
    return asyncio.run(registry.get(key).run(inputs, ctx))


def state(store: Store, key: str, inputs: dict[str, Any]) -> Effect:
    ctx = ActionContext(tenant="demo", incident_id="i1", db=store.engine)
    return asyncio.run(registry.get(key).read_state(inputs, ctx)).effect


def host(fleet: LabFleet) -> dict[str, Any]:
    [found] = fleet.show("demo", HOST)
    return found


def test_disable_service_captures_the_start_type_and_enable_restores_it(
    store: Store, fleet: LabFleet
) -> None:
    target = {"hostname": HOST, "name": "SoftwareUpdate"}

    done = run(store, "lab.disable_service", target)

    assert done.ok and done.changed and done.undo == {**target, "start_type": "auto"}
    assert host(fleet)["services"][0]["start_type"] == "disabled"
    assert state(store, "lab.disable_service", target) is Effect.APPLIED
    assert run(store, "lab.disable_service", target).changed is False
    restored = run(store, "lab.enable_service", done.undo)
    assert restored.ok and host(fleet)["services"][0]["start_type"] == "auto"
    assert state(store, "lab.disable_service", target) is Effect.ABSENT


def test_an_unknown_service_is_not_found(store: Store, fleet: LabFleet) -> None:
    with pytest.raises(TargetNotFound, match="no service"):
        run(store, "lab.disable_service", {"hostname": HOST, "name": "Spooler"})


def test_a_deleted_task_comes_back_from_its_captured_data(store: Store, fleet: LabFleet) -> None:
    target = {"hostname": HOST, "name": TASK.lower()}

    deleted = run(store, "lab.delete_scheduled_task", target)

    assert deleted.undo == {
        "hostname": HOST,
        "name": TASK,
        "command": "powershell -enc SQBFAFgA",
        "enabled": True,
    }
    assert host(fleet)["scheduled_tasks"] == []
    assert state(store, "lab.delete_scheduled_task", target) is Effect.APPLIED
    assert run(store, "lab.delete_scheduled_task", target).changed is False
    assert run(store, "lab.restore_scheduled_task", deleted.undo).changed is True
    assert host(fleet)["scheduled_tasks"] == [
        {"name": TASK, "command": "powershell -enc SQBFAFgA", "enabled": True}
    ]


def test_kill_process_ends_it_and_refuses_a_reused_pid(store: Store, fleet: LabFleet) -> None:
    with pytest.raises(PermanentError, match="not 'notepad.exe'"):
        run(store, "lab.kill_process", {"hostname": HOST, "pid": 4242, "name": "notepad.exe"})
    assert host(fleet)["processes"]

    killed = run(store, "lab.kill_process", {"hostname": HOST, "pid": 4242, "name": "MSIEXEC.EXE"})

    assert killed.ok and killed.vendor_ref == "4242" and host(fleet)["processes"] == []
    assert run(store, "lab.kill_process", {"hostname": HOST, "pid": 4242}).changed is False
    assert state(store, "lab.kill_process", {"hostname": HOST, "pid": 4242}) is Effect.APPLIED
    assert registry.get("lab.kill_process").inverse is None


def test_quarantine_and_restore_a_file_by_its_hash(store: Store, fleet: LabFleet) -> None:
    target = {"hostname": HOST, "path": r"c:\users\a\appdata\roaming\msvcr110.dll"}

    held = run(store, "lab.quarantine_file", target)

    assert held.ok and held.undo["sha256"] == SHA and host(fleet)["files"][0]["quarantined"] is True
    assert state(store, "lab.quarantine_file", target) is Effect.APPLIED
    with pytest.raises(PermanentError, match="another sha256"):
        run(store, "lab.restore_file", {**held.undo, "sha256": "0" * 64})
    assert run(store, "lab.restore_file", held.undo).changed is True
    assert host(fleet)["files"][0]["quarantined"] is False
    with pytest.raises(TargetNotFound):
        run(store, "lab.quarantine_file", {"hostname": HOST, "path": r"C:\nope.dll"})


def test_disable_and_enable_an_account(store: Store, fleet: LabFleet) -> None:
    done = run(store, "lab.disable_account", {"account": "VPN-JDOE"})

    assert done.ok and fleet.accounts("demo") == [{"name": "vpn-jdoe", "enabled": False}]
    assert state(store, "lab.disable_account", {"account": "vpn-jdoe"}) is Effect.APPLIED
    assert run(store, "lab.enable_account", {"account": "vpn-jdoe"}).changed is True
    with pytest.raises(TargetNotFound):
        run(store, "lab.disable_account", {"account": "vpn-jdoe"}, tenant="other")


def test_block_and_unblock_a_url(store: Store, fleet: LabFleet) -> None:
    url = {"url": "http://js.mykings.top:280/v.sct"}

    assert run(store, "lab.block_url", url).ok
    assert fleet.blocks("demo") == [{"kind": "url", "value": url["url"]}]
    assert state(store, "lab.block_url", url) is Effect.APPLIED
    assert run(store, "lab.block_url", url).changed is False
    assert run(store, "lab.unblock_url", url).changed is True
    assert state(store, "lab.unblock_url", url) is Effect.APPLIED


def test_read_state_of_the_first_verbs(store: Store, fleet: LabFleet) -> None:
    assert state(store, "lab.isolate_host", {"hostname": HOST}) is Effect.ABSENT
    run(store, "lab.isolate_host", {"hostname": HOST})
    assert state(store, "lab.isolate_host", {"hostname": HOST}) is Effect.APPLIED
    assert state(store, "lab.release_host", {"hostname": HOST}) is Effect.ABSENT
    assert state(store, "lab.block_ip", {"ip": "203.0.113.7"}) is Effect.ABSENT
    assert state(store, "lab.unblock_domain", {"domain": "js.mykings.top"}) is Effect.APPLIED


def test_a_dry_run_reads_state_and_changes_nothing(store: Store, fleet: LabFleet) -> None:
    result = run(store, "lab.isolate_host", {"hostname": HOST}, dry_run=True)

    assert result.status is ActionStatus.SKIPPED and result.changed is True
    assert result.detail == "dry-run: host is not isolated; would run lab.isolate_host"
    assert host(fleet)["isolated"] is False
    with pytest.raises(TargetNotFound):
        run(store, "lab.isolate_host", {"hostname": "WS-NOPE"}, dry_run=True)
