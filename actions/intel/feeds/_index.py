"""Many feeds as one look-up: exact indicator matches, and addresses inside listed ranges."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable

from actions.indicators import InvalidIndicator, normalize

from .._record import IntelRecord
from ._result import FeedResult, IntelNetwork


class IntelIndex:
    """What the loaded feeds say about an indicator.

    >>> from actions.intel import IntelRecord
    >>> index = IntelIndex([IntelRecord("domain", "evil.com", "malicious", "feed", "C2")])
    >>> [r.reason for r in index.get("domain", "EVIL[.]com")]
    ['C2']
    """

    def __init__(self, records: Iterable[IntelRecord] = (), networks: Iterable[IntelNetwork] = ()) -> None:
        self._records: dict[tuple[str, str], list[IntelRecord]] = defaultdict(list)
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, IntelNetwork]] = []
        self.add(records, networks)

    @classmethod
    def of(cls, results: Iterable[FeedResult]) -> IntelIndex:
        index = cls()
        for result in results:
            index.add(result.records, result.networks)
        return index

    def add(self, records: Iterable[IntelRecord] = (), networks: Iterable[IntelNetwork] = ()) -> None:
        for record in records:
            if record not in self._records[record.key]:
                self._records[record.key].append(record)
        for network in networks:
            self._networks.append((ipaddress.ip_network(network.network), network))

    def get(self, kind: str, value: str) -> list[IntelRecord]:
        """Records for the indicator (normalized first); an address also matches the ranges holding it."""
        try:
            kind, value = normalize(kind, value)
        except InvalidIndicator:
            return []
        found = list(self._records.get((kind, value), []))
        if kind in ("ipv4", "ipv6") and self._networks:
            address = ipaddress.ip_address(value)
            found += [n.record_for(value) for net, n in self._networks if address in net]
        return found

    def __len__(self) -> int:
        return sum(len(v) for v in self._records.values()) + len(self._networks)
