"""Notification templates (data, not code): one ``<event>.<channel>.<ext>.j2`` per event and channel, and a
catalog per language, ``<lang>/messages.yaml``, with every phrase; partials start with ``_``. A language is
served as soon as its catalog exists (see README.md here)."""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
CATALOG_FILE = "messages.yaml"
FALLBACK = "en"

__all__ = ["CATALOG_FILE", "DIRECTORY", "FALLBACK", "languages"]


def languages(directory: Path = DIRECTORY) -> tuple[str, ...]:
    """The languages with a catalog (``<lang>/messages.yaml``), English first.

    >>> languages()[0]
    'en'
    """
    found = sorted(p.parent.name for p in directory.glob(f"*/{CATALOG_FILE}") if p.is_file())
    return tuple(sorted(found, key=lambda code: code != FALLBACK))
