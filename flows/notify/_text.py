"""Making data inert before any template sees it, and writing times the same way in every message."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from flows.models import defang, defang_text

_NETWORK_TYPES = ("url", "domain", "ipv4", "ipv6")
# What defang_text leaves and no channel may carry: line breaks (they would forge new lines, even the
# subject) and tabs. Bidi controls, zero-width characters and the other controls are gone already.
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def inert(text: str) -> str:
    """Free text from alerts, made inert for every channel: defanged by the one function
    (``flows.models.defang_text``: no link, no address, no bidi or zero-width character), no angle
    brackets (chat systems read them as mentions and links: Slack ``<!channel>``), no line breaks.

    >>> inert("regsvr32.exe fetched http://evil.com/x <!channel>")
    'regsvr32.exe fetched hxxp://evil[.]com/x ‹!channel›'
    """
    return _without_markup(defang_text(str(text)))


def defanged(value: str) -> str:
    """One indicator (URL, domain, IP) made inert: defanged as a whole (``flows.models.defang``: every
    dot bracketed), and like free text, without angle brackets or line breaks.

    >>> defanged("http://evil.com/<!channel>")
    'hxxp://evil[.]com/‹!channel›'
    """
    return _without_markup(defang(str(value)))


def _without_markup(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text).replace("<", "‹").replace(">", "›")


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


def when_exact(moment: datetime) -> str:
    """``2026-11-10 08:13:41 UTC``: events seconds apart (a shortcut, the script it ran) keep their order."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
