"""A loaded rule set: its rules, the files that could not be converted, and matching events against it."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

from ._cache import converted
from ._match import Group
from ._rule import LEVELS, Rule, Unconverted

CORPUS = Path(__file__).resolve().parent / "corpus"  # the vendored SigmaHQ rules (ORIGIN.txt, LICENSE)
Event = tuple[frozenset[str], Mapping[str, Any]]  # (log source keys, fields under Sigma's names)


@dataclass(frozen=True)
class Match:
    """A rule and the events it matched (indexes into the events given, in order)."""

    rule: Rule
    events: tuple[int, ...]


class RuleSet:
    """Converted Sigma rules, ready to match. ``key`` is the rule-set hash (cache key). A tenant's set
    (``rules_for``) says whose it is (``owner``) and which SigmaHQ rules it disabled."""

    def __init__(
        self,
        rules: Sequence[Rule],
        failed: Sequence[Unconverted] = (),
        skipped: int = 0,
        key: str = "",
        *,
        owner: str = "",
        disabled: Sequence[str] = (),
        unknown_disabled: Sequence[str] = (),
    ) -> None:
        self.rules = list(rules)
        self.failed = list(failed)
        self.skipped = skipped
        self.key = key
        self.owner = owner
        self.disabled = list(disabled)  # ids of rules taken out
        self.unknown_disabled = list(unknown_disabled)  # ids asked to disable that no rule has (typos)
        self._by_source: dict[str, list[Rule]] = {}
        for rule in self.rules:
            self._by_source.setdefault(_primary(rule.requires), []).append(rule)
        self._groups: dict[str, Group] = {}
        self._lock = Lock()

    def _group(self, source: str) -> Group:
        with self._lock:  # built once, on first use: a run that never sees DNS never builds the DNS rules
            if source not in self._groups:
                self._groups[source] = Group(self._by_source[source])
            return self._groups[source]

    def match(self, events: Sequence[Event]) -> list[Match]:
        """Every rule that matches any of ``events``, with the events it matched; most severe first."""
        found: list[Match] = []
        sources = sorted({s for keys, _ in events for s in keys if s in self._by_source})
        for source in sources:
            rows = [index for index, (keys, _) in enumerate(events) if source in keys]
            group = self._group(source)
            masks: dict[tuple[str, ...], int] = {}
            for rule in group.rules:
                if rule.requires not in masks:
                    need = set(rule.requires)
                    masks[rule.requires] = sum(
                        1 << local for local, index in enumerate(rows) if need <= events[index][0]
                    )
            allowed = [masks[rule.requires] for rule in group.rules]
            for rule_index, mask in group.match([events[index][1] for index in rows], allowed):
                hit = tuple(rows[local] for local in range(mask.bit_length()) if mask >> local & 1)
                found.append(Match(group.rules[rule_index], hit))
        found.sort(key=lambda m: (-m.rule.rank, m.events[0], m.rule.title))
        return found

    def stats(self) -> dict[str, Any]:
        levels = Counter(rule.level for rule in self.rules)
        sources = Counter(_primary(rule.requires) for rule in self.rules)
        figures: dict[str, Any] = {
            "key": self.key,
            "loaded": len(self.rules) + len(self.failed),
            "converted": len(self.rules),
            "failed": len(self.failed),
            "other_products": self.skipped,
            "levels": {level: levels.get(level, 0) for level in reversed(LEVELS)},
            "log_sources": dict(sources.most_common()),
            "failures": [f.__dict__ for f in self.failed],
        }
        if self.owner:
            own = [rule for rule in self.rules if rule.owner == self.owner]
            figures["tenant"] = {
                "id": self.owner,
                "own_rules": len(own),
                "own_failed": sum(1 for f in self.failed if f.owner == self.owner),
                "disabled": len(self.disabled),
                "disabled_ids": self.disabled,
                "unknown_disabled": self.unknown_disabled,
            }
        return figures


def _primary(requires: Sequence[str]) -> str:
    for prefix in ("category:", "service:", "product:"):
        for key in requires:
            if key.startswith(prefix):
                return key
    return "product:any"


def default_cache_dir() -> Path:
    """Where converted rule sets are cached: ``$GARRISON_SIGMA_CACHE``, else the user's cache folder
    (``$XDG_CACHE_HOME/garrison/sigma``, default ``~/.cache/garrison/sigma``). Shared by every Garrison
    home of the user: it holds rules in converted form only (the public corpus, and tenants' own rule
    folders, each under the hash of its files; never telemetry), and a second home, a test run or a new
    flow-run process then reads it instead of converting again (seconds each)."""
    given = os.environ.get("GARRISON_SIGMA_CACHE", "").strip()
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "garrison" / "sigma"


_corpus: list[RuleSet] = []
_corpus_lock = Lock()


def load_rules(roots: Sequence[Path] | None = None, cache_dir: Path | None = None) -> RuleSet:
    """The rule set under ``roots`` (default: the vendored SigmaHQ corpus), converted once per machine
    (cached under ``cache_dir``, default ``default_cache_dir()``) and once per process.

    The corpus ships with Garrison and does not change under a running process: it is hashed once. Other
    folders are hashed on every call, so an edited rule is converted again."""
    if cache_dir is None:
        cache_dir = default_cache_dir()
    if roots is not None:
        return _rule_set(list(roots), cache_dir)
    with _corpus_lock:
        if not _corpus:
            _corpus.append(_rule_set([CORPUS], cache_dir))
        return _corpus[0]


def _rule_set(roots: list[Path], cache_dir: Path) -> RuleSet:
    key, conversion = converted(roots, cache_dir)
    return RuleSet(conversion.rules, conversion.failed, conversion.skipped, key)
