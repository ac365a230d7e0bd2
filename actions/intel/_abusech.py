"""What abuse.ch's APIs (URLhaus, ThreatFox) share: the ``Auth-Key`` header, the fair-use limits, and
answers that say in ``query_status`` whether the indicator is listed."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from .._errors import PermanentError
from .._vendor import VendorSettings
from ..http import VendorPolicy
from ._answers import answer
from ._provider import IntelSession, Provider, register_provider
from ._text import clean


def abusech_provider(name: str, description: str, doc_url: str, settings: type[VendorSettings]) -> Provider:
    """Register an abuse.ch service whose tenant key is the secret ``<name>_auth_key``."""
    secret = f"{name}_auth_key"
    return register_provider(
        Provider(
            name=name,
            description=description,
            doc_url=doc_url,
            settings=settings,
            headers=lambda ctx: {"Auth-Key": ctx.secret(secret), "Accept": "application/json"},
            policy=VendorPolicy(rate_per_second=2.0, burst=5),
            rate=5.0,
            burst=10,
            secrets=(secret,),
            required_secrets=(secret,),
        )
    )


async def search(
    session: IntelSession, path: str, *, not_listed: Collection[str], **request: Any
) -> dict[str, Any] | None:
    """The answer of ``POST path`` when it lists the indicator (``query_status`` "ok"), None when a status
    of ``not_listed`` says it is not; any other status is an unusable answer, a failure never read further."""
    data = await answer(session, "POST", path, **request)
    status = data.get("query_status")
    if status == "ok":
        return data
    if status in not_listed:
        return None
    raise PermanentError(
        f"{session.provider.name}: unexpected query_status {clean(status, 40)!r}: answer not used"
    )
