"""CrowdStrike Falcon Real Time Response (adapter ``crowdstrike_rtr``), against the fake host of
``_rtr_fake``: one session per action on the host's one Windows device, the exact command lines (quoting,
registry data only ever in base64) for each action, what delete captures put back by restore, state read
for reconciliation, hostile inputs refused before any call, rate limits, the circuit breaker, and secrets
kept out of it all."""

from __future__ import annotations

import asyncio
import base64
import re
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

import actions.edr.crowdstrike  # noqa: F401 - registers the crowdstrike_rtr.* actions
from actions import (
    ActionStatus,
    CircuitOpen,
    Effect,
    PermanentError,
    RateLimited,
    RetryPolicy,
    TargetNotFound,
    TransientError,
    VendorRejected,
    registry,
    retry_async,
)
from actions.edr.crowdstrike_rtr import SCRIPTS
from actions.http import HttpPool
from tests.actions._support import FakeClock, read, run
from tests.actions.edr._indicator_shapes import assert_no_secret_of
from tests.actions.edr._rtr_fake import (
    BASE,
    DEVICE,
    HOST,
    OUTPUTS,
    RUN_KEY,
    SECRETS,
    SHA,
    TASK_XML,
    TOKEN,
    FakeRtr,
    ctx,
    one_session_closed,
    ps_table,
)

REG_SCRIPT = 'runscript -CloudFile="garrison_registry_value" -CommandLine='


@pytest.fixture
def falcon() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield FakeRtr(mock)


# -- registry values -------------------------------------------------------------------------------------


def _read_call(name: str) -> str:
    return f"""{REG_SCRIPT}"-Action 'read' -Key '{RUN_KEY}' -Name '{name}' -Type '' -DataBase64 ''\""""


def _delete(pool: HttpPool, name: str) -> Any:
    return run(
        "crowdstrike_rtr.delete_registry_value", {"hostname": HOST, "key": RUN_KEY, "name": name}, ctx(pool)
    )


