"""The tenant's vendors as actions see them: non-secret settings, and secrets resolved per action.

Secrets are resolved from the tenant's references (``adapters.<vendor>.secrets``) only for the action
about to run, only the ones it declared, and only from its own vendor's section: there is no default
credential, and tenant A's references can never serve tenant B. Values live in ``SecretStr`` inside the
``ActionContext`` of one call; they are never logged, stored, returned or passed as flow parameters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from actions import ActionContext, ActionSpec, resolve_secrets
from flows.tenants import Tenant


def vendor_settings(tenant: Tenant | None) -> dict[str, Mapping[str, Any]]:
    """``ActionContext.vendors`` for the tenant: each configured vendor's non-secret settings."""
    if tenant is None:
        return {}
    return {name: dict(config.settings) for name, config in tenant.adapters.items()}


async def with_secrets(ctx: ActionContext, spec: ActionSpec, tenant: Tenant | None) -> ActionContext:
    """``ctx`` holding the secrets ``spec`` declared, resolved from the tenant's references.

    A missing one is left out: the action then fails with MissingSecret naming it (never its value).
    Resolution may load a Prefect Secret block (a blocking call): it runs in a worker thread.
    """
    if not spec.secrets or tenant is None or tenant.id != ctx.tenant:
        return replace(ctx, secrets={})
    config = tenant.adapters.get(spec.vendor)
    if config is None:
        return replace(ctx, secrets={})
    resolved = await asyncio.to_thread(resolve_secrets, spec.secrets, config.secrets)
    return replace(ctx, secrets=resolved)
