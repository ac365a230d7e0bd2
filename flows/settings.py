"""Where Garrison keeps its state and which ports it uses, from the environment (``GARRISON_*``)."""

from __future__ import annotations

import base64
import os
import stat
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
    public_url: str | None = Field(
        default=None,
        description="The intake API's address as analysts reach it, for decision links in escalation "
        "messages (e.g. https://garrison.mdr.example); default: the local API address.",
    )
    tenants_file: Path = Field(
        default=_PACKAGE_DIR / "defaults" / "tenants.yaml", description="Tenant configuration (YAML)."
    )
    intel_feeds: list[Path] = Field(
        default_factory=lambda: [_PACKAGE_DIR / "defaults" / "intel-feed.csv"],
        description="Local threat-intel feeds (CSV) used by enrichment.",
    )
    max_alert_bytes: int = Field(default=1_048_576, description="Largest alert body the intake accepts.")
    max_batch_bytes: int = Field(default=33_554_432, description="Largest NDJSON batch the intake accepts.")
    decision_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How often a run paused for a decision asks Prefect if it resumed.",
    )

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
    def prefect_authority(self) -> str:
        """``host:port`` of the Prefect server and UI: the only Host header it answers."""
        return f"{_url_host(self.host)}:{self.prefect_port}"

    @property
    def prefect_api_url(self) -> str:
        return f"http://{self.prefect_authority}/api"

    @property
    def prefect_ui_url(self) -> str:
        return f"http://{self.prefect_authority}"

    @property
    def api_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.api_port}"

    @property
    def decisions_url(self) -> str:
        """Where decision links point: ``{public_url or api_url}/v1/decisions/``."""
        return f"{(self.public_url or self.api_url).rstrip('/')}/v1/decisions/"

    @property
    def prefect_auth_path(self) -> Path:
        """Where ``garrison up`` keeps the Prefect API's ``user:password`` (the UI asks for it)."""
        return self.secrets_dir / PREFECT_AUTH_ENV

    def prefect_auth_string(self) -> str | None:
        """The Prefect API's basic-auth string: ``PREFECT_API_AUTH_STRING`` if set, else the one
        ``garrison up`` generated; None before the first ``garrison up``."""
        given = os.environ.get(PREFECT_AUTH_ENV, "").strip()
        if given:
            return given
        try:
            stored = self.prefect_auth_path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return stored or None

    def prefect_auth_headers(self) -> dict[str, str]:
        """Headers for a plain HTTP call to the Prefect API (``httpx.get(url, headers=…)``).

        >>> Settings(home=Path("/nonexistent")).prefect_auth_headers()
        {}
        """
        auth = self.prefect_auth_string()
        if auth is None:
            return {}
        return {"Authorization": "Basic " + base64.b64encode(auth.encode("utf-8")).decode("ascii")}

    def ensure_home(self) -> Path:
        """Create the home owner-only (0700); an existing Garrison home readable by others is tightened.

        Only a folder that is recognisably a Garrison home (a store or a ``secrets`` folder in it) is
        tightened, so pointing ``GARRISON_HOME`` at a shared folder never changes that folder's mode.
        """
        home = self.home
        if not home.exists():
            home.mkdir(parents=True, mode=0o700)
        elif (home / "garrison.db").exists() or (home / "secrets").is_dir():
            owner_only(home)
        return home


PREFECT_AUTH_ENV = "PREFECT_API_AUTH_STRING"


def owner_only(path: Path) -> None:
    """Remove group and other permissions from ``path`` if we own it (0700 folders, 0600 files)."""
    try:
        info = path.stat()
    except OSError:
        return
    if info.st_uid != os.getuid() or not info.st_mode & 0o077:
        return
    path.chmod(stat.S_IMODE(info.st_mode) & 0o700)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing the env."""
    return Settings()
