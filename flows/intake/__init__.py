"""The intake API (FastAPI) and the dispatch of respond flow runs."""

from ._app import app_from_env, create_app
from ._dispatch import DEPLOYMENT, Dispatcher, PrefectDispatcher
from ._service import BatchReport, Intake, Rejection, parse_json

__all__ = [
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
