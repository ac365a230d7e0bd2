"""One lookup per unique indicator per run: 200 closed incidents sharing five domains ask VirusTotal five
times, through one enrichment of the tenant's indicators (not one per incident)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml

from actions.intel import default_cache
from flows.recheck import Outcome, recheck
from flows.settings import Settings
from flows.store import Store
from flows.tenants import load_tenants
from tests.recheck._build import closed_incident, dns_alert

FIXTURES = Path(__file__).parents[1] / "fixtures" / "intel" / "providers"
DOMAINS = [f"cdn{n}.example-telemetry.net" for n in range(5)]


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    default_cache().clear()


def test_200_incidents_sharing_indicators_make_one_lookup_per_unique_indicator(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECHECK_VT_KEY", "vt-key-for-tests")
    config: dict[str, Any] = yaml.safe_load(settings.tenants_file.read_text(encoding="utf-8"))
    [demo] = [t for t in config["tenants"] if t["id"] == "demo"]
    demo["intel"] = {
        "providers": ["virustotal"],
        "secrets": {"virustotal_api_key": {"env": "RECHECK_VT_KEY"}},
    }
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    tenants = load_tenants(path)
    for n in range(200):  # closed before VirusTotal was configured: no online provenance then
        closed_incident(store, dns_alert(n, DOMAINS[n % len(DOMAINS)]))
    enrichments = _count_enrichments(monkeypatch)

    with respx.mock(assert_all_called=True) as vt:
        route = vt.get(url__regex=r"https://www\.virustotal\.com/api/v3/domains/.*").mock(
            side_effect=_vt_answer
        )
        findings = recheck(store, tenants, now=datetime.now(UTC), tenant="demo")

    assert len(findings) == 200
    assert route.call_count == len(DOMAINS)
    assert sorted(str(c.request.url).rsplit("/", 1)[-1] for c in route.calls) == sorted(DOMAINS)
    assert enrichments == [len(DOMAINS)]  # one enrichment of the run's unique indicators
    # cdn0 is malicious now: the 40 incidents naming it reopen; the others are still fine.
    reopened = [f for f in findings if f.outcome is Outcome.REOPENED]
    assert len(reopened) == 40 and {f.outcome for f in findings} == {Outcome.REOPENED, Outcome.STILL_FINE}
    assert all(
        any("cdn0[.]example-telemetry[.]net is now listed malicious by virustotal" in r for r in f.reasons)
        for f in reopened
    )


def _vt_answer(request: httpx.Request) -> httpx.Response:
    domain = str(request.url).rsplit("/", 1)[-1]
    body = json.loads((FIXTURES / "vt-v3-domain.json").read_text())
    body["data"]["id"] = domain
    malicious = 12 if domain == DOMAINS[0] else 0
    body["data"]["attributes"]["last_analysis_stats"] = {
        "malicious": malicious,
        "suspicious": 0,
        "harmless": 70,
        "undetected": 10,
    }
    return httpx.Response(200, json=body)


def _count_enrichments(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from flows.recheck import _intel

    calls: list[int] = []
    real = _intel.enrich

    def counted(indicators: Any, **kwargs: Any) -> Any:
        calls.append(len(indicators))
        return real(indicators, **kwargs)

    monkeypatch.setattr(_intel, "enrich", counted)
    return calls