def test_delete_registry_value_captures_it_then_deletes_it(
    falcon: FakeRtr, pool: HttpPool, debug_logs: Any
) -> None:
    inputs = {"hostname": HOST, "key": RUN_KEY, "name": "Updater"}

    result = run("crowdstrike_rtr.delete_registry_value", inputs, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.changed is True
    assert result.detail == "registry value deleted"
    assert falcon.sent == [_read_call("Updater"), f'reg delete "{RUN_KEY}" "Updater"']
    assert [c["base_command"] for c in falcon.commands] == ["runscript", "reg"]
    assert result.undo == {**inputs, "type": "REG_SZ", "data": r"C:\Users\Public\updater.exe -silent"}
    assert falcon.registry == {}
    one_session_closed(falcon)
    assert_no_secret_of(SECRETS, result.model_dump_json(), debug_logs.text)


def test_a_run_value_with_quotes_is_deleted_and_restored_exactly(falcon: FakeRtr, pool: HttpPool) -> None:
    where = (RUN_KEY.lower(), "quoted")
    falcon.registry[where] = ("REG_SZ", r'"C:\Program Files\x.exe" /bg')
    before = dict(falcon.registry)

    deleted = _delete(pool, "Quoted")
    restored = run("crowdstrike_rtr.restore_registry_value", deleted.undo, ctx(pool))

    assert deleted.detail == "registry value deleted" and deleted.undo["data"] == before[where][1]
    assert restored.ok and restored.changed is True and falcon.registry == before
    assert falcon.sent[-1] == (
        f"""{REG_SCRIPT}"-Action 'restore' -Key '{RUN_KEY}' -Name 'Quoted' -Type 'REG_SZ' """
        """-DataBase64 'IkM6XFByb2dyYW0gRmlsZXNceC5leGUiIC9iZw=='\""""
    )


MULTI = ["first line\nsecond line", r"C:\x.exe", ""]
HOSTILE_SZ = "a' ; Stop-Computer ; '`$(calc)\"\r\n\u2019 "
KINDS = [
    ("REG_MULTI_SZ", MULTI, MULTI),
    ("REG_SZ", HOSTILE_SZ, HOSTILE_SZ),
    ("REG_EXPAND_SZ", r"%ProgramData%\x.exe", r"%ProgramData%\x.exe"),
    ("REG_DWORD", 0xFFFFFFFF, 0xFFFFFFFF),
    ("REG_QWORD", 2**64 - 1, 2**64 - 1),
    ("REG_BINARY", b"\x00\xff\"'", "AP8iJw=="),
]


@pytest.mark.parametrize(("kind", "value", "data"), KINDS, ids=[kind for kind, _, _ in KINDS])
def test_every_kind_of_data_round_trips_through_base64_only(
    falcon: FakeRtr, pool: HttpPool, kind: str, value: Any, data: Any
) -> None:
    falcon.registry[(RUN_KEY.lower(), "value")] = (kind, value)
    before = dict(falcon.registry)

    deleted = _delete(pool, "Value")
    gone = dict(falcon.registry)
    restored = run("crowdstrike_rtr.restore_registry_value", deleted.undo, ctx(pool))

    assert deleted.detail == "registry value deleted" and (RUN_KEY.lower(), "value") not in gone
    assert (deleted.undo["type"], deleted.undo["data"]) == (kind, data)
    assert restored.ok and restored.changed is True and falcon.registry == before
    line = re.fullmatch(rf"""{REG_SCRIPT}"(.*) -DataBase64 '([A-Za-z0-9+/=]*)'\"""", falcon.sent[-1])
    assert line and line.group(1) == f"-Action 'restore' -Key '{RUN_KEY}' -Name 'Value' -Type '{kind}'"
    assert read("crowdstrike_rtr.restore_registry_value", deleted.undo, ctx(pool)).effect is Effect.APPLIED


def test_restoring_a_value_already_there_with_that_data_is_unchanged(falcon: FakeRtr, pool: HttpPool) -> None:
    undo = {"hostname": HOST, "key": RUN_KEY, "name": "Updater", "type": "REG_SZ"}
    undo["data"] = r"C:\Users\Public\updater.exe -silent"

    again = run("crowdstrike_rtr.restore_registry_value", undo, ctx(pool))

    assert again.ok and again.changed is False and again.detail == "value was already in place"
    assert len(falcon.sent) == 1 and "-Action 'restore'" in falcon.sent[0] and falcon.registry_writes == 0


def test_a_kind_restore_cannot_write_is_deleted_and_said_so(falcon: FakeRtr, pool: HttpPool) -> None:
    falcon.registry[(RUN_KEY.lower(), "odd")] = ("REG_NONE", b"\x01\x02")

    result = _delete(pool, "Odd")

    assert result.ok and result.undo["type"] == "REG_NONE" and result.undo["data"] == "AQI="
    assert result.detail.startswith("registry value deleted; type REG_NONE cannot be written back")
    assert result.detail.endswith("restore it by hand from the captured data")
    with pytest.raises(ValidationError, match="REG_NONE"):
        run("crowdstrike_rtr.restore_registry_value", result.undo, ctx(pool))


def test_an_absent_value_is_already_deleted(falcon: FakeRtr, pool: HttpPool) -> None:
    result = _delete(pool, "Gone")

    assert result.ok and result.changed is False and result.detail == "value was already absent"
    assert falcon.sent == [_read_call("Gone")] and result.undo == {}


def test_a_failing_read_is_not_read_as_absent(falcon: FakeRtr, pool: HttpPool) -> None:
    falcon.script_errors["garrison_registry_value"] = OUTPUTS["access_denied_stderr"]

    with pytest.raises(PermanentError, match="script garrison_registry_value failed: Access is denied"):
        _delete(pool, "Updater")

    assert len(falcon.sent) == 1 and falcon.close.call_count == 1 and len(falcon.registry) == 1


# -- processes -------------------------------------------------------------------------------------------


def test_kill_process_checks_ps_then_kills_the_pid(falcon: FakeRtr, pool: HttpPool) -> None:
    result = run(
        "crowdstrike_rtr.kill_process", {"hostname": HOST, "pid": 4242, "name": "powershell.exe"}, ctx(pool)
    )

    assert result.ok and result.changed is True and result.detail == "process powershell.exe (4242) killed"
    assert falcon.sent == ["ps", "kill 4242"] and [c["base_command"] for c in falcon.commands] == [
        "ps",
        "kill",
    ]
    assert 4242 not in falcon.processes
    one_session_closed(falcon)


def test_a_pid_now_running_another_image_is_refused(falcon: FakeRtr, pool: HttpPool) -> None:
    with pytest.raises(TargetNotFound, match="pid 912 on WS-FINANCE-07 is 'svchost', not 'updater.exe'"):
        run("crowdstrike_rtr.kill_process", {"hostname": HOST, "pid": 912, "name": "updater.exe"}, ctx(pool))

    assert falcon.sent == ["ps"] and 912 in falcon.processes and falcon.close.call_count == 1


def test_no_such_pid_is_not_running_and_nothing_is_killed(falcon: FakeRtr, pool: HttpPool) -> None:
    result = run(
        "crowdstrike_rtr.kill_process", {"hostname": HOST, "pid": 31337, "name": "evil.exe"}, ctx(pool)
    )

    assert result.ok and result.changed is False and result.detail == "process was not running"
    assert falcon.sent == ["ps"]


def test_a_ps_table_with_rows_it_cannot_read_refuses_rather_than_guess(
    falcon: FakeRtr, pool: HttpPool
) -> None:
    falcon._do = lambda command: (ps_table({}) + "garbled row without a pid\n", "")  # type: ignore[method-assign]

    with pytest.raises(PermanentError, match="cannot tell whether pid 4242 runs"):
        run("crowdstrike_rtr.kill_process", {"hostname": HOST, "pid": 4242, "name": "powershell"}, ctx(pool))


def test_kill_process_has_no_inverse() -> None:
    spec = registry.get("crowdstrike_rtr.kill_process")

    assert spec.inverse is None and spec.inverse_declared and "No inverse" in (spec.fn.__doc__ or "")


# -- scheduled tasks ---------------------------------------------------------------------------------------


def test_delete_scheduled_task_runs_the_fixed_script_and_captures_the_xml(
    falcon: FakeRtr, pool: HttpPool
) -> None:
    inputs = {"hostname": HOST, "name": r"\Microsoft\Windows\Bluetooths"}

    result = run("crowdstrike_rtr.delete_scheduled_task", inputs, ctx(pool))

    assert result.ok and result.changed is True and falcon.tasks == {}
    assert falcon.sent == [
        r"""runscript -CloudFile="garrison_scheduled_task" -CommandLine="-Action 'delete' """
        r"""-Path '\Microsoft\Windows\Bluetooths' -XmlBase64 ''" """.rstrip()
    ]
    assert falcon.commands[0]["base_command"] == "runscript"
    assert result.undo == {**inputs, "xml": TASK_XML}
    one_session_closed(falcon)


def test_restore_scheduled_task_registers_the_captured_xml(falcon: FakeRtr, pool: HttpPool) -> None:
    deleted = run(
        "crowdstrike_rtr.delete_scheduled_task",
        {"hostname": HOST, "name": r"\Microsoft\Windows\Bluetooths"},
        ctx(pool),
    )

    restored = run("crowdstrike_rtr.restore_scheduled_task", deleted.undo, ctx(pool))

    assert restored.ok and restored.changed is True
    assert falcon.tasks == {r"\microsoft\windows\bluetooths": TASK_XML}
    encoded = base64.b64encode(TASK_XML.encode()).decode()
    assert falcon.sent[-1].endswith(f"-XmlBase64 '{encoded}'\"") and '"1.0"' not in falcon.sent[-1]


def test_an_absent_task_is_already_deleted(falcon: FakeRtr, pool: HttpPool) -> None:
    result = run("crowdstrike_rtr.delete_scheduled_task", {"hostname": HOST, "name": "Updater"}, ctx(pool))

    assert result.ok and result.changed is False and r"-Path '\Updater'" in falcon.sent[0]


# -- services ----------------------------------------------------------------------------------------------


def test_disable_service_captures_the_start_type_and_enable_restores_it(
    falcon: FakeRtr, pool: HttpPool
) -> None:
    disabled = run(
        "crowdstrike_rtr.disable_service", {"hostname": HOST, "name": "Software Update"}, ctx(pool)
    )

    assert disabled.ok and disabled.changed is True and falcon.services["software update"] == "Disabled"
    assert disabled.undo == {"hostname": HOST, "name": "Software Update", "start_type": "auto"}
    assert falcon.sent == [
        'runscript -CloudFile="garrison_service" '
        """-CommandLine="-Action 'query' -Name 'Software Update' -StartType ''\"""",
        'runscript -CloudFile="garrison_service" '
        """-CommandLine="-Action 'set' -Name 'Software Update' -StartType 'Disabled'\"""",
    ]
    enabled = run("crowdstrike_rtr.enable_service", disabled.undo, ctx(pool))
    assert enabled.ok and enabled.changed is True and falcon.services["software update"] == "Automatic"


def test_an_already_disabled_service_is_success_without_a_change(falcon: FakeRtr, pool: HttpPool) -> None:
    falcon.services["software update"] = "Disabled"

    result = run("crowdstrike_rtr.disable_service", {"hostname": HOST, "name": "Software Update"}, ctx(pool))

    assert result.ok and result.changed is False and result.detail == "service was already disabled"
    assert len(falcon.sent) == 1 and "'query'" in falcon.sent[0]


def test_a_service_that_does_not_exist_is_target_not_found(falcon: FakeRtr, pool: HttpPool) -> None:
    with pytest.raises(TargetNotFound, match="no service named 'Nope'"):
        run("crowdstrike_rtr.disable_service", {"hostname": HOST, "name": "Nope"}, ctx(pool))


def test_a_driver_service_is_never_disabled(falcon: FakeRtr, pool: HttpPool) -> None:
    falcon.services["evildrv"] = "System"

    with pytest.raises(PermanentError, match="is a driver started at System: change it by hand"):
        run("crowdstrike_rtr.disable_service", {"hostname": HOST, "name": "EvilDrv"}, ctx(pool))

    assert falcon.services["evildrv"] == "System" and len(falcon.sent) == 1


# -- files -------------------------------------------------------------------------------------------------


def test_quarantine_moves_the_file_and_restore_moves_it_back(falcon: FakeRtr, pool: HttpPool) -> None:
    path = r"C:\Users\O'Brien\Downloads\invoice.exe"

    quarantined = run("crowdstrike_rtr.quarantine_file", {"hostname": HOST, "path": path}, ctx(pool))

    assert quarantined.ok and quarantined.changed is True and falcon.files == {}
    assert falcon.sent == [
        r"""runscript -CloudFile="garrison_quarantine_file" -CommandLine="-Action 'quarantine' """
        r"""-Path 'C:\Users\O''Brien\Downloads\invoice.exe' -Sha256 ''" """.rstrip()
    ]
    assert quarantined.undo == {"hostname": HOST, "path": path, "sha256": SHA}
    restored = run("crowdstrike_rtr.restore_file", quarantined.undo, ctx(pool))
    assert restored.ok and restored.changed is True and falcon.files == {path.lower(): SHA}
    assert f"-Sha256 '{SHA}'" in falcon.sent[-1]
    assert "moves" in (registry.get("crowdstrike_rtr.quarantine_file").fn.__doc__ or "")


def test_a_file_that_is_nowhere_is_target_not_found(falcon: FakeRtr, pool: HttpPool) -> None:
    with pytest.raises(TargetNotFound, match="no file"):
        run("crowdstrike_rtr.quarantine_file", {"hostname": HOST, "path": r"C:\nope.exe"}, ctx(pool))


# -- reading state for reconciliation ---------------------------------------------------------------------


STATES = [
    ("delete_registry_value", {"key": RUN_KEY, "name": "Updater"}),
    ("delete_scheduled_task", {"name": r"\Microsoft\Windows\Bluetooths"}),
    ("disable_service", {"name": "Software Update"}),
    ("kill_process", {"pid": 4242, "name": "powershell.exe"}),
    ("quarantine_file", {"path": r"C:\Users\O'Brien\Downloads\invoice.exe"}),
]


@pytest.mark.parametrize(("verb", "inputs"), STATES, ids=[verb for verb, _ in STATES])
def test_read_state_is_absent_before_and_applied_after_and_the_inverse_reads_the_other_way(
    falcon: FakeRtr, pool: HttpPool, verb: str, inputs: dict[str, Any]
) -> None:
    inputs = {"hostname": HOST, **inputs}
    key = f"crowdstrike_rtr.{verb}"

    before = read(key, inputs, ctx(pool))
    done = run(key, inputs, ctx(pool))
    after = read(key, inputs, ctx(pool))

    assert before.effect is Effect.ABSENT and after.effect is Effect.APPLIED and after.vendor_ref == DEVICE
    inverse = registry.get(key).inverse
    if inverse is not None:
        assert read(inverse, done.undo, ctx(pool)).effect is Effect.ABSENT
        run(inverse, done.undo, ctx(pool))
        assert read(inverse, done.undo, ctx(pool)).effect is Effect.APPLIED
        assert read(key, inputs, ctx(pool)).effect is Effect.ABSENT


def test_dry_run_reads_but_changes_nothing(falcon: FakeRtr, pool: HttpPool) -> None:
    result = run(
        "crowdstrike_rtr.kill_process",
        {"hostname": HOST, "pid": 4242, "name": "powershell"},
        ctx(pool, dry_run=True),
    )

    assert result.status is ActionStatus.SKIPPED and "would run crowdstrike_rtr.kill_process" in result.detail
    assert falcon.sent == ["ps"] and 4242 in falcon.processes


# -- the host and its session --------------------------------------------------------------------------------


@pytest.mark.parametrize("ids", [[], [DEVICE, "0d4c1b9b5a2f4e1f8c7d6e5f4a3b2c1d"]], ids=["none", "two"])
def test_no_device_or_several_is_target_not_found_and_no_session(
    falcon: FakeRtr, pool: HttpPool, ids: list[str]
) -> None:
    falcon.ids = ids

    with pytest.raises(TargetNotFound, match="refusing to act"):
        run("crowdstrike_rtr.kill_process", {"hostname": HOST, "pid": 4242, "name": "powershell"}, ctx(pool))

    assert not falcon.init.called and not falcon.execute.called


def test_a_host_that_is_not_windows_gets_no_session(falcon: FakeRtr, pool: HttpPool) -> None:
    falcon.platform = "Linux"

    with pytest.raises(PermanentError, match="runs Linux, not Windows"):
        run("crowdstrike_rtr.disable_service", {"hostname": HOST, "name": "cron"}, ctx(pool))

    assert not falcon.init.called


def test_the_session_is_deleted_when_a_command_fails(falcon: FakeRtr, pool: HttpPool) -> None:
    falcon.execute.mock(side_effect=None).respond(
        400, json={"errors": [{"code": 40007, "message": "Command not found"}]}
    )

    with pytest.raises(VendorRejected, match="Command not found"):
        run("crowdstrike_rtr.kill_process", {"hostname": HOST, "pid": 4242, "name": "powershell"}, ctx(pool))

    assert falcon.close.call_count == 1


def test_a_change_still_running_when_polling_stops_is_pending_and_keeps_its_capture(
    falcon: FakeRtr, pool: HttpPool, clock: FakeClock
) -> None:
    inputs = {"hostname": HOST, "key": RUN_KEY, "name": "Updater"}
    falcon.polls_until_done = 1
    first = {"n": 0}
    status = falcon._status

    def slow_delete(request: httpx.Request) -> httpx.Response:
        first["n"] += 1
        falcon.polls_until_done = 1 if first["n"] == 1 else 10**6  # the query completes, the delete never
        return status(request)

    falcon.status.side_effect = slow_delete

    result = run("crowdstrike_rtr.delete_registry_value", inputs, ctx(pool))

    assert result.status is ActionStatus.PENDING and result.vendor_ref and result.undo["type"] == "REG_SZ"
    assert sum(clock.sleeps) <= 30 + 2 and falcon.close.call_count == 1


def test_a_read_still_running_when_polling_stops_is_transient(falcon: FakeRtr, pool: HttpPool) -> None:
    falcon.polls_until_done = 10**6

    with pytest.raises(TransientError, match="ps did not complete within 30s"):
        run("crowdstrike_rtr.kill_process", {"hostname": HOST, "pid": 4242, "name": "powershell"}, ctx(pool))

    assert falcon.sent == ["ps"]


# -- rate limits, the breaker, secrets ---------------------------------------------------------------------


def test_a_429_is_rate_limited_and_the_retry_waits_for_retry_after_then_succeeds(
    falcon: FakeRtr, pool: HttpPool, clock: FakeClock
) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"})])
    init = falcon._init
    falcon.init.side_effect = lambda request: next(answers, None) or init(request)
    inputs = {"hostname": HOST, "pid": 4242, "name": "powershell"}

    with pytest.raises(RateLimited) as caught:
        run("crowdstrike_rtr.kill_process", inputs, ctx(pool))
    limited_at = clock.now
    spec = registry.get("crowdstrike_rtr.kill_process")
    policy = RetryPolicy(attempts=3, give_up_on=(CircuitOpen,))
    result = asyncio.run(retry_async(policy, spec.run, inputs, ctx(pool)))

    assert caught.value.retry_after is not None and caught.value.retry_after >= 7
    assert result.ok and falcon.init.call_count == 2 and clock.now - limited_at >= 7
    assert falcon.close.call_count == 1  # the refused session was never opened, the second one was closed


def test_5xx_is_transient_until_the_circuit_opens_and_no_call_is_made(
    falcon: FakeRtr, pool: HttpPool
) -> None:
    falcon.query.mock(side_effect=None).respond(503, json={"errors": [{"code": 503, "message": "busy"}]})
    inputs = {"hostname": HOST, "pid": 4242, "name": "powershell"}

    for _ in range(5):
        with pytest.raises(TransientError):
            run("crowdstrike_rtr.kill_process", inputs, ctx(pool))
    with pytest.raises(CircuitOpen):
        run("crowdstrike_rtr.kill_process", inputs, ctx(pool))

    assert falcon.query.call_count == 5 and not falcon.init.called


def test_secrets_never_reach_results_errors_or_logs(falcon: FakeRtr, pool: HttpPool, debug_logs: Any) -> None:
    secret = SECRETS["crowdstrike_rtr_client_secret"]
    falcon.init.mock(side_effect=None).respond(
        403, json={"errors": [{"code": 403, "message": f"denied {TOKEN} {secret}"}]}
    )

    with pytest.raises(VendorRejected) as caught:
        run("crowdstrike_rtr.delete_scheduled_task", {"hostname": HOST, "name": "Updater"}, ctx(pool))

    assert caught.value.status_code == 403 and "denied *** ***" in str(caught.value)
    assert_no_secret_of(SECRETS, str(caught.value), debug_logs.text)


# -- hostile inputs ----------------------------------------------------------------------------------------

HOSTILE = [
    ("delete_registry_value", {"key": RUN_KEY, "name": 'Updater" & calc'}),
    ("delete_registry_value", {"key": RUN_KEY, "name": "Updater;calc"}),
    ("delete_registry_value", {"key": RUN_KEY, "name": "Up`dater"}),
    ("delete_registry_value", {"key": RUN_KEY, "name": "Updater\nkill 4"}),
    ("delete_registry_value", {"key": RUN_KEY, "name": "$(calc)"}),
    ("delete_registry_value", {"key": RUN_KEY, "name": "it's"}),
    ("delete_registry_value", {"key": RUN_KEY + r"\..\..\System", "name": "x"}),
    ("delete_registry_value", {"key": r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run", "name": "x"}),
    ("delete_registry_value", {"key": r"\\server\HKLM\Run", "name": "x"}),
    ("delete_scheduled_task", {"name": r"\Microsoft\Windows\x'; Remove-Item C:\ -Recurse; '"}),
    ("delete_scheduled_task", {"name": r"\Microsoft\..\Windows\Defender"}),
    ("delete_scheduled_task", {"name": "\\Microsoft\\Windows\\Blue\u2019tooths"}),
    ("delete_scheduled_task", {"name": "\\Microsoft\\Windows\\$(iex)"}),
    ("disable_service", {"name": "svc' ; Stop-Computer ; '"}),
    ("disable_service", {"name": "svc`n"}),
    ("disable_service", {"name": "svc\r\nnet user"}),
    ("disable_service", {"name": "W*"}),
    ("quarantine_file", {"path": r"\\attacker\share\payload.exe"}),
    ("quarantine_file", {"path": r"\\?\C:\Windows\System32\ntdll.dll"}),
    ("quarantine_file", {"path": r"C:\Users\Public\..\..\Windows\System32\ntdll.dll"}),
    ("quarantine_file", {"path": 'C:\\Users\\x.exe" & calc'}),
    ("quarantine_file", {"path": r"C:\Users\$(calc).exe"}),
    ("quarantine_file", {"path": "C:\\Users\\a\u200b.exe"}),
    ("quarantine_file", {"path": r"invoice.exe"}),
    ("kill_process", {"pid": -1, "name": "x"}),
    ("kill_process", {"pid": 4242}),
    ("restore_registry_value", {"key": RUN_KEY, "name": "x' ; calc ; '", "data": "a"}),
    ("restore_registry_value", {"key": RUN_KEY, "name": "x", "type": "REG_DWORD", "data": "1; calc"}),
    ("restore_registry_value", {"key": RUN_KEY, "name": "x", "type": "REG_DWORD", "data": 2**32}),
    ("restore_registry_value", {"key": RUN_KEY, "name": "x", "type": "REG_BINARY", "data": "00 ff"}),
    ("restore_registry_value", {"key": RUN_KEY, "name": "x", "type": "REG_MULTI_SZ", "data": "a"}),
    ("restore_registry_value", {"key": RUN_KEY, "name": "x", "type": "REG_MULTI_SZ", "data": ["a\0b"]}),
    ("restore_registry_value", {"key": RUN_KEY, "name": "x", "type": "REG_NONE", "data": "AA=="}),
    ("restore_registry_value", {"key": RUN_KEY, "name": "x", "type": "REG_SZ", "data": 1}),
    ("restore_registry_value", {"key": RUN_KEY, "name": "x", "data": "x" * (48 * 1024 + 1)}),
    ("delete_registry_value", {"key": RUN_KEY, "name": "x", "extra": "y"}),
]


@pytest.mark.parametrize(("verb", "inputs"), HOSTILE, ids=[f"{v}-{i}" for i, (v, _) in enumerate(HOSTILE)])
def test_hostile_inputs_are_refused_before_any_call(
    falcon: FakeRtr, pool: HttpPool, verb: str, inputs: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        run(f"crowdstrike_rtr.{verb}", {"hostname": HOST, **inputs}, ctx(pool))

    assert not falcon.query.called and not falcon.init.called and not falcon.execute.called


def test_an_hkcu_key_is_refused_with_the_way_to_name_it() -> None:
    with pytest.raises(ValidationError, match=r"name the user's as HKU\\<SID>"):
        registry.get("crowdstrike_rtr.delete_registry_value").inputs.model_validate(
            {"hostname": HOST, "key": r"HKCU\Software\Run", "name": "x"}
        )


def test_every_action_keeps_the_contract_and_pairs_with_its_inverse() -> None:
    keys = [k for k in registry.keys() if k.startswith("crowdstrike_rtr.")]

    assert len(keys) == 9 and registry.problems() == {}
    for key in keys:
        spec = registry.get(key)
        assert spec.can_read_state and spec.idempotent and spec.secrets == tuple(SECRETS)
    assert (
        registry.vendor_problems("crowdstrike_rtr", {"base_url": "https://api.crowdstrike.com"}, set(SECRETS))
        == []
    )


def test_every_tenant_uploads_four_scripts_each_declaring_the_parameters_it_is_called_with() -> None:
    kinds = ("registry_value", "scheduled_task", "service", "quarantine_file")

    assert {script.name for script in SCRIPTS} == {f"garrison_{kind}" for kind in kinds}
    for script in SCRIPTS:
        declared = script.source[: script.source.index("\n)\n")]
        assert tuple(re.findall(r"\]\$(\w+)", declared)) == script.params, script.name
