"""``GET /metrics``: the response figures of ``garrison metrics`` in Prometheus' text format, for the MDR's
own dashboards.

Operator-only. The figures name every tenant, so the route answers only clients on loopback unless the
operator lists the networks of their Prometheus servers in ``GARRISON_METRICS_ALLOW`` (CIDRs, comma
separated); a tenant's API key never opens it. Everything comes from the shared store, so each intake
process (and each machine, in a scale-out) answers the same figures.

A scrape reads every incident of the window (``GARRISON_METRICS_WINDOW_DAYS``, default 30): the answer is
kept for ``CACHE_SECONDS`` so several Prometheus servers, or a short scrape interval, cost one read.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network, IPv6Network

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from flows.store import Metrics, Store, incident_metrics

ALLOW_ENV = "GARRISON_METRICS_ALLOW"
WINDOW_ENV = "GARRISON_METRICS_WINDOW_DAYS"
DEFAULT_WINDOW_DAYS = 30
CACHE_SECONDS = 15.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SPANS = (
    ("mttd", "evidence to alert received (time to detect)"),
    ("mtta", "alert received to the first decision, automatic or human (time to acknowledge)"),
    ("mttr", "alert received to contained (time to respond)"),
    ("waited_for_analyst", "time incidents waited for an analyst's decision"),
    ("awaiting_approval", "time in awaiting_approval"),
)


class MetricsConfigError(ValueError):
    """A metrics setting cannot be read; the message names the variable and the bad value."""


def allowed_networks(raw: str | None) -> list[IPv4Network | IPv6Network]:
    """The networks whose clients may scrape, besides loopback (always allowed).

    >>> [str(n) for n in allowed_networks("10.0.0.0/8, 2001:db8::1")]
    ['10.0.0.0/8', '2001:db8::1/128']
    """
    networks: list[IPv4Network | IPv6Network] = []
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            raise MetricsConfigError(f"{ALLOW_ENV}: {part.strip()!r} is not an address or network") from None
    return networks


def may_scrape(client: str | None, networks: list[IPv4Network | IPv6Network]) -> bool:
    """Whether a client address may read the figures: loopback, or inside an allowed network.

    >>> may_scrape("127.0.0.1", []), may_scrape("192.0.2.7", []), may_scrape("::ffff:127.0.0.1", [])
    (True, False, True)
    """
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:  # a test client's "testclient", a Unix socket's empty peer
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or any(address in network for network in networks)


def window_days(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return DEFAULT_WINDOW_DAYS
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if not 1 <= days <= 3650:
        raise MetricsConfigError(f"{WINDOW_ENV}: {raw!r} is not a number of days from 1 to 3650")
    return days


class StoreCollector(Collector):
    """Reads the figures from the store when Prometheus asks (at most once per ``CACHE_SECONDS``)."""

    def __init__(self, store: Store, days: int) -> None:
        self.store = store
        self.days = days
        self._lock = threading.Lock()
        self._read_at = -CACHE_SECONDS
        self._metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:  # two scrapes at once: one reads, the other waits for its answer
            now = time.monotonic()
            if now - self._read_at >= CACHE_SECONDS:
                since = datetime.now(UTC) - timedelta(days=self.days)
                self._metrics = families(incident_metrics(self.store.engine, since=since), self.days)
                self._read_at = now
            yield from self._metrics


def families(found: Metrics, days: int) -> list[Metric]:
    """The figures as metric families (gauges: each is a state of the window, not a running count)."""
    window = f" (incidents received in the last {days} days)"
    incidents = GaugeMetricFamily(
        "garrison_incidents", "Incidents by status" + window, labels=["tenant", "status"]
    )
    verdicts = GaugeMetricFamily(
        "garrison_incidents_by_verdict",
        "Incidents by classify verdict" + window,
        labels=["tenant", "verdict"],
    )
    reopened = GaugeMetricFamily(
        "garrison_incidents_reopened",
        "Incidents with more than one response round" + window,
        labels=["tenant"],
    )
    spans = {
        name: GaugeMetricFamily(
            f"garrison_{name}_seconds", f"{what}, p50 and p90{window}", labels=["tenant", "quantile"]
        )
        for name, what in _SPANS
    }
    counted = {
        name: GaugeMetricFamily(
            f"garrison_{name}_incidents", f"Incidents that have a {name} span{window}", labels=["tenant"]
        )
        for name, _ in _SPANS
    }
    for tenant in found.tenants:
        for status, count in tenant.by_status.items():
            incidents.add_metric([tenant.tenant, status], count)
        for verdict, count in tenant.by_verdict.items():
            verdicts.add_metric([tenant.tenant, verdict], count)
        reopened.add_metric([tenant.tenant], tenant.reopened)
        for name, _ in _SPANS:
            figure = getattr(tenant, name)
            counted[name].add_metric([tenant.tenant], figure.count)
            for quantile, value in (("0.5", figure.p50), ("0.9", figure.p90)):
                if value is not None:  # no incident had the span: no sample, rather than a made-up 0
                    spans[name].add_metric([tenant.tenant, quantile], value)
    return [incidents, verdicts, reopened, *spans.values(), *counted.values()]


def exposition(collector: StoreCollector) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)


def collector_from_env(store: Store) -> tuple[StoreCollector, list[IPv4Network | IPv6Network]]:
    """The collector and the allowed networks, from the environment (a bad value fails the start, loudly)."""
    return StoreCollector(store, window_days(os.environ.get(WINDOW_ENV))), allowed_networks(
        os.environ.get(ALLOW_ENV)
    )
