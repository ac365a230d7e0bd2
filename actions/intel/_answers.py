"""Asking a provider and reading its answer defensively: vendors send nulls, placeholders and numbers as
strings."""

from __future__ import annotations

from typing import Any

from .._errors import PermanentError, VendorRejected
from .._vendor import json_body
from ._provider import IntelSession
from ._text import clean


async def answer(session: IntelSession, method: str, path: str, **request: Any) -> dict[str, Any]:
    """The provider's answer as a JSON object, or PermanentError (a provider failure, reported)."""
    data = json_body(session.http, await session.http.request(method, path, **request))
    if not isinstance(data, dict):
        raise PermanentError(f"{session.provider.name}: answer is not a JSON object")
    return data


async def known(session: IntelSession, method: str, path: str, **request: Any) -> dict[str, Any] | None:
    """``answer``, or None when the provider answers 404: it does not know the indicator (no record)."""
    try:
        return await answer(session, method, path, **request)
    except VendorRejected as error:
        if error.status_code == 404:
            return None
        raise


def count(value: Any) -> int:
    """A non-negative count from an int or a numeric string; anything else (placeholders) is 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def texts(values: Any, limit: int = 3, width: int = 40) -> list[str]:
    """Up to ``limit`` distinct, cleaned strings from a list (tags, categories …)."""
    if isinstance(values, dict):
        values = list(values.values())
    if not isinstance(values, list):
        return []
    found = dict.fromkeys(clean(v, width) for v in values if isinstance(v, str) and v.strip())
    return [v for v in found if v][:limit]


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
