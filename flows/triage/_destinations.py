"""Where indicators point: what the network questions and standing decisions compare."""

from __future__ import annotations

from collections.abc import Sequence

from flows.models import Indicator, IndicatorType, host_of


def destinations(indicators: Sequence[Indicator]) -> list[str]:
    """Where the alert's network indicators point: IPs, domains, and the hosts of URLs."""
    found: dict[str, None] = {}
    for indicator in indicators:
        if indicator.type in (IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.DOMAIN):
            found[indicator.value] = None
        elif indicator.type is IndicatorType.URL and (host := host_of(indicator.value)):
            found[host.lower()] = None
    return list(found)
