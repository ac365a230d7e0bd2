"""What reading a feed yields: records, listed networks, and every entry left out with the reason."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actions.indicators import InvalidIndicator, normalize

from .._record import IntelRecord, unique
from .._text import clean


class FeedError(ValueError):
    """A feed cannot be read as a whole; the message names the file and the line or object id."""


@dataclass(frozen=True)
class Skipped:
    """One feed entry that gave no record: where it is (``file:line`` or ``file#object-id``) and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class IntelNetwork:
    """A listed address range (``223.166.0.0/15``): it says something about every address inside."""

    network: str
    verdict: str
    source: str
    reason: str
    first_seen: str | None = None
    last_seen: str | None = None
    valid_until: str | None = None
    reference: str | None = None

    def contains(self, address: str) -> bool:
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(self.network)
        except ValueError:
            return False

    def record_for(self, address: str) -> IntelRecord:
        """What this listing says about one address inside the range."""
        version = ipaddress.ip_address(address).version
        return IntelRecord(
            type=f"ipv{version}",
            value=str(ipaddress.ip_address(address)),
            verdict=self.verdict,
            source=self.source,
            reason=clean(f"in listed range {self.network}: {self.reason}", 300),
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            valid_until=self.valid_until,
            reference=self.reference,
        )


@dataclass
class FeedResult:
    """A parsed feed. ``records`` is what ``load_feed`` returns."""

    path: Path | None
    format: str  # "stix", "misp", "csv", "list"
    records: list[IntelRecord] = field(default_factory=list)
    networks: list[IntelNetwork] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


# More skipped entries than this are counted, not kept: a hostile feed must not fill memory with reasons.
MAX_SKIPPED = 1000


class Collector:
    """Gathers a feed's records; values that do not normalize are skipped with the reason."""

    def __init__(self, name: str, fmt: str, path: Path | None = None) -> None:
        self.result = FeedResult(path=path, format=fmt)
        self.name = name
        self._skipped_more = 0

    def skip(self, where: str, reason: str) -> None:
        if len(self.result.skipped) < MAX_SKIPPED:
            self.result.skipped.append(Skipped(clean(where, 160), clean(reason, 300)))
        else:
            self._skipped_more += 1

    def add(self, kind: str, value: Any, *, where: str, **fields: Any) -> IntelRecord | None:
        """Normalize ``value`` as ``kind`` and keep a record, or skip it with the reason it is unusable."""
        try:
            typed, canonical = normalize(kind, value) if isinstance(value, str) else normalize(kind, "")
        except InvalidIndicator as error:
            self.skip(where, str(error) if isinstance(value, str) else "the value is not text")
            return None
        return self.keep(typed, canonical, **fields)

    def keep(self, kind: str, value: str, **fields: Any) -> IntelRecord:
        record = IntelRecord(type=kind, value=value, **self._attributed(fields))
        self.result.records.append(record)
        return record

    def add_network(self, cidr: str, *, where: str, **fields: Any) -> None:
        try:
            network = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            self.skip(where, f"{clean(cidr, 60)!r} is no address range")
            return
        if network.num_addresses == 1:
            self.keep(f"ipv{network.version}", str(network.network_address), **fields)
            return
        self.result.networks.append(IntelNetwork(network=str(network), **self._attributed(fields)))

    def _attributed(self, fields: dict[str, Any]) -> dict[str, Any]:
        # An entry that names no source or reason is the feed's own word.
        fields["source"] = clean(fields.get("source"), 120) or self.name
        fields["reason"] = clean(fields.get("reason"), 300) or f"listed in {self.name}"
        return fields

    def finish(self) -> FeedResult:
        result = self.result
        result.records = unique(result.records)
        result.networks = list(dict.fromkeys(result.networks))
        if self._skipped_more:
            result.skipped.append(Skipped(self.name, f"{self._skipped_more} more entries skipped"))
        return result
