"""Enrichment asks the local feeds and the tenant's online providers, and keeps what they said."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from actions.intel import default_cache
from flows.demo import mykings_alert
from flows.models import Alert
from flows.tenants import IntelConfig
from flows.triage._enrich import enrich

FIXTURES = Path(__file__).parents[1] / "fixtures" / "intel"
DEFAULT_FEED = Path(__file__).parents[2] / "flows" / "defaults" / "intel-feed.csv"
CANARY = "vt-key-canary-5f1e9b"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    default_cache().clear()


def _indicators() -> list:
    return Alert.model_validate(mykings_alert()).indicators()


def test_local_feeds_in_every_format_give_provenance() -> None:
    stix = FIXTURES / "garrison" / "duobean-shared-certificate.json"

    result = enrich(_indicators(), tenant="demo", feeds=[DEFAULT_FEED, stix], intel=IntelConfig())

    listed = {i.value: [p.source for p in i.provenance] for i in result.indicators if i.provenance}
    assert listed == {
        "http://js.mykings.top:280/v.sct": ["garrison-demo-feed"],
        "js.mykings.top": ["garrison-demo-feed"],
    }
    assert "online" not in result.snapshot


def test_online_providers_are_asked_once_and_snapshotted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with respx.mock(assert_all_called=True) as router:
        _online(router, monkeypatch, caplog)


def _online(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DEMO_VT_KEY", CANARY)
    body = json.loads((FIXTURES / "providers" / "vt-v3-domain.json").read_text())
    body["data"]["id"] = "js.mykings.top"
    body["data"]["attributes"]["last_analysis_stats"] = {
        "malicious": 12,
        "suspicious": 1,
        "harmless": 60,
        "undetected": 10,
    }
    domain = router.get("https://www.virustotal.com/api/v3/domains/js.mykings.top").mock(
        return_value=httpx.Response(200, json=body)
    )
    router.get(url__regex=r"https://www\.virustotal\.com/api/v3/urls/.*").mock(
        return_value=httpx.Response(404, json={"error": {"code": "NotFoundError", "message": "not found"}})
    )
    intel = IntelConfig(providers=["virustotal"], secrets={"virustotal_api_key": {"env": "DEMO_VT_KEY"}})

    result = enrich(_indicators(), tenant="demo", feeds=[], intel=intel, incident_id="i-1")

    assert domain.call_count == 1
    assert domain.calls.last.request.headers["x-apikey"] == CANARY
    [found] = [i for i in result.indicators if i.value == "js.mykings.top"]
    assert [(p.source, p.verdict) for p in found.provenance] == [("virustotal", "malicious")]
    snapshot = json.dumps(result.snapshot)
    assert "virustotal" in snapshot and CANARY not in snapshot and CANARY not in caplog.text
