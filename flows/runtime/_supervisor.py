"""``garrison up``: the Prefect server, the runner serving deployments, and the intake API, as one unit;
``garrison worker``: one more runner, against the Prefect API and the store of a ``garrison up``.

A child that dies is started again after a short wait that doubles with each death (0.5 s, 1 s, 2 s …);
only a child that keeps dying (``RestartPolicy``: 5 deaths in 60 s) stops the whole runtime. The runner
is restarted only once the Prefect server answers, since it cannot start without it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from urllib.parse import urlsplit

import httpx

from flows.settings import Settings
from flows.store import DECISION_KEY_FILE, decision_key
from flows.tenants import generate_missing_secrets, tenants_from

from ._console import console_env, ensure_auth_string
from ._postgres import STORE_URL_ENV, DatabaseError, check_store, is_postgres, prepare_databases
from ._processes import READY_MARK, UMASK, Child, ProcessGroup, answers, wait_healthy

SERVER_START_TIMEOUT = 120.0
WORKER_START_TIMEOUT = 90.0


class StartupError(Exception):
    """The runtime could not start; the message says which part and where its log is."""


def child_env(settings: Settings, auth_string: str | None = None) -> dict[str, str]:
    """The environment every child shares: Garrison's settings and Prefect pointed at our server."""
    env = dict(os.environ)
    # A Prefect Cloud key would be sent instead of the auth string (Prefect's documented precedence).
    env.pop("PREFECT_API_KEY", None)
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
            # Served deployments poll every 10 s by default; an alert should not wait that long, and
            # with runs started in-process (no process to spawn) the poll is most of an idle alert's
            # wait. One query per second is nothing to the server.
            "PREFECT_RUNNER_POLL_FREQUENCY": os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY", "1"),
            # The server marks a run Late 15 s after its start time, one state write per run every 5 s;
            # in a burst those writes race the runs' own on SQLite ("database is locked", then 503s the
            # clients retry with backoff). A run the runner has not taken after 5 min is still shown
            # Late; the intake's sweeper recovers stuck runs on its own bounds either way.
            "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS": os.environ.get(
                "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS", "300"
            ),
        }
    )
    auth_string = auth_string or settings.prefect_auth_string()
    if auth_string:
        env.update(console_env(settings, auth_string))
    if settings.database_url_override:
        env["GARRISON_DATABASE_URL"] = settings.database_url_override
    return env


@dataclass(frozen=True)
class RestartPolicy:
    """How long to wait before starting a dead child again, and when to give up on it."""

    max_deaths: int = 5
    window_seconds: float = 60.0
    first_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, recent_deaths: int) -> float | None:
        """Seconds to wait after the ``recent_deaths``-th death within the window; None: give up.

        >>> [RestartPolicy().delay(n) for n in (1, 2, 3, 4, 5)]
        [0.5, 1.0, 2.0, 4.0, None]
        """
        if recent_deaths >= self.max_deaths:
            return None
        return min(self.max_delay, self.first_delay * 2.0 ** (recent_deaths - 1))


