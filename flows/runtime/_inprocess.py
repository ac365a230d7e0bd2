"""Run the served flow's runs in threads of the runner's own process instead of one new process each.

Prefect's ``Runner`` starts every run of a served flow in a fresh Python process (multiprocessing spawn):
seconds of imports per incident whose own work takes a tenth of that. :class:`InProcessRunner` is the
same Runner (polling, limit, Pending/Running/Crashed proposals, the cancellation observer, the UI's flow
and task runs); only the step that starts a run differs. Prefect 3.8 starts runs through a *process
starter* (``ScheduledRunPoller`` → ``FlowRunExecutor`` → ``starter.start``; ``Runner._run_process``
serves only the deprecated ``execute_flow_run``), so that is what is replaced for the runner's own
flows: :class:`InProcessStarter` runs ``prefect.flow_engine.run_flow`` in a thread of its own, in a fresh
``contextvars`` context that carries only Prefect's settings.

What the Runner reads back keeps its meaning:

- the handle's ``returncode`` is 0 when the engine reported the run's outcome itself (Completed, Failed,
  Paused …, as a subprocess with Prefect's control channel reports it), 1 when ``run_flow`` broke before
  it could: the Runner then proposes Crashed, as for a process that died;
- cancelling a run (the UI, ``Cancelling``) raises :class:`RunCancelled` in its thread at the next
  Python bytecode (as Prefect interrupts a timed-out sync flow or task); the engine proposes nothing more
  and the Runner finalizes Cancelled. Code blocked in a system call (a socket read, ``time.sleep``) sees
  it when the call returns; task runs already submitted to the task runner finish on their own;
- a runner that dies takes its in-process runs with it: ``settle_orphaned_runs`` marks them Crashed when
  the next runner starts, as it did for orphaned subprocess runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import itertools
import logging
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from prefect.context import SettingsContext, get_settings_context
from prefect.exceptions import Abort
from prefect.flow_engine import run_flow
from prefect.runner import Runner

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun
    from prefect.flows import Flow

_log = logging.getLogger("garrison.runner")
# Handles need a pid; these are never a real process's (Linux pids stay below 2**22), so a stray
# ``os.kill`` on one fails with ProcessLookupError instead of hitting the runner.
_PSEUDO_PIDS = itertools.count(1 << 30)


class RunCancelled(Abort):
    """Raised in a run's thread when Prefect asks the runner to cancel it. An ``Abort``: the engine
    proposes no state of its own, the Runner's cancellation sets Cancelled."""


class InProcessRunner(Runner):
    """A Prefect ``Runner`` that executes runs of the flows it serves in threads of this process; runs of
    anything else (a deployment it only knows by entrypoint) still get Prefect's own process."""

    async def __aenter__(self) -> InProcessRunner:
        await super().__aenter__()
        poller = self._scheduled_run_poller
        standard = poller._resolve_starter

        def resolve(flow_run: FlowRun) -> Any:
            flow = (
                self._deployment_registry.get_flow(flow_run.deployment_id)
                if flow_run.deployment_id is not None
                else None
            )
            return InProcessStarter(flow) if flow is not None else standard(flow_run)

        poller._resolve_starter = resolve
        return self


class InProcessStarter:
    """Prefect's ``ProcessStarter`` protocol, with a thread where Prefect has a process."""

    def __init__(self, flow: Flow[Any, Any]) -> None:
        self._flow = flow

    async def start(
        self,
        flow_run: FlowRun,
        task_status: anyio.abc.TaskStatus[Any] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        run = ThreadRun(self._flow, flow_run, asyncio.get_running_loop())
        task_status.started(ThreadHandle(run))
        run.start()
        await run.finished.wait()


class ThreadHandle:
    """What Prefect's ``ProcessManager`` and ``FlowRunExecutor`` use of their ``ProcessHandle``: the pid,
    the exit code, liveness, stopping, and the termination scope's ``wait_after_graceful_kill``."""

    def __init__(self, run: ThreadRun) -> None:
        self.termination_scope = run

    @property
    def pid(self) -> int:
        return self.termination_scope.pid

    @property
    def returncode(self) -> int | None:
        return self.termination_scope.returncode

    def is_alive(self) -> bool:
        return self.termination_scope.is_alive(self.pid)

    def graceful_kill(self) -> None:
        self.termination_scope.graceful_kill(self.pid)

    def hard_kill(self) -> None:
        self.termination_scope.hard_kill(self.pid)

    def close(self) -> None:
        pass


class ThreadRun:
    """One flow run in its own thread, and its termination scope (``is_alive``, ``graceful_kill``,
    ``hard_kill`` of a pid, as Prefect's scopes take it)."""

    wait_after_graceful_kill = True  # the Runner waits for the thread to end before it sets Cancelled

    def __init__(self, flow: Flow[Any, Any], flow_run: FlowRun, loop: asyncio.AbstractEventLoop) -> None:
        self.flow = flow
        self.flow_run = flow_run
        self.pid = next(_PSEUDO_PIDS)
        self.returncode: int | None = None
        self.finished = asyncio.Event()
        self.cancelled = False
        self._loop = loop
        self._settings = get_settings_context()
        self._thread = threading.Thread(target=self._main, name=f"flow-run-{flow_run.id}", daemon=True)
        self._lock = threading.Lock()
        self._in_flow = False

    def start(self) -> None:
        with self._lock:
            if self.cancelled:  # cancelled before it began: it never runs
                self._done(0)
                return
            self._in_flow = True
        self._thread.start()

    def _main(self) -> None:
        code = 1
        try:
            # A fresh context: nothing of the runner's event loop task (its client, its contexts) leaks
            # into the run; Prefect's settings are all it carries, as a subprocess would get them.
            code = contextvars.Context().run(self._run)
        except BaseException:  # noqa: BLE001 - the thread must report, whatever happened
            _log.exception("flow run %s: the in-process run broke outside the engine", self.flow_run.id)
            code = 0 if self.cancelled else 1
        finally:
            self._leave_flow()
            self._done(code)

    def _run(self) -> int:
        with SettingsContext(profile=self._settings.profile, settings=self._settings.settings):
            try:
                run_flow(self.flow, flow_run=self.flow_run, return_type="state")
            except RunCancelled:
                return 0  # the Runner sets Cancelled
            finally:
                self._leave_flow()
        # The engine reported the outcome (Completed, Failed, Paused …): nothing for the Runner to add.
        return 0

    def _leave_flow(self) -> None:
        with self._lock:
            if self._in_flow:
                self._in_flow = False
                # An interruption sent just as the run ended must not surface in the code after it.
                _async_raise(self._thread, None)

    def _done(self, code: int) -> None:
        self.returncode = code
        try:
            self._loop.call_soon_threadsafe(self.finished.set)
        except RuntimeError:  # the runner's loop is closed: nobody waits any more
            pass

    # -- termination scope ----------------------------------------------------------------------------

    def is_alive(self, pid: int) -> bool:
        return self.returncode is None

    def graceful_kill(self, pid: int) -> None:
        with self._lock:
            self.cancelled = True
            if self._in_flow and self._thread.ident is not None:
                _log.info("flow run %s: cancelling its in-process run", self.flow_run.id)
                _async_raise(self._thread, RunCancelled)

    def hard_kill(self, pid: int) -> None:
        # A thread cannot be killed: interrupt it again (it may have been inside a system call).
        self.graceful_kill(pid)

    def close(self) -> None:
        pass


def _async_raise(thread: threading.Thread, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in ``thread`` at its next bytecode (None: withdraw one not yet raised)."""
    if thread.ident is None:
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(None)
    )
