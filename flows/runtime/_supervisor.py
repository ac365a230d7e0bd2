"""``garrison up``: the Prefect server, the runner serving deployments, and the intake API, as one unit."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from flows.settings import Settings
from flows.tenants import generate_missing_secrets, tenants_from

from ._processes import ProcessGroup, answers, wait_healthy

SERVER_START_TIMEOUT = 120.0


class StartupError(Exception):
    """The runtime could not start; the message says which part and where its log is."""


def child_env(settings: Settings) -> dict[str, str]:
    """The environment every child shares: Garrison's settings and Prefect pointed at our server."""
    env = dict(os.environ)
    env.update(
        {
            "GARRISON_HOME": str(settings.home),
            "GARRISON_API_PORT": str(settings.api_port),
            "GARRISON_PREFECT_PORT": str(settings.prefect_port),
            "GARRISON_HOST": settings.host,
            "GARRISON_TENANTS_FILE": str(settings.tenants_file),
            "PREFECT_HOME": str(settings.prefect_home),
            "PREFECT_API_URL": settings.prefect_api_url,
            "PREFECT_SERVER_API_HOST": settings.host,
            "PREFECT_SERVER_API_PORT": str(settings.prefect_port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_API_URL": settings.prefect_api_url,
            # Served deployments poll every 10 s by default; an alert should not wait that long.
            "PREFECT_RUNNER_POLL_FREQUENCY": os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY", "2"),
        }
    )
    if settings.database_url_override:
        env["GARRISON_DATABASE_URL"] = settings.database_url_override
    return env


@dataclass
class Runtime:
    settings: Settings
    group: ProcessGroup

    @classmethod
    def start(cls, settings: Settings, say: Callable[[str], None] = print) -> Runtime:
        settings.home.mkdir(parents=True, exist_ok=True)
        settings.prefect_home.mkdir(parents=True, exist_ok=True)
        for port, what in ((settings.prefect_port, "Prefect"), (settings.api_port, "intake API")):
            if answers(f"http://{settings.host}:{port}/api/health") or answers(
                f"http://{settings.host}:{port}/v1/health"
            ):
                raise StartupError(f"port {port} ({what}) is already serving: is Garrison already up?")
        created = generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
        if created:
            say(f"generated {', '.join(created)} in {settings.secrets_dir}")
        group = ProcessGroup(log_dir=settings.home / "logs")
        runtime = cls(settings=settings, group=group)
        env = child_env(settings)
        python = sys.executable
        try:
            say(f"starting Prefect server on {settings.prefect_ui_url} …")
            server = group.start("prefect-server", [python, "-m", "prefect", "server", "start"], env)
            if not wait_healthy(f"{settings.prefect_api_url}/health", SERVER_START_TIMEOUT, group):
                raise StartupError(f"Prefect server did not become healthy; see {server.log_path}")
            say("serving the respond deployment …")
            group.start("runner", [python, "-m", "flows.runtime.serve"], env)
            say(f"starting intake API on {settings.api_url} …")
            intake = group.start(
                "intake",
                [
                    python,
                    "-m",
                    "uvicorn",
                    "flows.intake:app_from_env",
                    "--factory",
                    "--host",
                    settings.host,
                    "--port",
                    str(settings.api_port),
                    "--no-access-log",
                ],
                env,
            )
            if not wait_healthy(f"{settings.api_url}/v1/health", 60, group):
                raise StartupError(f"intake API did not become healthy; see {intake.log_path}")
            if not runtime.wait_for_deployment(60):
                raise StartupError(
                    f"respond deployment was not registered; see {group.log_dir / 'runner.log'}"
                )
        except BaseException:
            group.stop()
            raise
        return runtime

    def wait_for_deployment(self, timeout_seconds: float) -> bool:
        url = f"{self.settings.prefect_api_url}/deployments/name/respond/respond"
        return wait_healthy(url, timeout_seconds, self.group)

    def failed_child(self) -> str | None:
        dead = self.group.dead()
        return (
            f"{dead[0].name} exited (code {dead[0].process.returncode}); see {dead[0].log_path}"
            if dead
            else None
        )

    def stop(self) -> None:
        self.group.stop()


def run_until_signalled(runtime: Runtime, say: Callable[[str], None] = print) -> int:
    """Block until Ctrl-C / SIGTERM or a child dies; then stop everything. Returns the exit status."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(1.0):
            failure = runtime.failed_child()
            if failure:
                say(f"stopping: {failure}")
                return 1
        say("stopping Garrison …")
        return 0
    finally:
        runtime.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
