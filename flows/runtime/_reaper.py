"""The reaper: outlives ``garrison up`` just long enough to stop everything it started.

``garrison up`` runs this file as a script (standard library only: it starts in milliseconds) with a
pipe on its stdin and the runtime's marker in argv. The supervisor writes ``pgid N`` for every child it
starts. When the pipe closes, whether ``garrison up`` stopped cleanly or was killed with SIGKILL, the
reaper sends SIGTERM to every child's process group and to every process whose environment carries the
marker (grandchildren that left their group: flow-run subprocesses, server workers), waits a short grace,
then SIGKILLs whatever is left, and exits. Prefect's children never need to cooperate.

    python _reaper.py GARRISON_RUNTIME=<uuid> [GRACE_SECONDS]
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def marked(marker: bytes, *also: bytes) -> list[int]:
    """Processes whose environment holds ``marker`` and every entry of ``also`` (Linux: read from /proc;
    elsewhere none)."""
    found = []
    me = os.getpid()
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
            if marker in environment and all(item in environment for item in also):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def signal_all(groups: set[int], marker: bytes, sig: int) -> bool:
    """Send ``sig`` to every group and marked process; True if anything was still there."""
    alive = False
    for group in groups:
        try:
            os.killpg(group, sig)
            alive = True
        except (ProcessLookupError, PermissionError):
            pass
    for pid in marked(marker):
        try:
            os.kill(pid, sig)
            alive = True
        except (ProcessLookupError, PermissionError):
            pass
    return alive


def running(groups: set[int], marker: bytes) -> bool:
    """Is any process of ``groups`` or carrying ``marker`` still running? Zombies (exited, waiting for
    init to reap them) are not; without /proc, a group that accepts signal 0 counts as running."""
    try:
        entries = [e for e in Path("/proc").iterdir() if e.name.isdigit()]
    except OSError:
        return signal_all(groups, marker, 0)
    if marked(marker):
        return True
    for entry in entries:
        try:
            # /proc/PID/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            return True
    return False


def reap(groups: set[int], marker: bytes, grace_seconds: float) -> None:
    if not signal_all(groups, marker, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if not running(groups, marker):
            return
    signal_all(groups, marker, signal.SIGKILL)


def main(argv: list[str]) -> int:
    # Ctrl-C in the terminal is for garrison up, which then closes the pipe; the reaper finishes its job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    marker = argv[1].encode()
    grace = float(argv[2]) if len(argv) > 2 else 3.0
    groups: set[int] = set()
    for line in sys.stdin.buffer:  # until garrison up closes the pipe, or dies
        word, _, value = line.decode("ascii", "replace").strip().partition(" ")
        if word == "pgid" and value.isdigit():
            groups.add(int(value))
    reap(groups, marker, grace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
