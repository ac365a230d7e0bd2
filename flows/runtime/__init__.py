"""The embedded runtime: a real Prefect server, the runner serving deployments, and the intake API."""

from ._postgres import DatabaseError, postgres_env, prepare_databases
from ._processes import answers
from ._supervisor import RestartPolicy, Runtime, StartupError, child_env, run_until_signalled

__all__ = [
    "DatabaseError",
    "RestartPolicy",
    "Runtime",
    "StartupError",
    "answers",
    "child_env",
    "postgres_env",
    "prepare_databases",
    "run_until_signalled",
]
