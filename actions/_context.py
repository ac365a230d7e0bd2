"""What the engine hands an action besides its inputs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy.engine import Engine

from ._errors import MissingSecret, PermanentError

if TYPE_CHECKING:
    from .http import HttpPool

SettingsT = TypeVar("SettingsT", bound=BaseModel)


@dataclass(frozen=True)
class ActionContext:
    """The tenant and incident an action runs for, its resolved secrets, and shared resources.

    Secrets are resolved by the engine from the tenant's references; an action reads only the ones it
    declared (``ActionSpec.run`` hides the others), and never logs them. ``vendors`` holds the tenant's
    non-secret adapter settings by vendor (``{"crowdstrike": {"base_url": …}}``), validated by each
    adapter's own settings model.
    """

    tenant: str
    incident_id: str
    dry_run: bool = False
    secrets: Mapping[str, SecretStr] = field(default_factory=dict)
    # The Garrison store, for adapters that keep their state there (the lab fleet).
    db: Engine | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("garrison.actions"))
    vendors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Rate limiters, circuit breakers and token caches shared by every action of the process; tests pass
    # their own (with a fake clock). None means the process-wide default pool.
    http: HttpPool | None = None
    # Set by ActionSpec.run: the secret names the running action declared; None outside an action.
    declared_secrets: frozenset[str] | None = None

    def secret(self, name: str) -> str:
        if self.declared_secrets is not None and name not in self.declared_secrets:
            raise PermanentError(f"secret {name!r} was not declared by this action")
        try:
            return self.secrets[name].get_secret_value()
        except KeyError:
            raise MissingSecret(f"secret {name!r} is not configured for tenant {self.tenant}") from None

    def settings(self, vendor: str, model: type[SettingsT]) -> SettingsT:
        """The tenant's settings for ``vendor``, validated by ``model``; defaults when none are given."""
        raw = self.vendors.get(vendor)
        try:
            return model.model_validate(dict(raw or {}))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(settings)"
            state = "configured" if raw is not None else "not configured"
            raise PermanentError(
                f"{vendor} is {state} for tenant {self.tenant}: {where}: {first['msg']}"
            ) from None

    def pool(self) -> HttpPool:
        from .http import default_pool

        return self.http if self.http is not None else default_pool()
