"""What the engine hands an action besides its inputs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr
from sqlalchemy.engine import Engine

from ._errors import MissingSecret


@dataclass(frozen=True)
class ActionContext:
    """The tenant and incident an action runs for, its resolved secrets, and shared resources.

    Secrets are resolved by the engine from the tenant's references; an action reads only the ones it
    declared, and never logs them.
    """

    tenant: str
    incident_id: str
    dry_run: bool = False
    secrets: Mapping[str, SecretStr] = field(default_factory=dict)
    # The Garrison store, for adapters that keep their state there (the lab fleet).
    db: Engine | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("garrison.actions"))

    def secret(self, name: str) -> str:
        try:
            return self.secrets[name].get_secret_value()
        except KeyError:
            raise MissingSecret(f"secret {name!r} is not configured for tenant {self.tenant}") from None
