"""Local threat-intel feeds (CSV): what we know about an indicator, and why."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from flows.models import Indicator, IndicatorType, Provenance

_COLUMNS = ("type", "value", "verdict", "reason", "first_seen", "source", "last_seen")
_VERDICTS = {"malicious", "suspicious", "benign"}


class FeedError(ValueError):
    """A feed file cannot be read; the message names the file and line."""


@dataclass
class LocalFeeds:
    """Indicator look-ups against CSV feeds with columns ``type,value,verdict,reason,first_seen,source``
    and optionally ``last_seen`` (when the feed last confirmed it; freshness is judged from it)."""

    entries: dict[tuple[str, str], list[Provenance]] = field(default_factory=dict)

    @classmethod
    def load(cls, paths: Iterable[Path]) -> LocalFeeds:
        feeds = cls()
        for path in paths:
            feeds._read(path)
        return feeds

    def _read(self, path: Path) -> None:
        try:
            handle = path.open(newline="", encoding="utf-8")
        except OSError as error:
            raise FeedError(f"{path}: cannot read: {error.strerror}") from None
        with handle:
            reader = csv.DictReader(handle)
            missing = [c for c in _COLUMNS[:3] if c not in (reader.fieldnames or [])]
            if missing:
                raise FeedError(f"{path}: missing columns {', '.join(missing)}")
            for row in reader:
                line = reader.line_num  # the file's line, even after a quoted field spanning lines
                verdict = (row.get("verdict") or "").strip().lower()
                if verdict not in _VERDICTS:
                    raise FeedError(f"{path}:{line}: verdict must be one of {sorted(_VERDICTS)}")
                try:
                    hint = IndicatorType((row.get("type") or "").strip().lower())
                except ValueError:
                    raise FeedError(f"{path}:{line}: unknown indicator type {row.get('type')!r}") from None
                indicator = Indicator.parse(row.get("value") or "", hint=hint)
                if indicator is None:
                    raise FeedError(f"{path}:{line}: {row.get('value')!r} is not a valid {hint}")
                provenance = Provenance(
                    source=(row.get("source") or path.stem).strip(),
                    verdict=verdict,
                    reason=(row.get("reason") or "").strip(),
                    first_seen=(row.get("first_seen") or "").strip() or None,
                    last_seen=(row.get("last_seen") or "").strip() or None,
                )
                self.entries.setdefault((indicator.type, indicator.value), []).append(provenance)

    def lookup(self, indicator: Indicator) -> list[Provenance]:
        return list(self.entries.get((indicator.type, indicator.value), []))

    def enrich(self, indicators: Iterable[Indicator]) -> list[Indicator]:
        """The indicators with the feeds' provenance attached (kept from earlier sources, not duplicated)."""
        enriched = []
        for indicator in indicators:
            known = {(p.source, p.verdict, p.reason) for p in indicator.provenance}
            extra = [p for p in self.lookup(indicator) if (p.source, p.verdict, p.reason) not in known]
            enriched.append(indicator.model_copy(update={"provenance": [*indicator.provenance, *extra]}))
        return enriched


@lru_cache(maxsize=4)
def cached_feeds(paths: tuple[Path, ...], mtimes: tuple[int, ...]) -> LocalFeeds:
    return LocalFeeds.load(paths)


def feeds_from(paths: Iterable[Path]) -> LocalFeeds:
    """Feeds from disk, re-read when a file changes."""
    ordered = tuple(paths)
    mtimes = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in ordered)
    return cached_feeds(ordered, mtimes)
