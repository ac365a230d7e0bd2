"""A MISP value marked "not for detection" (to_ids false) reaches the analyst, never a block: read from the
feed, enriched onto the incident, then asked for block targets as a playbook step would be."""

from __future__ import annotations

from typing import Any

from actions import TargetKind
from flows.models import Alert
from flows.respond._targets import targets_for
from flows.store import Store
from flows.tenants import IntelConfig
from flows.triage import enrich
from tests.actions.intel._helpers import FIXTURES

FEEDS = [
    FIXTURES / "misp" / "eset-sshdoor-kessel-event.json",
    FIXTURES / "misp" / "cerber-ransomware-event.json",
]


def _alert() -> dict[str, Any]:
    observables = [
        ("dst_endpoint.domain", 1, "dc0.cc"),  # ESET: to_ids false
        ("dst_endpoint.domain", 1, "decrypttozxybarc.onion"),  # CIRCL: to_ids true
        ("url.url_string", 6, "http://ipinfo.io/json"),  # CIRCL: to_ids false (the geo lookup)
    ]
    return {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "t1", "product": {"name": "edr"}, "uid": "ctx-1"},
        "finding_info": {"uid": "ctx-1", "title": "SSHDoor beacon"},
        "device": {"hostname": "SRV-3"},
        "observables": [{"name": n, "type_id": t, "value": v} for n, t, v in observables],
    }


def test_a_to_ids_false_value_is_shown_but_never_a_block_target(store: Store) -> None:
    document = _alert()
    alert = Alert.model_validate(document)
    incident_id = store.record_alert(alert, document).incident_id

    enriched = enrich(alert.indicators(), tenant="t1", feeds=FEEDS, intel=IntelConfig()).indicators
    store.save_indicators(incident_id, enriched)
    view = store.incident(incident_id)
    assert view is not None

    said = {i.value: [(p["verdict"], p["reason"]) for p in i.provenance] for i in view.indicators}
    [(verdict, reason)] = said["dc0.cc"]
    assert verdict == "suspicious" and "to_ids false: context the event gives" in reason
    assert [v for v, _ in said["http://ipinfo.io/json"]] == ["suspicious"]
    domains = [t.label for t in targets_for(TargetKind.DOMAIN, view, [alert])]
    urls = [t.label for t in targets_for(TargetKind.URL, view, [alert])]
    assert domains == ["decrypttozxybarc.onion"]  # the detection attribute is blocked, the context one not
    assert urls == []
