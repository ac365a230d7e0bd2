"""A tenant bound to CrowdStrike runs the default playbook: host isolation goes to CrowdStrike (faked at
the HTTP boundary), the capabilities it has no adapter for (registry values, domain blocks) are plan
errors and, at run time, actions left undone that send the incident to an analyst with the missing
binding named; nothing reaches the lab, whose fleet has the very same host for this tenant."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
from pydantic import BaseModel

from actions import ActionContext, ActionResult, ActionSpec, ActionStatus, Capability, TargetKind
from actions.lab import LabFleet
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.models import Alert, Indicator, IndicatorType, Provenance
from flows.respond import RespondRequest, plan_incident, respond
from flows.respond._act import act_on_incident, settle
from flows.respond._guardrails import Guard, Ruling, isolating_actions
from flows.respond._reconcile import resettle
from flows.settings import Settings, get_settings
from flows.store import Store
from flows.tenants import AdapterConfig, Policy, Tenant, tenants_from
from playbooks import load_playbook
from tests.actions.edr.test_crowdstrike import DEVICE_ID, FakeFalcon

BASE = "https://falcon.test"
TENANTS = f"""
tenants:
  - id: acme
    name: Acme Corp
    notify: [{{url: 'outbox://acme'}}]
    adapters:
      crowdstrike:
        settings: {{base_url: '{BASE}', verify_timeout: 10, poll_interval: 0.01}}
        secrets:
          crowdstrike_client_id: {{env: ACME_FALCON_CLIENT_ID}}
          crowdstrike_client_secret: {{env: ACME_FALCON_CLIENT_SECRET}}
"""
UNBOUND = {"unbound.delete_registry_value", "unbound.block_domain"}


@pytest.fixture
def acme(settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The MyKings incident of a CrowdStrike-only tenant, whose lab fleet holds the same host."""
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS, encoding="utf-8")
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(path))
    monkeypatch.setenv("ACME_FALCON_CLIENT_ID", "acme-falcon-id")
    monkeypatch.setenv("ACME_FALCON_CLIENT_SECRET", "acme-falcon-secret")
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    get_settings.cache_clear()
    LabFleet(store.engine).seed(mykings_host("acme"))
    document = mykings_alert()
    document["metadata"]["tenant_uid"] = "acme"
    return store.record_alert(Alert.model_validate(document), document).incident_id


@pytest.fixture
def falcon() -> Iterator[FakeFalcon]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        fake = FakeFalcon(mock)
        # Everything else (the Prefect API on loopback) is real.
        mock.route(host="127.0.0.1").pass_through()
        mock.route(host="localhost").pass_through()
        yield fake


def _lab_untouched(store: Store) -> None:
    fleet = LabFleet(store.engine)
    host = fleet.show("acme", DEMO_HOST)[0]
    assert host["isolated"] is False and len(host["registry_values"]) == 4
    assert fleet.blocks("acme") == []


