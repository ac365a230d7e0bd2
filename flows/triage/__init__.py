"""Triage: enrichment from intel feeds and the explainable classifier."""

from ._classify import classify
from ._feeds import FeedError, LocalFeeds, feeds_from

__all__ = ["FeedError", "LocalFeeds", "classify", "feeds_from"]
