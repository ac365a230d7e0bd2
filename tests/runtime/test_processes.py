"""Children of `garrison up`: restarted with backoff when they die, owner-only files, and nothing left
behind when the supervisor is killed outright, grandchildren that left their process group included."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flows.runtime._processes import MARKER_ENV, ProcessGroup, marked
from flows.runtime._supervisor import RestartPolicy, Runtime
from flows.settings import Settings

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_restart_delay_doubles_and_gives_up_after_five_deaths_in_a_minute() -> None:
    policy = RestartPolicy()
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, None]
    assert RestartPolicy(max_deaths=20).delay(15) == 30.0  # capped


def test_a_dead_child_is_restarted_and_one_that_keeps_dying_stops_the_runtime(tmp_path: Path) -> None:
    group = ProcessGroup(log_dir=tmp_path / "logs")
    runtime = Runtime(settings=Settings(home=tmp_path), group=group, needs_server=frozenset())
    said: list[str] = []
    try:
        child = group.start("flaky", [sys.executable, "-c", "import sys; sys.exit(3)"], dict(os.environ))
        child.process.wait()
        now = 1000.0
        assert runtime.watch(said.append, now=now) is None
        assert said[-1].startswith("flaky exited (code 3); restarting it in 0.5 s")
        assert runtime.watch(said.append, now=now + 0.4) is None and child.generation == 1  # backoff
        assert runtime.watch(said.append, now=now + 0.5) is None and child.generation == 2
        assert said[-1].startswith("flaky restarted (pid ")
        for n in range(3):  # deaths 2, 3, 4: restarted after 1 s, 2 s, 4 s
            child.process.wait()
            now += 5
            assert runtime.watch(said.append, now=now) is None
            assert runtime.watch(said.append, now=now + 4) is None and child.generation == n + 3
        child.process.wait()
        failure = runtime.watch(said.append, now=now + 5)
        assert failure is not None and failure.startswith("flaky keeps dying (5 exits in 60 s")
        log = child.log_path.read_text()
        assert "--- garrison up: exited (code 3); restarting in 0.5 s" in log and "giving up" in log
    finally:
        group.stop(grace_seconds=2)


def test_deaths_outside_the_window_are_forgotten(tmp_path: Path) -> None:
    group = ProcessGroup(log_dir=tmp_path / "logs")
    runtime = Runtime(settings=Settings(home=tmp_path), group=group, needs_server=frozenset())
    try:
        child = group.start("rare", [sys.executable, "-c", "pass"], dict(os.environ))
        now = 0.0
        for _ in range(8):  # one death every 61 s: always the first in its window
            child.process.wait()
            now += 61
            assert runtime.watch(lambda _: None, now=now) is None
            assert runtime.watch(lambda _: None, now=now + 0.5) is None
        assert child.generation == 9
    finally:
        group.stop(grace_seconds=2)


# A supervisor in miniature: one child that starts a grandchild in its own group, one that escaped into
# a new session, and ignores SIGTERM like a runner stuck in its shutdown; then it waits to be killed.
_SUPERVISOR = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from flows.runtime._processes import ProcessGroup

    child = '''
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    print("ready", flush=True)
    time.sleep(300)
    '''
    group = ProcessGroup(log_dir=Path(sys.argv[1]))
    group.start("stubborn", [sys.executable, "-c", child], dict(os.environ))
    print(group.marker_entry, flush=True)
    time.sleep(300)
    """
)


def test_sigkill_of_the_supervisor_leaves_no_process_behind(tmp_path: Path) -> None:
    supervisor = subprocess.Popen(
        [sys.executable, "-c", _SUPERVISOR, str(tmp_path / "logs")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert supervisor.stdout is not None
        entry = supervisor.stdout.readline().strip().encode()
        assert entry.startswith(f"{MARKER_ENV}=".encode())
        log = tmp_path / "logs" / "stubborn.log"
        assert _wait(lambda: log.exists() and "ready" in log.read_text(), 20)
        family = marked(entry)
        assert len(family) == 3  # the child and its two children (the reaper carries no marker)
    finally:
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait()
    # The child ignoring SIGTERM, its child in the same group and the one in its own session all go:
    # SIGTERM from the reaper, then SIGKILL after its 3 s grace.
    assert _wait(lambda: not [pid for pid in family if _alive(pid)], 8), [p for p in family if _alive(p)]


def test_stop_ends_children_and_the_reaper(tmp_path: Path) -> None:
    group = ProcessGroup(log_dir=tmp_path / "logs")
    child = group.start("sleeper", [sys.executable, "-c", "import time; time.sleep(300)"], dict(os.environ))
    reaper = group._reaper
    assert reaper is not None and reaper.poll() is None
    group.stop(grace_seconds=5)
    assert child.process.poll() is not None and reaper.poll() == 0
    assert not marked(group.marker_entry.encode())


def test_what_a_dead_child_left_is_killed_before_it_restarts(tmp_path: Path) -> None:
    group = ProcessGroup(log_dir=tmp_path / "logs")
    leftover = tmp_path / "leftover.pid"
    script = (
        "import subprocess, sys; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); "
        f"open({str(leftover)!r}, 'w').write(str(p.pid))"
    )
    try:
        child = group.start("runner", [sys.executable, "-c", script], dict(os.environ))
        child.process.wait()
        orphan = int(leftover.read_text())
        assert _alive(orphan)  # a flow-run subprocess outliving its runner
        group.clean_up(child)
        assert _wait(lambda: not _alive(orphan), 5)
    finally:
        group.stop(grace_seconds=2)


def test_cleaning_up_a_dead_child_spares_another_garrisons_child_of_the_same_name(tmp_path: Path) -> None:
    # Two Garrisons on one machine both have an "intake.1": one restarting its intake must not kill the
    # other's (found in a session where a test's `garrison up` kept killing a user's running one).
    ours, theirs = ProcessGroup(log_dir=tmp_path / "ours"), ProcessGroup(log_dir=tmp_path / "theirs")
    sleep = [sys.executable, "-c", "import time; time.sleep(300)"]
    try:
        dead = ours.start("intake", [sys.executable, "-c", "pass"], dict(os.environ))
        other = theirs.start("intake", sleep, dict(os.environ))
        dead.process.wait()
        ours.clean_up(dead)
        time.sleep(0.3)
        assert other.process.poll() is None  # their intake.1 lives on
    finally:
        ours.stop(grace_seconds=2)
        theirs.stop(grace_seconds=2)


def test_children_create_owner_only_files_and_logs(tmp_path: Path) -> None:
    group = ProcessGroup(log_dir=tmp_path / "logs")
    made = tmp_path / "made-by-child"
    try:
        child = group.start(
            "writer",
            [sys.executable, "-c", f"open({str(made)!r}, 'w').write('x'); print('hello')"],
            dict(os.environ),
        )
        child.process.wait()
    finally:
        group.stop(grace_seconds=2)
    assert stat.S_IMODE(made.stat().st_mode) == 0o600  # umask 077
    assert stat.S_IMODE(child.log_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(child.log_path.parent.stat().st_mode) == 0o700
    assert "hello" in child.log_path.read_text()
