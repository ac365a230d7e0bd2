"""The embedded runtime: a real Prefect server, the runner serving deployments, and the intake API."""

from ._processes import answers
from ._supervisor import RestartPolicy, Runtime, StartupError, child_env, run_until_signalled

__all__ = ["RestartPolicy", "Runtime", "StartupError", "answers", "child_env", "run_until_signalled"]
