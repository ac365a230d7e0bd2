"""Moved to ``flows.warninglists`` (the store's grouping reads them too); kept for existing imports."""

from __future__ import annotations

from flows.warninglists import MAJOR_DOMAINS, PUBLIC_RESOLVERS

__all__ = ["MAJOR_DOMAINS", "PUBLIC_RESOLVERS"]