@pytest.mark.usefixtures("prefect_harness")
def test_the_default_playbook_isolates_through_crowdstrike_and_escalates_what_has_no_adapter(
    settings: Settings, store: Store, acme: str, falcon: FakeFalcon
) -> None:
    result = respond(RespondRequest(incident_id=acme, playbook="default"))

    incident = store.incident(acme)
    assert incident is not None and incident.verdict == "malicious"
    assert result["status"] == incident.status == "awaiting_approval"
    # Isolation went to CrowdStrike: one contain for the one device, verified by its status.
    assert falcon.action.call_count == 1 and falcon.action.calls.last.request.url.params["action_name"] == (
        "contain"
    )
    actions = {(a.key, a.target.split(":", 1)[-1]): a for a in incident.actions}
    isolated = actions[("crowdstrike.isolate_host", DEMO_HOST)]
    assert (isolated.status, isolated.detail) == ("succeeded", "device contained")
    assert isolated.vendor_ref == DEVICE_ID
    # What no adapter of the tenant does is on the ledger as not done, with the missing binding: the
    # customer's report can never say the domain was blocked.
    undone = [a for a in incident.actions if a.key in UNBOUND]
    assert {a.key for a in undone} == UNBOUND and len(undone) == 4  # three Run-key values, one domain
    assert all(a.status == "skipped" for a in undone)
    [domain] = [a for a in undone if a.key == "unbound.block_domain"]
    assert domain.target == "js.mykings.top"
    assert domain.detail == "Unbound: no adapter for block_domain in tenant acme"
    assert not any(a.key.startswith("lab.") for a in incident.actions)
    _lab_untouched(store)
    # The analysts hear why: the missing bindings are named.
    waiting = [t.message for t in incident.timeline if "no adapter for" in t.message and t.step == "act"]
    assert any("no adapter for delete_registry_value, block_domain in this tenant" in m for m in waiting)
    assert [n.event for n in incident.notifications][:1] == ["escalation"]
    escalation = next((settings.outbox_dir / "_analysts").glob("*")).read_text(encoding="utf-8")
    assert "no adapter for delete_registry_value, block_domain" in escalation
    assert not incident.closed_at and not incident.contained_at
    # The customer's report tells it as it is: isolated, the rest not done (and defanged as ever).
    [report] = (settings.outbox_dir / "acme").glob("*")
    text = report.read_text(encoding="utf-8")
    assert "Isolate the host from the network: WS-FINANCE-07 (Done)" in text
    assert "Block the domain: js[.]mykings[.]top (Skipped)" in text
    assert "Autostart entries found in the evidence are still in place" in text


@pytest.mark.usefixtures("prefect_harness")
def test_the_playbook_chosen_for_the_case_runs_through_crowdstrike_too(
    settings: Settings, store: Store, acme: str, falcon: FakeFalcon
) -> None:
    result = respond(RespondRequest(incident_id=acme))  # no playbook named: the match rules choose

    incident = store.incident(acme)
    assert incident is not None
    assert result["playbook"] == "persistence-malware" and incident.playbook == "persistence-malware v1"
    assert result["status"] == incident.status == "awaiting_approval"
    keys = {a.key: a.status for a in incident.actions}
    assert keys.pop("crowdstrike.isolate_host") == "succeeded"
    # Blocking C2 and removing the Run keys: this tenant has no adapter for them, so they are not done
    # (and say so), never done by the lab.
    assert keys == {
        "unbound.block_domain": "skipped",
        "unbound.block_url": "skipped",
        "unbound.delete_registry_value": "skipped",
    }
    _lab_untouched(store)


def test_the_plan_shows_crowdstrike_for_isolation_and_an_error_for_each_unbound_capability(
    settings: Settings, store: Store, acme: str, falcon: FakeFalcon
) -> None:
    intel = [Provenance(source="test-feed", verdict="malicious")]
    store.save_indicators(
        acme, [Indicator(type=IndicatorType.DOMAIN, value="js.mykings.top", provenance=intel)]
    )
    tenant = tenants_from(get_settings().tenants_file).get("acme")
    incident = store.incident(acme)
    assert tenant is not None and incident is not None

    items = asyncio.run(plan_incident(store, tenant, incident, load_playbook("default")))

    by_action: dict[str, list[Any]] = {}
    for item in items:
        by_action.setdefault(item.action, []).append(item)
    assert set(by_action) == {"crowdstrike.isolate_host", "delete_registry_value", "block_domain", "block_ip"}
    [isolate] = by_action["crowdstrike.isolate_host"]
    assert (isolate.target, isolate.verdict) == (DEMO_HOST, "allowed")
    assert isolate.vendor.startswith("would run crowdstrike.isolate_host")  # read from the fake Falcon
    assert len(by_action["delete_registry_value"]) == 3
    [block] = by_action["block_domain"]
    [ip] = by_action["block_ip"]  # no malicious IP in this incident: one line for the step
    for item in (*by_action["delete_registry_value"], block, ip):
        assert item.verdict == "unbound" and item.step == "contain"
        assert item.reason == f"no adapter for {item.action} in tenant acme"
    assert (block.target, ip.target) == ("js.mykings.top", "-")
    # A plan changes nothing, anywhere.
    assert falcon.action.call_count == 0 and store.ledger.rows(acme) == []
    _lab_untouched(store)


