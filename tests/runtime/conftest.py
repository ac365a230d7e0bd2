"""A real `garrison up` on free ports with a temporary home, as a user starts it (slow tests only)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

GARRISON = [sys.executable, "-m", "flows.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).is_success
    except httpx.HTTPError:
        return False


def processes_with_home(home: Path) -> list[int]:
    """Live processes (not zombies) whose environment names this Garrison home."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"GARRISON_HOME={home}".encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


@dataclass
class Garrison:
    home: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    console: Path  # what `garrison up` printed
    api: str
    ui: str

    def secret(self, name: str) -> str:
        return (self.home / "secrets" / name).read_text().strip()

    def tenant_headers(self) -> dict[str, str]:
        key = self.secret("GARRISON_DEMO_API_KEY")
        return {"X-Garrison-Tenant": "demo", "Authorization": f"Bearer {key}"}

    def pid_of(self, child: str) -> int | None:
        """The live pid of a child (``runner``, ``intake``, ``prefect-server``) from /proc."""
        for pid in processes_with_home(self.home):
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(item.startswith(f"GARRISON_CHILD={child}.".encode()) for item in env):
                if os.getpgid(pid) == pid:  # the child itself, not what it spawned
                    return pid
        return None

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def output(self) -> str:
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def auth_headers(self) -> dict[str, str]:
        token = base64.b64encode(self.secret("PREFECT_API_AUTH_STRING").encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def deployment_ready(self) -> bool:
        try:
            url = f"{self.ui}/api/deployments/name/respond/respond"
            return httpx.get(url, headers=self.auth_headers(), timeout=2).is_success
        except (OSError, httpx.HTTPError):
            return False


def start_garrison(tmp: Path) -> Garrison:
    home = tmp / "garrison-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GARRISON_"))}
    env.update(
        GARRISON_HOME=str(home),
        GARRISON_API_PORT=str(free_port()),
        GARRISON_PREFECT_PORT=str(free_port()),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        COLUMNS="200",
    )
    console = tmp / "garrison-up.out"
    with console.open("wb") as out:
        process = subprocess.Popen([*GARRISON, "up"], env=env, stdout=out, stderr=subprocess.STDOUT)
    garrison = Garrison(
        home=home,
        env=env,
        process=process,
        console=console,
        api=f"http://127.0.0.1:{env['GARRISON_API_PORT']}",
        ui=f"http://127.0.0.1:{env['GARRISON_PREFECT_PORT']}",
    )
    try:
        wait_for(
            lambda: process.poll() is not None or "Garrison is up" in garrison.output(), 180, "garrison up"
        )
        assert process.poll() is None, garrison.output()
    except BaseException:
        garrison.stop()
        raise
    return garrison


@pytest.fixture
def launch_garrison(tmp_path: Path) -> Iterator[Callable[[], Garrison]]:
    started: list[Garrison] = []

    def launch() -> Garrison:
        started.append(start_garrison(tmp_path))
        return started[-1]

    yield launch
    for garrison in started:
        garrison.stop()


@pytest.fixture(scope="module")
def garrison(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Garrison]:
    """One `garrison up` shared by a module's tests (its last test may kill it)."""
    running = start_garrison(tmp_path_factory.mktemp("garrison"))
    yield running
    running.stop()
