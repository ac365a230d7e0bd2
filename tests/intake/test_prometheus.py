"""``GET /metrics``: the response figures in Prometheus' text format, for the operator only."""

from __future__ import annotations

import copy
import doctest
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

import flows.intake._prometheus
from flows.demo import mykings_alert
from flows.intake import create_app
from flows.intake._prometheus import MetricsConfigError, families
from flows.settings import Settings
from flows.store import Metrics, Spread, TenantMetrics

from .conftest import RecordingDispatcher, key_headers

LOOPBACK = ("127.0.0.1", 50123)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and sorted labels (the parser checks the format too)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def alert_on(host: str, tenant: str = "demo") -> dict[str, Any]:
    document = copy.deepcopy(mykings_alert())
    document["metadata"]["tenant_uid"] = tenant
    document["device"]["hostname"] = host
    document["finding_info"]["uid"] = f"finding-{host}"
    document["metadata"].pop("uid", None)
    return document


def app_client(settings: Settings, address: tuple[str, int]) -> TestClient:
    return TestClient(create_app(settings, dispatcher=RecordingDispatcher(), sweep=False), client=address)


def test_figures_are_served_to_loopback_from_the_store(settings: Settings) -> None:
    client = app_client(settings, LOOPBACK)
    for host in ("WS-1", "WS-2"):
        assert client.post("/v1/alerts", headers=key_headers("demo"), json=alert_on(host)).status_code == 202
    assert (
        client.post("/v1/alerts", headers=key_headers("acme"), json=alert_on("SRV-9", "acme")).status_code
        == 202
    )

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)
    by_tenant: dict[str, float] = {}
    for (name, labels), value in found.items():
        if name == "garrison_incidents":
            tenant = dict(labels)["tenant"]
            by_tenant[tenant] = by_tenant.get(tenant, 0) + value
    # The two demo alerts share their C2 address: one incident (grouping), acme's is its own.
    assert by_tenant == {"demo": 1.0, "acme": 1.0}
    assert found[("garrison_incidents_reopened", (("tenant", "demo"),))] == 0.0
    # Not classified yet: the incident counts under verdict "none", and no MTTR sample is made up.
    assert found[("garrison_incidents_by_verdict", (("tenant", "demo"), ("verdict", "none")))] == 1.0
    assert not any(name == "garrison_mttr_seconds" for name, _ in found)
    assert found[("garrison_mttr_incidents", (("tenant", "demo"),))] == 0.0


@pytest.mark.parametrize("address", [("192.0.2.9", 40000), ("testclient", 50000)])
def test_other_clients_are_refused_even_with_a_tenant_key(
    settings: Settings, address: tuple[str, int]
) -> None:
    client = app_client(settings, address)

    response = client.get("/metrics", headers=key_headers("demo"))

    assert response.status_code == 403
    assert "GARRISON_METRICS_ALLOW" in response.json()["detail"]
    assert "garrison_" not in response.text


def test_the_operator_can_allow_their_prometheus_network(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GARRISON_METRICS_ALLOW", "192.0.2.0/24, 2001:db8::/32")

    inside = app_client(settings, ("192.0.2.9", 40000)).get("/metrics")
    outside = app_client(settings, ("198.51.100.1", 40000)).get("/metrics")

    assert (inside.status_code, outside.status_code) == (200, 403)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("GARRISON_METRICS_ALLOW", "10.0.0.0/8, prometheus.local", "'prometheus.local' is not an address"),
        ("GARRISON_METRICS_WINDOW_DAYS", "0", "not a number of days"),
        ("GARRISON_METRICS_WINDOW_DAYS", "month", "not a number of days"),
    ],
)
def test_a_bad_setting_stops_the_start_naming_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(MetricsConfigError, match=f"{variable}: .*{says}"):
        create_app(settings, dispatcher=RecordingDispatcher(), sweep=False)


def test_families_carry_each_tenants_figures_as_worked_out_by_hand() -> None:
    none = Spread(count=0, p50=None, p90=None)
    figures = TenantMetrics(
        tenant="acme",
        incidents=4,
        mttd=Spread(count=3, p50=3600.0, p90=7200.0),
        mtta=Spread(count=4, p50=180.0, p90=900.0),
        mttr=Spread(count=2, p50=600.0, p90=1500.0),
        waited_for_analyst=Spread(count=1, p50=720.0, p90=720.0),
        awaiting_approval=none,
        by_verdict={"malicious": 2, "benign": 1, "suspicious": 1},
        by_status={"closed": 3, "reopened": 1},
        reopened=1,
    )

    class Fixed(Collector):
        def collect(self):  # type: ignore[no-untyped-def]
            yield from families(Metrics(tenant=None, since=None, tenants=[figures]), 30)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    found = samples(generate_latest(registry).decode())

    acme = (("tenant", "acme"),)
    assert found[("garrison_mttr_seconds", (("quantile", "0.5"), *acme))] == 600.0
    assert found[("garrison_mttr_seconds", (("quantile", "0.9"), *acme))] == 1500.0
    assert found[("garrison_mttd_seconds", (("quantile", "0.9"), *acme))] == 7200.0
    assert found[("garrison_mtta_incidents", acme)] == 4.0
    assert found[("garrison_incidents", (("status", "reopened"), *acme))] == 1.0
    assert found[("garrison_incidents_by_verdict", (*acme, ("verdict", "benign")))] == 1.0
    assert found[("garrison_incidents_reopened", acme)] == 1.0
    # A span no incident had gives no sample (a 0 would read as "instant"), only its count of 0.
    assert not any(name == "garrison_awaiting_approval_seconds" for name, _ in found)
    assert found[("garrison_awaiting_approval_incidents", acme)] == 0.0


def test_doctests() -> None:
    assert doctest.testmod(flows.intake._prometheus).failed == 0
