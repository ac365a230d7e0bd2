"""Campaigns across tenants (DESIGN §1: DUOBEAN at several customers at once): the same C2, hash,
certificate or malicious rule-and-technique pattern at two tenants within the window → one campaign; each
affected tenant is warned once, and no warning names another tenant or its hosts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.respond._campaigns import find_campaigns
from flows.settings import Settings, get_settings
from flows.store import IncomingAlert, Store, campaigns, record_sightings
from flows.tenants import TenantDirectory, tenants_from
from tests.recheck._build import SEPARATE

C2 = "update-cdn.duobean-c2.top"  # made up; a reserved name (example.com) is on a warninglist
TENANTS = """
tenants:
  - id: acme
    name: Acme Manufacturing
    notify: [{url: 'outbox://acme'}]
  - id: globex
    name: Globex Retail
    language: ja
    notify: [{url: 'outbox://globex'}]
  - id: initech
    name: Initech Bank
    notify: [{url: 'outbox://initech'}]
    campaigns: {receive_blocks: true}
"""


@pytest.fixture
def tenants(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TenantDirectory:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS, encoding="utf-8")
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(path))
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    get_settings.cache_clear()
    return tenants_from(path)


def beacon(tenant: str, host: str, c2: str = C2, rule: str = "edr-c2-beacon") -> dict[str, Any]:
    return {
        "class_uid": 2004,
        "category_uid": 2,
        "activity_id": 1,
        "type_uid": 200401,
        "severity_id": 4,
        "time": 1_764_000_000_000,
        "metadata": {"version": "1.3.0", "tenant_uid": tenant, "product": {"name": "Demo EDR"}},
        "finding_info": {
            "uid": f"{tenant}-{host}",
            "title": f"msiexec.exe beaconing from {host}",
            "analytic": {"uid": rule, "name": "C2 beacon"},
            "attacks": [{"technique": {"uid": "T1071.001", "name": "Web Protocols"}}],
        },
        "device": {"hostname": host},
        "observables": [{"name": "dst_endpoint.hostname", "type_id": 1, "value": c2}],
    }


def incident(store: Store, document: dict[str, Any]) -> str:
    alert = Alert.model_validate(document)
    [accepted] = store.ingest([IncomingAlert(alert=alert, document=document)], SEPARATE)
    store.save_indicators(accepted.incident_id, alert.indicators())
    return accepted.incident_id


def outbox(settings: Settings, tenant: str) -> list[str]:
    folder = settings.outbox_dir / tenant
    return (
        [p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*")) if p.is_file()]
        if folder.exists()
        else []
    )


def test_the_same_c2_at_two_tenants_is_one_campaign_and_both_are_warned_once(
    settings: Settings, store: Store, tenants: TenantDirectory
) -> None:
    first = incident(store, beacon("acme", "ACME-FIN-07"))
    assert find_campaigns.fn(store, first, tenants.get("acme"), tenants, "suspicious") == []

    second = incident(store, beacon("globex", "GLOBEX-POS-12"))
    [campaign] = find_campaigns.fn(store, second, tenants.get("globex"), tenants, "malicious")

    assert campaign.tenants == ["acme", "globex"] and set(campaign.incidents) == {first, second}
    assert f"domain:{C2}" in campaign.values
    assert sorted(campaign.warned) == ["acme", "globex"]
    acme, globex = outbox(settings, "acme"), outbox(settings, "globex")
    assert len(acme) == 1 and len(globex) == 1
    # Each warning tells its own customer the threat's reach, never the other customer or its hosts.
    assert "GLOBEX" not in acme[0].upper() and "GLOBEX-POS-12" not in acme[0]
    assert "ACME" not in globex[0].upper() and "ACME-FIN-07" not in globex[0]
    assert outbox(settings, "initech") == []

    # A third incident at one of them adds nobody: nobody is warned twice.
    third = incident(store, beacon("acme", "ACME-FIN-09"))
    [again] = find_campaigns.fn(store, third, tenants.get("acme"), tenants, "malicious")
    assert again.id == campaign.id
    assert (len(outbox(settings, "acme")), len(outbox(settings, "globex"))) == (1, 1)


def test_an_opted_in_tenant_not_hit_gets_the_indicators_as_an_incident_of_its_own(
    settings: Settings, store: Store, tenants: TenantDirectory
) -> None:
    for tenant, host in (("acme", "ACME-FIN-07"), ("globex", "GLOBEX-POS-12")):
        find_campaigns.fn(
            store, incident(store, beacon(tenant, host)), tenants.get(tenant), tenants, "malicious"
        )

    [offered] = store.incidents(tenant="initech")
    incident_view = store.incident(offered.id)
    assert incident_view is not None and incident_view.status == "new"  # the sweeper starts its usual run
    assert [(i.type, i.value) for i in incident_view.indicators] == [("domain", C2)]
    assert incident_view.title.startswith("Campaign CP-") and "2 other customers" in incident_view.title
    told = json.dumps([store.alert_documents(offered.id), incident_view.model_dump(mode="json")])
    for secret in ("acme", "ACME", "globex", "GLOBEX", "POS-12", "FIN-07"):
        assert secret not in told
    # Told again (a third incident at acme), the same offer is a duplicate: one incident at initech.
    find_campaigns.fn(
        store, incident(store, beacon("acme", "ACME-FIN-09")), tenants.get("acme"), tenants, "malicious"
    )
    assert len(store.incidents(tenant="initech")) == 1
    # A tenant that did not opt in (and was hit) gets no offer; the warned ones got no incident either.
    assert {s.tenant for s in store.incidents()} == {"acme", "globex", "initech"}
    assert len(store.incidents(tenant="globex")) == 1
    # The offer's own triage (gray, or malicious once an analyst says so) is no sighting at initech.
    assert find_campaigns.fn(store, offered.id, tenants.get("initech"), tenants, "malicious") == []
    [campaign] = campaigns(store.engine)
    assert campaign.tenants == ["acme", "globex"]


def test_a_third_tenant_joins_the_campaign_and_only_it_is_warned_now(
    settings: Settings, store: Store, tenants: TenantDirectory
) -> None:
    for tenant, host in (("acme", "A-1"), ("globex", "G-1")):
        find_campaigns.fn(
            store, incident(store, beacon(tenant, host)), tenants.get(tenant), tenants, "malicious"
        )

    [campaign] = find_campaigns.fn(
        store, incident(store, beacon("initech", "I-1")), tenants.get("initech"), tenants, "malicious"
    )

    assert campaign.tenants == ["acme", "globex", "initech"]
    assert [len(outbox(settings, t)) for t in ("acme", "globex", "initech")] == [1, 1, 1]
    assert "3" in outbox(settings, "initech")[0]  # seen at 3 customers


@pytest.mark.parametrize(
    ("c2", "verdict"),
    [
        ("dns.google", "malicious"),  # a public resolver every network talks to
        ("10.20.30.40", "malicious"),  # a private address: every network has it
        (C2, "benign"),  # a benign incident sighted nothing
    ],
)
def test_what_every_network_shares_or_a_benign_incident_makes_no_campaign(
    settings: Settings, store: Store, tenants: TenantDirectory, c2: str, verdict: str
) -> None:
    for tenant in ("acme", "globex"):
        document = beacon(tenant, f"{tenant}-1", c2=c2, rule=f"rule-of-{tenant}")
        if c2[0].isdigit():
            document["observables"] = [{"name": "dst_endpoint.ip", "type_id": 2, "value": c2}]
        find_campaigns.fn(store, incident(store, document), tenants.get(tenant), tenants, verdict)

    assert campaigns(store.engine) == []
    assert outbox(settings, "acme") == outbox(settings, "globex") == []


def test_a_malicious_rule_and_technique_pattern_at_two_tenants_is_a_campaign(
    settings: Settings, store: Store, tenants: TenantDirectory
) -> None:
    for n, tenant in enumerate(("acme", "globex")):
        document = beacon(tenant, f"H-{n}", c2=f"c2-{n}.duobean-c2.top")
        find_campaigns.fn(store, incident(store, document), tenants.get(tenant), tenants, "malicious")

    [campaign] = campaigns(store.engine)
    assert campaign.values == ["rule:edr-c2-beacon|T1071,T1071.001"]  # a sub-technique names its parent too


def test_sightings_outside_the_window_make_no_campaign(store: Store) -> None:
    then = datetime(2026, 1, 1, tzinfo=UTC)
    record_sightings(store.engine, "acme", "i-1", ["domain:x.example.net"], now=then)
    late = record_sightings(
        store.engine, "globex", "i-2", ["domain:x.example.net"], now=then + timedelta(days=15)
    )
    near = record_sightings(
        store.engine, "initech", "i-3", ["domain:x.example.net"], now=then + timedelta(days=20)
    )

    assert late.campaigns == []
    assert [c.tenants for c in near.campaigns] == [["globex", "initech"]]


@pytest.mark.usefixtures("prefect_harness")
def test_the_respond_flow_finds_the_campaign_and_the_cli_lists_it(
    settings: Settings, store: Store, tenants: TenantDirectory
) -> None:
    ids = [incident(store, beacon(t, f"{t.upper()}-WS-1")) for t in ("acme", "globex")]
    for incident_id in ids:
        respond(RespondRequest(incident_id=incident_id))

    shown = CliRunner().invoke(app, ["campaigns", "--json"])
    assert shown.exit_code == 0, shown.output
    [listed] = json.loads(shown.output)["campaigns"]
    assert listed["tenants"] == ["acme", "globex"] and listed["reference"].startswith("CP-")
    assert any(e.step == "campaign" for e in store.incident(ids[1]).timeline)  # type: ignore[union-attr]
