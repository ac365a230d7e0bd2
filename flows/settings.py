"""Where Garrison keeps its state and which ports it uses, from the environment (``GARRISON_*``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_PACKAGE_DIR = Path(__file__).resolve().parent


class Settings(BaseSettings):
    """Garrison's configuration. Every field can be set as ``GARRISON_<NAME>``.

    >>> Settings(home=Path("/tmp/g")).database_url
    'sqlite:////tmp/g/garrison.db'
    """

    model_config = SettingsConfigDict(env_prefix="GARRISON_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".garrison", description="State directory.")
    database_url_override: str | None = Field(
        default=None,
        validation_alias="GARRISON_DATABASE_URL",
        description="SQLAlchemy URL of the store; SQLite under the home when unset.",
    )
    host: str = Field(default="127.0.0.1", description="Interface the intake API and Prefect bind to.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Intake API port.")
    prefect_port: int = Field(default=4200, ge=1, le=65535, description="Prefect server (API + UI) port.")
    tenants_file: Path = Field(
        default=_PACKAGE_DIR / "defaults" / "tenants.yaml", description="Tenant configuration (YAML)."
    )
    intel_feeds: list[Path] = Field(
        default_factory=lambda: [_PACKAGE_DIR / "defaults" / "intel-feed.csv"],
        description="Local threat-intel feeds (CSV) used by enrichment.",
    )
    max_alert_bytes: int = Field(default=1_048_576, description="Largest alert body the intake accepts.")
    max_batch_bytes: int = Field(default=33_554_432, description="Largest NDJSON batch the intake accepts.")

    @property
    def database_url(self) -> str:
        return self.database_url_override or f"sqlite:///{self.home / 'garrison.db'}"

    @property
    def secrets_dir(self) -> Path:
        return self.home / "secrets"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def prefect_home(self) -> Path:
        return Path(os.environ["PREFECT_HOME"]) if os.environ.get("PREFECT_HOME") else self.home / "prefect"

    @property
    def prefect_api_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}/api"

    @property
    def prefect_ui_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing the env."""
    return Settings()
