"""Secrets by reference: a tenant's configuration names where each secret lives, never its value.

The engine resolves, per action, only the secrets that action declared, and hands them over in
``ActionContext.secrets`` as ``SecretStr``:

>>> import os
>>> os.environ["ACME_FALCON_SECRET"] = "s3cret"
>>> refs = {"crowdstrike_client_secret": SecretRef(env="ACME_FALCON_SECRET")}
>>> resolve_secrets(["crowdstrike_client_secret"], refs)["crowdstrike_client_secret"]
SecretStr('**********')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import cast

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from ._errors import MissingSecret


class SecretRef(BaseModel):
    """Where one secret lives: an environment variable (or, when a secrets folder is given, the file of
    that name in it: how ``garrison up`` keeps generated keys), or a Prefect Secret block. Exactly one of
    ``env`` and ``prefect_secret``. Used for vendors' secrets and for the intake's keys alike."""

    model_config = ConfigDict(extra="forbid")

    env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        description="Environment variable holding it (also the file name in the secrets folder).",
    )
    prefect_secret: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        description="Name of a Prefect Secret block holding it.",
    )
    generate: bool = Field(
        default=False,
        description="Let `garrison up` create a random value in the secrets folder if unset (env only).",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.prefect_secret is None):
            raise ValueError("give exactly one of 'env' or 'prefect_secret'")
        if self.generate and self.env is None:
            raise ValueError("'generate' needs 'env': the generated value is kept in a file of that name")
        return self

    def resolve(
        self,
        secrets_dir: Path | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        prefect_loader: Callable[[str], str] | None = None,
    ) -> SecretStr | None:
        """The value, or None when it is set nowhere."""
        if self.env is not None:
            value = (os.environ if environ is None else environ).get(self.env, "")
            if not value and secrets_dir is not None and (secrets_dir / self.env).is_file():
                value = (secrets_dir / self.env).read_text(encoding="utf-8").strip()
        else:
            value = (prefect_loader or load_prefect_secret)(self.prefect_secret or "")
        return SecretStr(value) if value else None

    @property
    def label(self) -> str:
        """Safe to log and store: says where, never what."""
        return f"${self.env}" if self.env else f"prefect-secret/{self.prefect_secret}"


def load_prefect_secret(name: str) -> str:
    """The value of a Prefect Secret block (call from synchronous code, e.g. a worker thread)."""
    from prefect.blocks.system import Secret

    # Block.load is sync-compatible: from synchronous code it returns the block, not a coroutine.
    block = cast(Secret[str], Secret.load(name))
    return str(block.get())


def resolve_secrets(
    declared: Iterable[str],
    refs: Mapping[str, SecretRef],
    *,
    environ: Mapping[str, str] | None = None,
    prefect_loader: Callable[[str], str] = load_prefect_secret,
) -> dict[str, SecretStr]:
    """The declared secrets of one action for one tenant, each resolved from its reference.

    A declared secret without a reference, or whose reference is empty, is left out: the action then
    fails with MissingSecret naming it when it asks (``ActionContext.secret``). There is no default
    credential to fall back on.
    """
    found: dict[str, SecretStr] = {}
    for name in declared:
        ref = refs.get(name)
        value = ref.resolve(environ=environ, prefect_loader=prefect_loader) if ref is not None else None
        if value is not None:
            found[name] = value
    return found


def require_secrets(declared: Iterable[str], resolved: Mapping[str, SecretStr], *, tenant: str) -> None:
    """Raise MissingSecret (names only) unless every declared secret was resolved."""
    missing = sorted(set(declared) - set(resolved))
    if missing:
        raise MissingSecret(f"secrets not configured for tenant {tenant}: {', '.join(missing)}")
