"""The embedded runtime: a real Prefect server, the runner serving deployments, and the intake API."""

from ._supervisor import Runtime, StartupError, child_env, run_until_signalled

__all__ = ["Runtime", "StartupError", "child_env", "run_until_signalled"]