@dataclass
class Runtime:
    settings: Settings
    group: ProcessGroup
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    needs_server: frozenset[str] = frozenset({"runner"})
    prefect_api: str = ""  # the Prefect API the runner needs; ``garrison up``'s own when empty

    @property
    def prefect_api_url(self) -> str:
        return self.prefect_api or self.settings.prefect_api_url

    @classmethod
    def start(cls, settings: Settings, say: Callable[[str], None] = print) -> Runtime:
        # Whatever Garrison and its children write (store, Prefect's database, logs, outbox) is owner-only.
        os.umask(UMASK)
        settings.ensure_home()
        settings.prefect_home.mkdir(parents=True, exist_ok=True, mode=0o700)
        for port, what in ((settings.prefect_port, "Prefect"), (settings.api_port, "intake API")):
            if answers(f"http://{settings.host}:{port}/api/health") or answers(
                f"http://{settings.host}:{port}/v1/health"
            ):
                raise StartupError(f"port {port} ({what}) is already serving: is Garrison already up?")
        try:  # before anything is written or started
            databases = prepare_databases(child_env(settings))
        except DatabaseError as error:
            raise StartupError(str(error)) from None
        created = generate_missing_secrets(tenants_from(settings.tenants_file), settings.secrets_dir)
        auth_string, new_auth = ensure_auth_string(settings)
        if new_auth:
            created.append(settings.prefect_auth_path.name)
        if not (settings.secrets_dir / DECISION_KEY_FILE).exists():
            # Made now rather than by the first escalation: a worker's machine gets it with the secrets
            # folder, and links it signs must verify at this intake.
            decision_key(settings.secrets_dir)
            created.append(DECISION_KEY_FILE)
        if created:
            say(f"generated {', '.join(created)} in {settings.secrets_dir}")
        env = {**child_env(settings, auth_string), **databases.env}
        if databases.describe:
            say(f"PostgreSQL: {databases.describe}")
        group = ProcessGroup(log_dir=settings.home / "logs")
        runtime = cls(settings=settings, group=group)
        python = sys.executable
        try:
            say(f"starting Prefect server on {settings.prefect_ui_url} …")
            server = group.start("prefect-server", [python, "-m", "flows.runtime.console"], env)
            if not wait_healthy(f"{settings.prefect_api_url}/health", SERVER_START_TIMEOUT, group):
                raise StartupError(f"Prefect server did not become healthy; see {server.log_path}")
            say("serving the respond deployment …")
            group.start("runner", [python, "-m", "flows.runtime.serve", "up"], env)
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

    @classmethod
    def start_worker(
        cls, settings: Settings, prefect_api: str, say: Callable[[str], None] = print
    ) -> Runtime:
        """One runner serving ``garrison up``'s deployments from this machine (``garrison worker``).

        Checked first, each failure one line: the Prefect API answers and accepts the auth string, the
        respond deployment is registered there, the store answers, and the decision key is here."""
        os.umask(UMASK)
        settings.ensure_home()
        api = prefect_api.rstrip("/")
        auth_string = settings.prefect_auth_string()
        env = child_env(settings, auth_string)
        env.update(PREFECT_API_URL=api, PREFECT_UI_API_URL=api, **_links_to(api))
        _check_api(api, settings, auth_string)
        store_url = env.get(STORE_URL_ENV) or settings.database_url
        try:
            if is_postgres(store_url):
                check_store(store_url)
        except DatabaseError as error:
            raise StartupError(str(error)) from None
        if not (settings.secrets_dir / DECISION_KEY_FILE).exists():
            raise StartupError(
                f"no {DECISION_KEY_FILE} in {settings.secrets_dir}: copy the secrets folder of the machine "
                "running `garrison up` (decision links this worker signs must verify at its intake)"
            )
        group = ProcessGroup(log_dir=settings.home / "logs")
        runtime = cls(settings=settings, group=group, needs_server=frozenset({"worker"}), prefect_api=api)
        where = "PostgreSQL" if is_postgres(store_url) else store_url
        say(f"serving Garrison's deployments from {api}; store on {where} …")
        log = group.log_dir / "worker.log"
        offset = log.stat().st_size if log.exists() else 0
        runner = group.start("worker", [sys.executable, "-m", "flows.runtime.serve", "worker"], env)
        if not _wait_for_line(runner, offset, READY_MARK, WORKER_START_TIMEOUT):
            group.stop()
            raise StartupError(f"the worker did not start serving; see {runner.log_path}")
        return runtime

    def wait_for_deployment(self, timeout_seconds: float) -> bool:
        url = f"{self.settings.prefect_api_url}/deployments/name/respond/respond"
        return wait_healthy(url, timeout_seconds, self.group, headers=self.settings.prefect_auth_headers())

    def watch(self, say: Callable[[str], None] = print, now: float | None = None) -> str | None:
        """Restart dead children as the policy allows; returns why to stop when one keeps dying."""
        now = time.monotonic() if now is None else now
        for child in self.group.children:
            if child.restart_at is None and child.process.poll() is not None:
                failure = self._schedule_restart(child, now, say)
                if failure:
                    return failure
            if child.restart_at is not None and now >= child.restart_at:
                if child.name in self.needs_server and not answers(f"{self.prefect_api_url}/health"):
                    continue  # it would only die again; try once the server is back
                self.group.restart(child)
                self.group.note(child, f"restarted (pid {child.process.pid})")
                say(f"{child.name} restarted (pid {child.process.pid})")
        return None

    def _schedule_restart(self, child: Child, now: float, say: Callable[[str], None]) -> str | None:
        code = _describe_exit(child.process.returncode)
        self.group.clean_up(child)  # what it spawned (flow-run subprocesses) dies with it
        child.deaths.append(now)
        while child.deaths and child.deaths[0] < now - self.policy.window_seconds:
            child.deaths.popleft()
        delay = self.policy.delay(len(child.deaths))
        if delay is None:
            self.group.note(child, f"{code}; it keeps dying: giving up")
            return (
                f"{child.name} keeps dying ({len(child.deaths)} exits in "
                f"{self.policy.window_seconds:.0f} s, last: {code}); see {child.log_path}"
            )
        child.restart_at = now + delay
        self.group.note(child, f"{code}; restarting in {delay:.1f} s")
        say(f"{child.name} {code}; restarting it in {delay:.1f} s (log: {child.log_path})")
        return None

    def stop(self) -> None:
        self.group.stop()


