"""Every language we write in, and its phrases: ``templates/<lang>/messages.yaml``, one catalog per language.

A catalog holds two kinds of phrases. The data-bearing ones (verdicts, actions, mitigations, durations) are
filled in by code (``_context``, ``_story``, ``_advice``); the ``template:`` section holds the fixed text of
the templates (headings, greetings, sign-offs, punctuation), which the one template per event and channel
reads with ``t("key", …)`` (``_render``). Translators touch only files under ``templates/``, and a language is
served as soon as its catalog exists: there is no list of languages anywhere else.

Placeholders are ``{name}`` and are filled with values that are already defanged; the format strings are
ours, never data. See ``templates/README.md`` for why these are YAML catalogs and not gettext ``.po`` files.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from templates import CATALOG_FILE, DIRECTORY, FALLBACK
from templates import languages as _catalogs

TEMPLATES_DIR = DIRECTORY
_log = logging.getLogger("garrison.notify")


def languages(templates_dir: Path = TEMPLATES_DIR) -> tuple[str, ...]:
    """The languages with a catalog (``templates/<lang>/messages.yaml``), English first.

    >>> languages()[0]
    'en'
    """
    return _catalogs(templates_dir)


# What this installation ships; a catalog added later is picked up by ``languages()``, which
# ``resolve_language`` asks every time.
LANGUAGES = languages()


def resolve_language(language: str | None, templates_dir: Path = TEMPLATES_DIR) -> str:
    """The language to write in: the one asked for if it has a catalog, else English with a warning.

    >>> resolve_language("ja"), resolve_language("zh-TW")
    ('ja', 'zh-TW')
    """
    if language is not None and language in languages(templates_dir):
        return language
    _log.warning("language %r is not available; using %s", language, FALLBACK)
    return FALLBACK


class Catalog:
    """One language's phrases. A missing key is an error in tests and falls back to English at run time."""

    def __init__(self, language: str, phrases: Mapping[str, str], fallback: Catalog | None = None) -> None:
        self.language = language
        self._phrases = phrases
        self._fallback = fallback

    def has(self, key: str) -> bool:
        return key in self._phrases or (self._fallback is not None and self._fallback.has(key))

    def keys(self) -> set[str]:
        return set(self._phrases)

    def raw(self, key: str) -> str:
        if key in self._phrases:
            return self._phrases[key]
        if self._fallback is not None:
            return self._fallback.raw(key)
        raise KeyError(f"no phrase {key!r} in the {self.language} catalog")

    def __call__(self, key: str, /, **params: Any) -> str:
        return self.raw(key).format_map({name: str(value) for name, value in params.items()})

    def plural(self, key: str, count: int, /, **params: Any) -> str:
        """``key_one`` for one thing where the language has a singular, else ``key``; ``{n}`` is the count."""
        chosen = f"{key}_one" if count == 1 and self.has(f"{key}_one") else key
        return self(chosen, n=count, **params)

    def join(self, items: list[str], last: bool = False) -> str:
        """``a, b, c`` — or, with ``last``, ``a, b and c`` in the language's own way."""
        return self._join(items, "list_separator", "list_last_separator" if last else "list_separator")

    def clauses(self, items: list[str]) -> str:
        """Verb phrases joined into one sentence: ``isolated X, removed Y and blocked Z``."""
        return self._join(items, "clause_separator", "clause_last_separator")

    def _join(self, items: list[str], separator: str, last: str) -> str:
        if len(items) < 2:
            return "".join(items)
        return self.raw(separator).join(items[:-1]) + self.raw(last) + items[-1]

    def duration(self, span: timedelta) -> str:
        """A human duration with its two largest units: ``3 days 4 hours``, ``about 2 years``."""
        seconds = max(0, int(span.total_seconds()))
        units = [
            ("year", 365 * 86400),
            ("month", 30 * 86400),
            ("day", 86400),
            ("hour", 3600),
            ("minute", 60),
            ("second", 1),
        ]
        parts: list[str] = []
        approximate = False
        for unit, size in units:
            count, seconds = divmod(seconds, size)
            if count and len(parts) < 2:
                parts.append(self._unit(unit, count))
                approximate = approximate or unit in ("year", "month")
            elif parts:
                break  # "2 years 3 days" would hide the months between: stop at the first gap
        if not parts:
            return self._unit("second", 0)
        text = self.raw("duration_joiner").join(parts)
        return self("duration_about", duration=text) if approximate else text

    def _unit(self, unit: str, count: int) -> str:
        return self.plural(f"unit.{unit}", count)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = str(value)
    return flat


def placeholders(phrase: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(phrase) if name}


@lru_cache(maxsize=16)
def catalog(language: str, templates_dir: Path = TEMPLATES_DIR) -> Catalog:
    """The catalog of ``language`` (one of ``languages(templates_dir)``), backed by English."""
    english = None if language == FALLBACK else catalog(FALLBACK, templates_dir)
    path = templates_dir / language / CATALOG_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Catalog(language, _flatten(data), english)
