"""Making data inert before any template sees it, and writing times the same way in every message."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from flows.models import defang, defang_text

_NETWORK_TYPES = ("url", "domain", "ipv4", "ipv6")
# defang_text cannot tell regsvr32.exe from a domain; file names (not parts of URLs) read better intact.
_FILE_NAMES = re.compile(
    r"(?<![/\w\[\].-])([\w-]+)\[\.\](exe|dll|sct|msi|ps1|bat|cmd|vbs|js|lnk|hta|jar|scr|sys|tmp|log|txt)\b",
    re.I,
)
# defang() only rewrites the scheme the value starts with; a URL can carry another one in its path.
_EMBEDDED_SCHEME = re.compile(r"(http|ftp)(?=s?(?::|\[:\])//)", re.I)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def inert(text: str) -> str:
    """Free text from alerts, made inert for every channel: IOCs defanged, no angle brackets (chat
    systems read them as mentions and links: Slack ``<!channel>``), no line breaks (they would forge
    new lines, even the subject), no bidi controls (they reorder what the reader sees).

    >>> inert("regsvr32.exe fetched http://evil.com/x <!channel>")
    'regsvr32.exe fetched hxxp://evil[.]com/x ‹!channel›'
    """
    text = _FILE_NAMES.sub(r"\1.\2", defang_text(str(text)))
    text = _CONTROLS.sub(" ", text)
    return text.replace("<", "‹").replace(">", "›")


def defanged(value: str) -> str:
    """One indicator (URL, domain, IP) made inert: defanged as a whole, and like free text, without
    angle brackets, line breaks or bidi controls (a URL path can carry any of them).

    >>> defanged("http://evil.com/<!channel>")
    'hxxp://evil[.]com/‹!channel›'
    """
    text = _EMBEDDED_SCHEME.sub(
        lambda m: "hxxp" if m.group(1).lower() == "http" else "fxp", defang(str(value))
    )
    return _CONTROLS.sub(" ", text).replace("<", "‹").replace(">", "›")


def indicator_text(kind: str, value: str) -> str:
    """An indicator as people may see it: network ones defanged, the others (paths, registry values,
    accounts) made inert like free text."""
    return defanged(value) if kind in _NETWORK_TYPES else inert(value)


def when(moment: datetime | date | None) -> str:
    """``2019-07-23 09:00 UTC`` for times, ``2017-03-01`` for dates, ``""`` for nothing."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return moment.isoformat()