def test_a_dry_run_notes_what_has_no_adapter_and_writes_nothing(store: Store, acme: str) -> None:
    tenant = Tenant(id="acme", name="Acme")  # no adapter at all

    outcomes = asyncio.run(
        act_on_incident(store, store.incident(acme), tenant, ["isolate_host"], dry_run=True)  # type: ignore[arg-type]
    )

    assert [(o.action, o.target, o.status, o.hold) for o in outcomes] == [
        ("unbound.isolate_host", DEMO_HOST, "skipped", "unbound")
    ]
    assert store.ledger.rows(acme) == []
    timeline = [t.message for t in store.incident(acme).timeline]  # type: ignore[union-attr]
    assert f"dry-run: cannot run isolate_host on {DEMO_HOST}: no adapter for isolate_host in tenant acme" in (
        timeline
    )
    _lab_untouched(store)


def test_what_has_no_adapter_keeps_the_incident_from_counting_as_contained(store: Store, acme: str) -> None:
    # The lab is configured, so isolate_host is done there; an explicit action of a vendor the tenant does
    # not configure is not, and stays on the ledger as not done even once everything else is in place.
    tenant = Tenant(id="acme", name="Acme", adapters={"lab": AdapterConfig()})
    wanted = ["isolate_host", "crowdstrike.isolate_host"]

    outcomes = asyncio.run(act_on_incident(store, store.incident(acme), tenant, wanted))  # type: ignore[arg-type]
    contained, why = settle(store, acme, [o.__dict__ for o in outcomes])

    assert [(o.action, o.status, o.hold) for o in outcomes] == [
        ("lab.isolate_host", "succeeded", ""),
        ("crowdstrike.isolate_host", "skipped", "unbound"),
    ]
    assert contained is False
    assert "1 action(s) not run for want of an adapter" in why
    assert "crowdstrike.isolate_host needs crowdstrike, which tenant acme does not configure" in why
    assert resettle(store, acme) is None  # approvals or reconciliation cannot make it "contained" either
    assert store.incident(acme).status == "awaiting_approval"  # type: ignore[union-attr]


# -- guardrails read the capability, never the verb in the key ---------------------------------------------


def _spec(key: str, capability: Capability | None) -> ActionSpec:
    async def fn(inputs: Any, ctx: ActionContext) -> ActionResult:
        return ActionResult(status=ActionStatus.SUCCEEDED)

    target = capability.target if capability else TargetKind.IP
    return ActionSpec(key=key, fn=fn, inputs=BaseModel, target=target, description="x", capability=capability)


def test_guardrails_judge_an_action_by_its_capability_not_by_its_key() -> None:
    guard = Guard(Policy())
    resolver = {"ip": "8.8.8.8"}

    # Named like a block, declared as giving one back: never-block lists do not apply.
    assert guard.decide(_spec("v.lift_rule", Capability.UNBLOCK_IP), "ip", resolver).verdict is Ruling.ALLOWED
    # Named like a release, declared as a block: refused like any block of a public resolver.
    assert guard.decide(_spec("v.release_ip", Capability.BLOCK_IP), "ip", resolver).refused
    assert guard.decide(_spec("v.unblock_ip", None), "ip", resolver).refused  # undeclared: no exemption
    # Isolations share the blast-radius cap whatever their key says.
    assert guard.cap(_spec("v.contain_device", Capability.ISOLATE_HOST)) is not None
    assert guard.cap(_spec("v.isolate_host", Capability.RELEASE_HOST)) is None
    assert "crowdstrike.isolate_host" in isolating_actions() and "lab.release_host" not in isolating_actions()
