"""Local intel feeds: STIX 2.1 bundles, MISP event JSON, CSV and plain lists, detected by content."""

from ._index import IntelIndex
from ._load import CSV_COLUMNS, load_feed, parse_feed
from ._result import FeedError, FeedResult, IntelNetwork, Skipped

__all__ = [
    "CSV_COLUMNS",
    "FeedError",
    "FeedResult",
    "IntelIndex",
    "IntelNetwork",
    "Skipped",
    "load_feed",
    "parse_feed",
]
