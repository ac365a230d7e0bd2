"""Start, restart and stop child processes as one group, leaving no orphans behind.

Three layers make sure nothing outlives ``garrison up``:

- each child runs in its own session, so a signal to its process group reaches what it spawned;
- each child gets SIGTERM from the kernel when ``garrison up`` dies (Linux ``PR_SET_PDEATHSIG``);
- a reaper process (``_reaper.py``) learns every child's group; when ``garrison up`` goes away, even by
  SIGKILL in the middle of its own shutdown, it stops those groups and every process carrying the
  runtime's marker in its environment (grandchildren in other groups), SIGKILL after a short grace.

Everything a child creates is owner-only: children start with umask 077.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from ._reaper import marked

MARKER_ENV = "GARRISON_RUNTIME"
CHILD_ENV = "GARRISON_CHILD"
UMASK = 0o077
REAPER_GRACE_SECONDS = 3.0
_REAPER = str(Path(__file__).with_name("_reaper.py"))
READY_MARK = b"garrison runner ready:"  # a runner prints it once it polls for runs


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    generation: int = 1
    deaths: deque[float] = field(default_factory=deque)
    restart_at: float | None = None  # set while the child is dead and waits for its restart

    @property
    def token(self) -> str:
        return f"{self.name}.{self.generation}"


@dataclass
class ProcessGroup:
    """Children each run in their own session, so stopping one stops everything it spawned too; all
    carry ``GARRISON_RUNTIME=<marker>`` and ``GARRISON_CHILD=<name>.<generation>`` in their environment,
    and so does whatever they spawn."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    _reaper: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def marker_entry(self) -> str:
        return f"{MARKER_ENV}={self.marker}"

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        log_path = self.log_dir / f"{name}.log"
        process = self._spawn(argv, env, log_path, token=f"{name}.1")
        child = Child(name=name, argv=argv, env=env, process=process, log_path=log_path)
        self.children.append(child)
        return child

    def restart(self, child: Child) -> None:
        """Start a dead child again (after ``clean_up`` removed what it left behind)."""
        child.generation += 1
        child.restart_at = None
        child.process = self._spawn(child.argv, child.env, child.log_path, token=child.token)

    def clean_up(self, child: Child) -> None:
        """SIGKILL what a dead child left: its process group (flow-run subprocesses) and anything else
        that carries its token in the environment."""
        _signal_group(child.process, signal.SIGKILL)
        # This runtime's marker too: another Garrison on the machine has children named intake.1 …
        for pid in marked(self.marker_entry.encode(), f"{CHILD_ENV}={child.token}".encode()):
            _kill(pid, signal.SIGKILL)

    def dead(self) -> list[Child]:
        return [child for child in self.children if child.process.poll() is not None]

    def stop(self, grace_seconds: float = 15.0) -> None:
        """SIGTERM every group (newest first), wait, then SIGKILL what is left; then let the reaper go."""
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
        for pid in marked(self.marker_entry.encode()):
            _kill(pid, signal.SIGKILL)
        self.children.clear()
        self._release_reaper()

    def note(self, child: Child, line: str) -> None:
        """Append a line from the supervisor to the child's log, where its own output goes."""
        with _open_log(child.log_path) as log:
            log.write(f"--- garrison up: {line}\n".encode())

    # -- internals -------------------------------------------------------------------------------------

    def _spawn(
        self, argv: list[str], env: dict[str, str], log_path: Path, token: str
    ) -> subprocess.Popen[bytes]:
        self._ensure_reaper()
        env = {**env, MARKER_ENV: self.marker, CHILD_ENV: token}
        parent = os.getpid()
        with _open_log(log_path) as log:
            process = subprocess.Popen(  # argv list, no shell: nothing here comes from alert data
                argv,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=lambda: _die_with_parent(parent),
                umask=UMASK,
            )
        self._tell_reaper(process.pid)
        return process

    def _ensure_reaper(self) -> None:
        if self._reaper is not None and self._reaper.poll() is None:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._reaper = subprocess.Popen(
            # -I -S: the standard library only, so it starts in milliseconds and imports nothing of ours.
            [sys.executable, "-I", "-S", _REAPER, self.marker_entry, str(REAPER_GRACE_SECONDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # neither Ctrl-C nor a group signal to a child reaches it
            umask=UMASK,
        )
        for child in self.children:  # a reaper started again (it died) learns the groups it missed
            if child.process.poll() is None:
                self._tell_reaper(child.process.pid)

    def _tell_reaper(self, pgid: int) -> None:
        reaper = self._reaper
        if reaper is None or reaper.stdin is None:
            return
        try:
            reaper.stdin.write(f"pgid {pgid}\n".encode())
            reaper.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died: the next spawn starts another, which learns every live group

    def _release_reaper(self) -> None:
        reaper, self._reaper = self._reaper, None
        if reaper is None:
            return
        if reaper.stdin is not None:
            try:
                reaper.stdin.close()
            except OSError:
                pass
        try:
            reaper.wait(timeout=REAPER_GRACE_SECONDS + 5)
        except subprocess.TimeoutExpired:
            reaper.kill()
            reaper.wait()


def _open_log(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    if os.fstat(fd).st_mode & 0o077:  # a log an older version left readable by others
        os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def _load_prctl() -> Callable[..., int] | None:
    # Resolved once in the parent: after fork, a child must not dlopen (another thread may hold a lock).
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    # Linux: if the supervisor is killed outright (SIGKILL), its children get SIGTERM instead of
    # living on as orphans holding the ports. If it died before this line ran, go at once.
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(1)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_healthy(
    url: str,
    timeout_seconds: float,
    group: ProcessGroup | None = None,
    headers: dict[str, str] | None = None,
) -> bool:
    """Poll ``url`` until it answers 2xx; give up early if a child of ``group`` died."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0, headers=headers).is_success:
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
