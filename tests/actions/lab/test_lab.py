"""The lab adapter: every action has a real, checkable effect on the simulated fleet, and refuses to
guess when a target is ambiguous or belongs to another tenant."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

import actions.lab  # noqa: F401 - registers the lab.* actions
from actions import ActionContext, ActionResult, ActionStatus, PermanentError, TargetNotFound, registry
from actions.lab import ConnectionSeed, HostSeed, LabFleet, RegistryValueSeed
from flows.demo import DEMO_HOST, RUN_KEY, mykings_host
from flows.store import Store

LAB_KEYS = [
    "lab.isolate_host",
    "lab.release_host",
    "lab.delete_registry_value",
    "lab.restore_registry_value",
    "lab.block_domain",
    "lab.unblock_domain",
    "lab.block_ip",
    "lab.unblock_ip",
]


@pytest.fixture
def fleet(store: Store) -> LabFleet:
    fleet = LabFleet(store.engine)
    fleet.seed(mykings_host())
    return fleet


def run(store: Store, key: str, inputs: dict[str, Any], tenant: str = "demo") -> ActionResult:
    ctx = ActionContext(tenant=tenant, incident_id="i1", db=store.engine)
    return asyncio.run(registry.get(key).run(inputs, ctx))


def host(fleet: LabFleet, tenant: str = "demo", hostname: str = DEMO_HOST) -> dict[str, Any]:
    [found] = fleet.show(tenant, hostname)
    return found


def run_values(fleet: LabFleet) -> dict[tuple[str, str], str]:
    return {(v["key"], v["name"]): v["data"] for v in host(fleet)["registry_values"]}


# -- the seed ----------------------------------------------------------------------------------------------


def test_the_mykings_host_is_seeded_with_its_persistence(fleet: LabFleet) -> None:
    seeded = host(fleet)

    assert seeded["isolated"] is False
    assert (RUN_KEY, "start") in run_values(fleet)
    assert (RUN_KEY, "start1") in run_values(fleet)
    start = next(v for v in seeded["registry_values"] if (v["key"], v["name"]) == (RUN_KEY, "start"))
    assert start["written_at"].startswith("2017-07-23")
    assert {(c["remote"], c["port"], c["blocked"]) for c in seeded["connections"]} == {
        ("js.mykings.top", 280, False)
    }


def test_seeding_again_replaces_the_host(store: Store, fleet: LabFleet) -> None:
    first = host(fleet)["device_id"]

    second = fleet.seed(mykings_host())

    assert second != first
    assert [h["device_id"] for h in fleet.show("demo", DEMO_HOST)] == [second]


def test_show_matches_hostnames_case_insensitively(fleet: LabFleet) -> None:
    assert len(fleet.show("demo", DEMO_HOST.lower())) == 1
    assert len(fleet.show(None, DEMO_HOST)) == 1
    assert fleet.show("other", DEMO_HOST) == []


# -- isolation ---------------------------------------------------------------------------------------------


def test_isolate_cuts_the_host_off(store: Store, fleet: LabFleet) -> None:
    result = run(store, "lab.isolate_host", {"hostname": DEMO_HOST})

    assert result.status is ActionStatus.SUCCEEDED
    assert result.changed is True
    assert result.detail == "host isolated"
    assert result.vendor_ref == host(fleet)["device_id"]
    assert host(fleet)["isolated"] is True


def test_isolating_an_isolated_host_succeeds_without_change(store: Store, fleet: LabFleet) -> None:
    run(store, "lab.isolate_host", {"hostname": DEMO_HOST})

    again = run(store, "lab.isolate_host", {"hostname": DEMO_HOST})

    assert again.ok and again.changed is False
    assert "already" in again.detail
    assert host(fleet)["isolated"] is True


def test_release_gives_the_network_back(store: Store, fleet: LabFleet) -> None:
    run(store, "lab.isolate_host", {"hostname": DEMO_HOST})

    released = run(store, "lab.release_host", {"hostname": DEMO_HOST})

    assert released.ok and released.changed is True and released.detail == "host released"
    assert host(fleet)["isolated"] is False
    again = run(store, "lab.release_host", {"hostname": DEMO_HOST})
    assert again.ok and again.changed is False and again.detail == "host was not isolated"


def test_the_hostname_matches_case_insensitively(store: Store, fleet: LabFleet) -> None:
    assert run(store, "lab.isolate_host", {"hostname": "ws-finance-07"}).changed is True
    assert host(fleet)["isolated"] is True


# -- registry values ---------------------------------------------------------------------------------------


def _run_key_start(**extra: Any) -> dict[str, Any]:
    return {"hostname": DEMO_HOST, "key": RUN_KEY, "name": "start", **extra}


def test_deleting_a_registry_value_captures_it_for_undo(store: Store, fleet: LabFleet) -> None:
    original = run_values(fleet)[(RUN_KEY, "start")]

    result = run(store, "lab.delete_registry_value", _run_key_start())

    assert result.ok and result.changed is True and result.detail == "registry value deleted"
    assert result.undo == {
        "hostname": DEMO_HOST,
        "key": RUN_KEY,
        "name": "start",
        "data": original,
        "type": "REG_SZ",
    }
    assert (RUN_KEY, "start") not in run_values(fleet)
    # Only that value: the same name under another key and the other Run values stay.
    assert (RUN_KEY, "start1") in run_values(fleet)
    assert (r"HKLM\SOFTWARE\Microsoft\Shared Tools\MSConfig\startupreg", "start") in run_values(fleet)


def test_deleting_an_absent_value_succeeds_without_change(store: Store, fleet: LabFleet) -> None:
    run(store, "lab.delete_registry_value", _run_key_start())

    again = run(store, "lab.delete_registry_value", _run_key_start())

    assert again.ok and again.changed is False
    assert again.detail == "value was already absent"
    assert again.undo == {}


def test_registry_keys_and_names_match_case_insensitively(store: Store, fleet: LabFleet) -> None:
    result = run(store, "lab.delete_registry_value", _run_key_start(key=RUN_KEY.lower(), name="START"))

    assert result.changed is True
    assert result.undo["key"] == RUN_KEY and result.undo["name"] == "start"  # the stored spelling
    assert (RUN_KEY, "start") not in run_values(fleet)


def test_restoring_from_the_undo_data_puts_the_value_back(store: Store, fleet: LabFleet) -> None:
    before = run_values(fleet)
    deleted = run(store, "lab.delete_registry_value", _run_key_start())

    restored = run(store, "lab.restore_registry_value", deleted.undo)

    assert restored.ok and restored.changed is True and restored.detail == "registry value restored"
    assert run_values(fleet) == before
    again = run(store, "lab.restore_registry_value", deleted.undo)
    assert again.ok and again.changed is False and again.detail == "value was already in place"


def test_restore_overwrites_changed_data(store: Store, fleet: LabFleet) -> None:
    result = run(store, "lab.restore_registry_value", _run_key_start(data="clean.exe"))

    assert result.changed is True
    assert run_values(fleet)[(RUN_KEY, "start")] == "clean.exe"


def test_registry_inputs_are_validated(store: Store, fleet: LabFleet) -> None:
    with pytest.raises(ValidationError):
        run(store, "lab.delete_registry_value", {"hostname": DEMO_HOST, "key": RUN_KEY})
    with pytest.raises(ValidationError):
        run(store, "lab.delete_registry_value", _run_key_start(data="x"))  # data is a restore field
    assert (RUN_KEY, "start") in run_values(fleet)


# -- block lists -------------------------------------------------------------------------------------------


def test_blocking_a_domain_lists_it_and_marks_the_hosts_connections(store: Store, fleet: LabFleet) -> None:
    result = run(store, "lab.block_domain", {"domain": "js.mykings.top"})

    assert result.ok and result.changed is True and result.detail == "domain blocked"
    assert fleet.blocks("demo") == [{"kind": "domain", "value": "js.mykings.top"}]
    assert all(c["blocked"] for c in host(fleet)["connections"])


def test_domains_are_normalized_before_blocking(store: Store, fleet: LabFleet) -> None:
    run(store, "lab.block_domain", {"domain": "JS.MyKings.TOP."})

    again = run(store, "lab.block_domain", {"domain": "js.mykings.top"})

    assert again.ok and again.changed is False and again.detail == "domain was already blocked"
    assert fleet.blocks("demo") == [{"kind": "domain", "value": "js.mykings.top"}]


def test_unblocking_a_domain_removes_it(store: Store, fleet: LabFleet) -> None:
    run(store, "lab.block_domain", {"domain": "js.mykings.top"})

    result = run(store, "lab.unblock_domain", {"domain": "js.mykings.top"})

    assert result.ok and result.changed is True and result.detail == "domain unblocked"
    assert fleet.blocks("demo") == []
    assert not any(c["blocked"] for c in host(fleet)["connections"])
    again = run(store, "lab.unblock_domain", {"domain": "js.mykings.top"})
    assert again.changed is False and again.detail == "domain was not blocked"


def test_blocking_an_ip_lists_it_and_marks_connections_to_it(store: Store) -> None:
    fleet = LabFleet(store.engine)
    fleet.seed(
        HostSeed(
            tenant="demo",
            hostname="WS-2",
            connections=[
                ConnectionSeed(remote="203.0.113.7", port=443),
                ConnectionSeed(remote="8.8.8.8", port=53),
            ],
        )
    )

    result = run(store, "lab.block_ip", {"ip": "203.0.113.7"})

    assert result.ok and result.changed is True and result.detail == "ip blocked"
    assert fleet.blocks("demo") == [{"kind": "ip", "value": "203.0.113.7"}]
    blocked = {c["remote"]: c["blocked"] for c in host(fleet, hostname="WS-2")["connections"]}
    assert blocked == {"203.0.113.7": True, "8.8.8.8": False}

    unblocked = run(store, "lab.unblock_ip", {"ip": "203.0.113.7"})
    assert unblocked.changed is True and fleet.blocks("demo") == []


def test_ip_addresses_are_normalized_before_blocking(store: Store) -> None:
    fleet = LabFleet(store.engine)

    run(store, "lab.block_ip", {"ip": "2001:DB8:0:0::1"})

    assert fleet.blocks("demo") == [{"kind": "ip", "value": "2001:db8::1"}]
    assert run(store, "lab.block_ip", {"ip": "2001:db8::1"}).changed is False


def test_a_connection_to_a_blocked_ipv6_address_shows_blocked(store: Store) -> None:
    fleet = LabFleet(store.engine)
    fleet.seed(
        HostSeed(tenant="demo", hostname="WS-6", connections=[ConnectionSeed(remote="2001:DB8::1", port=443)])
    )

    run(store, "lab.block_ip", {"ip": "2001:db8::1"})

    assert host(fleet, hostname="WS-6")["connections"][0]["blocked"] is True


def test_an_invalid_ip_is_refused(store: Store) -> None:
    with pytest.raises(ValidationError):
        run(store, "lab.block_ip", {"ip": "js.mykings.top"})


def test_block_lists_are_per_tenant(store: Store, fleet: LabFleet) -> None:
    fleet.seed(mykings_host(tenant="other"))

    run(store, "lab.block_domain", {"domain": "js.mykings.top"}, tenant="other")

    assert fleet.blocks("demo") == []
    assert fleet.blocks("other") == [{"kind": "domain", "value": "js.mykings.top"}]
    assert not any(c["blocked"] for c in host(fleet)["connections"])
    assert all(c["blocked"] for c in host(fleet, tenant="other")["connections"])


# -- refusing to guess -------------------------------------------------------------------------------------


def test_two_hosts_with_the_same_name_are_an_ambiguous_target(store: Store, fleet: LabFleet) -> None:
    fleet.seed(HostSeed(tenant="demo", hostname=DEMO_HOST.lower()), replace=False)

    with pytest.raises(TargetNotFound, match="2 devices"):
        run(store, "lab.isolate_host", {"hostname": DEMO_HOST})

    assert not any(h["isolated"] for h in fleet.show("demo", DEMO_HOST))


def test_an_unknown_host_is_not_found(store: Store, fleet: LabFleet) -> None:
    with pytest.raises(TargetNotFound, match="no device named 'WS-NOPE'"):
        run(store, "lab.isolate_host", {"hostname": "WS-NOPE"})
    with pytest.raises(TargetNotFound):
        run(store, "lab.delete_registry_value", {"hostname": "WS-NOPE", "key": RUN_KEY, "name": "start"})


def test_another_tenant_cannot_act_on_the_demo_host(store: Store, fleet: LabFleet) -> None:
    with pytest.raises(TargetNotFound, match="tenant other"):
        run(store, "lab.isolate_host", {"hostname": DEMO_HOST}, tenant="other")
    with pytest.raises(TargetNotFound):
        run(store, "lab.delete_registry_value", _run_key_start(), tenant="other")

    assert host(fleet)["isolated"] is False
    assert (RUN_KEY, "start") in run_values(fleet)


def test_the_same_hostname_in_two_tenants_only_changes_the_callers(store: Store, fleet: LabFleet) -> None:
    fleet.seed(mykings_host(tenant="other"))

    run(store, "lab.isolate_host", {"hostname": DEMO_HOST}, tenant="other")

    assert host(fleet, tenant="other")["isolated"] is True
    assert host(fleet)["isolated"] is False


def test_without_the_store_the_lab_refuses_to_act() -> None:
    ctx = ActionContext(tenant="demo", incident_id="i1")

    with pytest.raises(PermanentError, match="needs the Garrison store"):
        asyncio.run(registry.get("lab.isolate_host").run({"hostname": DEMO_HOST}, ctx))


def test_registry_value_seeds_default_to_reg_sz() -> None:
    assert RegistryValueSeed(key=RUN_KEY, name="x").type == "REG_SZ"


# -- inverses ----------------------------------------------------------------------------------------------


def test_all_lab_actions_are_registered() -> None:
    assert set(LAB_KEYS) <= set(registry.keys())


# Declared to have no inverse: a killed process cannot be brought back.
NO_INVERSE = {"lab.kill_process"}


@pytest.mark.parametrize("key", [key for key in registry.keys() if key.startswith("lab.")])
def test_every_lab_action_has_a_registered_inverse_that_undoes_it(key: str) -> None:
    spec = registry.get(key)

    assert spec.inverse_declared
    if key in NO_INVERSE:
        assert spec.inverse is None
        return
    assert spec.inverse is not None
    inverse = registry.get(spec.inverse)
    assert inverse.inverse == key
    assert inverse.target is spec.target
