"""Triage findings travel as code + params, so every language tells them in its own words."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from flows.models import Alert
from flows.notify import render_report
from flows.store import Store
from flows.tenants import IntelConfig, Policy, Tenant
from flows.triage import MemoryTelemetry, triage
from flows.triage._enrich import enrich
from flows.triage._offline import read_events

CORPUS = Path(__file__).parents[1] / "triage" / "corpus" / "duobean"
PHRASES = {
    "en": ["like clockwork", "DLL side-loading", "a targeted pattern"],
    "zh-TW": ["準時連線", "DLL 側載", "針對性攻擊的特徵"],
    "ja": ["正確に接続", "DLL サイドローディング", "標的型の特徴"],
}


@pytest.fixture
def incident_id(store: Store) -> str:
    document = json.loads((CORPUS / "alert.json").read_text())
    alert = Alert.model_validate(document)
    feeds = [CORPUS / "intel.stix.json"]
    indicators = enrich(alert.indicators(), tenant="acme", feeds=feeds, intel=IntelConfig()).indicators
    telemetry = MemoryTelemetry(read_events(CORPUS / "events.ndjson", "acme"))
    verdict = triage(
        [alert], indicators, Policy(), telemetry, datetime.fromisoformat("2026-11-15T09:00:00+00:00")
    )
    receipt = store.record_alert(alert, document)
    store.set_verdict(receipt.incident_id, verdict.verdict)
    return receipt.incident_id


@pytest.mark.parametrize("language", sorted(PHRASES))
def test_duobean_reasons_read_in_the_tenants_language(store: Store, incident_id: str, language: str) -> None:
    tenant = Tenant(id="acme", name="ACME", language=language)  # type: ignore[arg-type]

    report = render_report(incident_id, channel="text", language=language, store=store, tenant=tenant)

    text = report.subject + report.body
    for phrase in PHRASES[language]:
        assert phrase in text
    if language != "en":
        assert "like clockwork" not in text and "a targeted pattern" not in text  # no English left behind
    assert "203[.]0[.]113[.]45" in text and "203.0.113.45" not in text
