"""Reading provider answers defensively: vendors send nulls, placeholders and numbers as strings."""

from __future__ import annotations

from typing import Any

import httpx

from .._errors import PermanentError, VendorRejected
from ._provider import IntelSession
from ._text import clean


def body(session: IntelSession, response: httpx.Response) -> dict[str, Any]:
    """The answer as a JSON object, or PermanentError (a provider failure, reported)."""
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        raise PermanentError(
            f"{session.provider.name}: answer is not JSON ({response.status_code})"
        ) from None
    if not isinstance(data, dict):
        raise PermanentError(f"{session.provider.name}: answer is not a JSON object")
    return data


def not_found(error: VendorRejected) -> bool:
    return error.status_code == 404


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