def _links_to(api: str) -> dict[str, str]:
    """Where the analysts' links made on this worker point: the UI (and by default the intake) on the
    machine of the Prefect API, not this machine's 127.0.0.1."""
    parsed = urlsplit(api)
    if parsed.scheme != "http" or not parsed.hostname:
        return {}  # behind a proxy: GARRISON_HOST / GARRISON_PREFECT_PORT / GARRISON_PUBLIC_URL say so
    return {"GARRISON_HOST": parsed.hostname, "GARRISON_PREFECT_PORT": str(parsed.port or 80)}


def _wait_for_line(child: Child, offset: int, mark: bytes, timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            with child.log_path.open("rb") as log:
                log.seek(offset)
                if mark in log.read():
                    return True
        except OSError:
            pass
        if child.process.poll() is not None:
            return False
        time.sleep(0.3)
    return False


def _check_api(api: str, settings: Settings, auth_string: str | None) -> None:
    if not answers(f"{api}/health"):
        raise StartupError(f"the Prefect API at {api} does not answer (PREFECT_API_URL)")
    headers = settings.prefect_auth_headers()
    try:
        found = httpx.get(f"{api}/deployments/name/respond/respond", headers=headers, timeout=10)
    except httpx.HTTPError as error:
        raise StartupError(f"the Prefect API at {api} failed: {error}") from None
    if found.status_code == 401:
        given = "a wrong one" if auth_string else "none"
        raise StartupError(
            f"the Prefect API at {api} wants its auth string (PREFECT_API_AUTH_STRING, or "
            f"{settings.prefect_auth_path}); this worker has {given}"
        )
    if found.status_code == 404:
        raise StartupError(f"no respond deployment at {api}: start `garrison up` first")
    if not found.is_success:
        raise StartupError(
            f"the Prefect API at {api} answered {found.status_code} for the respond deployment"
        )


def _describe_exit(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited (code {returncode})"


def run_until_signalled(runtime: Runtime, say: Callable[[str], None] = print) -> int:
    """Block until Ctrl-C / SIGTERM, restarting children that die; stop everything at the end.
    Returns the exit status: 0 when asked to stop, 1 when a child kept dying."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            failure = runtime.watch(say)
            if failure:
                say(f"stopping: {failure}")
                return 1
        say("stopping Garrison …")
        return 0
    finally:
        runtime.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
