"""Start, watch and stop child processes as one group, leaving no orphans behind."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class ProcessGroup:
    """Children each run in their own session, so stopping one stops everything it spawned too."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(  # argv list, no shell: nothing here comes from alert data
                argv,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        child = Child(name=name, process=process, log_path=log_path)
        self.children.append(child)
        return child

    def dead(self) -> list[Child]:
        return [child for child in self.children if child.process.poll() is not None]

    def stop(self, grace_seconds: float = 15.0) -> None:
        """SIGTERM every group (newest first), wait, then SIGKILL what is left."""
        for child in reversed(self.children):
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                pass
            # The leader may be gone while grandchildren (flow-run subprocesses) linger: sweep the group.
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()
        self.children.clear()


def _die_with_parent() -> None:
    # Linux: if the supervisor is killed outright (SIGKILL), its children get SIGTERM instead of
    # living on as orphans holding the ports.
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:
            pass


_PR_SET_PDEATHSIG = 1


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_healthy(url: str, timeout_seconds: float, group: ProcessGroup | None = None) -> bool:
    """Poll ``url`` until it answers 2xx; give up early if a child of ``group`` died."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).is_success:
                return True
        except httpx.HTTPError:
            pass
        if group is not None and group.dead():
            return False
        time.sleep(0.3)
    return False


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.5).is_success
    except httpx.HTTPError:
        return False
