"""Feed and vendor text made safe to keep: one line, bounded; dates made ISO 8601."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
_SPACE = re.compile(r"\s+")
# "scheme://user:password@": whatever text a feed or vendor sends, a credential in a URL is not kept.
_CREDENTIALS = re.compile(r"([a-z][a-z0-9+.-]{0,15}://)[^/\s@]*@", re.I)
# Epoch seconds outside this window are placeholders ("0") or garbage, not dates.
_EPOCH_MIN, _EPOCH_MAX = 315_532_800, 4_102_444_800  # 1980-01-01 .. 2100-01-01


def clean(value: Any, limit: int = 200) -> str:
    """One line of printable text without URL credentials, at most ``limit`` characters (… marks a cut)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _SPACE.sub(" ", _CONTROL.sub(" ", text[: limit * 4])).strip()
    text = _CREDENTIALS.sub(r"\1***@", text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def join(parts: Any, limit: int = 300) -> str:
    """Non-empty parts joined with '; ', duplicates dropped, bounded."""
    seen = dict.fromkeys(p for p in parts if p)
    return clean("; ".join(seen), limit)


def iso(value: Any) -> str | None:
    """ISO 8601 from epoch seconds, ISO strings, ``YYYY-MM-DD HH:MM:SS UTC`` or a date; None otherwise.

    >>> iso("2019-01-19 01:33:26 UTC"), iso(1457598168), iso("2016-03-10")
    ('2019-01-19T01:33:26Z', '2016-03-10T08:22:48Z', '2016-03-10')
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            return None
        if not _EPOCH_MIN <= seconds <= _EPOCH_MAX:
            return None
        return _z(datetime.fromtimestamp(seconds, tz=UTC))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 40:
        return None
    if len(text) == 10:
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            return None
    text = re.sub(r"\s*(UTC|GMT)$", "Z", text)
    text = text.replace(" ", "T", 1)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _z(parsed)


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def earliest(*values: str | None) -> str | None:
    found = [v for v in values if v]
    return min(found, key=_sort_key) if found else None


def latest(*values: str | None) -> str | None:
    found = [v for v in values if v]
    return max(found, key=_sort_key) if found else None


def _sort_key(value: str) -> str:
    # A bare date sorts as its midnight, so "2016-03-10" < "2016-03-10T08:22:48Z".
    return value if "T" in value else f"{value}T00:00:00Z"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
