"""The intake API (FastAPI) and the dispatch of respond flow runs."""

from ._app import app_from_env, create_app
from ._decisions import (
    VERDICTS,
    Applied,
    DecisionError,
    analyst_key,
    apply_decision,
    check_analyst,
    dispatch_round,
    is_paused,
    read_runs,
    run_url,
    start_approved,
)
from ._dispatch import DEPLOYMENT, Dispatcher, PrefectDispatcher
from ._service import BatchReport, Intake, Rejection, parse_json

__all__ = [
    "VERDICTS",
    "Applied",
    "DecisionError",
    "analyst_key",
    "apply_decision",
    "check_analyst",
    "dispatch_round",
    "is_paused",
    "read_runs",
    "run_url",
    "start_approved",
    "DEPLOYMENT",
    "BatchReport",
    "Dispatcher",
    "Intake",
    "PrefectDispatcher",
    "Rejection",
    "app_from_env",
    "create_app",
    "parse_json",
]
