"""What intel says about one indicator: the verdict, who says it, why, and since when."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

# The indicator types intel answers for (a subset of Garrison's indicator types: registry values, file
# paths and accounts are host evidence, not something a feed or a provider lists).
INDICATOR_TYPES = ("ipv4", "ipv6", "domain", "url", "sha256", "sha1", "md5", "x509_sha1")
VERDICTS = ("malicious", "suspicious", "benign")


@dataclass(frozen=True)
class IntelRecord:
    """One source's word on one indicator.

    ``value`` is normalized (refanged; domains and hashes lower-case; IPs canonical; URLs without
    credentials), so records match whatever ``normalize`` produced from an alert. Freshness is judged from
    ``last_seen``; ``valid_until`` is when the source said to stop trusting it; ``reference`` points back
    to the source's own object (a provider permalink, a STIX or MISP id); ``retrieved_at`` is when Garrison
    obtained an online answer (snapshots keep it: C2 infrastructure is short-lived).

    >>> IntelRecord("domain", "js.mykings.top", "malicious", "feed.csv", "MyKings C2", "2017-03-01", None)
    ... # doctest: +ELLIPSIS
    IntelRecord(type='domain', value='js.mykings.top', verdict='malicious', ...)
    """

    type: str
    value: str
    verdict: str
    source: str
    reason: str
    first_seen: str | None = None
    last_seen: str | None = None
    valid_until: str | None = None
    reference: str | None = None
    retrieved_at: str | None = None

    def __post_init__(self) -> None:
        if self.type not in INDICATOR_TYPES:
            raise ValueError(f"indicator type must be one of {INDICATOR_TYPES}, not {self.type!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.value)

    def to_dict(self) -> dict[str, str | None]:
        """Plain JSON-able data (for snapshots on the incident)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IntelRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def unique(records: Iterable[IntelRecord]) -> list[IntelRecord]:
    """The records without repeats, in first-seen order."""
    return list(dict.fromkeys(records))
