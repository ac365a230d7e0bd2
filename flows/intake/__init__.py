"""The intake API (FastAPI) and the dispatch of respond flow runs."""

from ._app import app_from_env, create_app
from ._dispatch import DEPLOYMENT, Dispatcher, PrefectDispatcher

__all__ = ["DEPLOYMENT", "Dispatcher", "PrefectDispatcher", "app_from_env", "create_app"]
