"""Capabilities: every adapter action declares what it does, whatever the vendor, and the declarations
are consistent (targets match, inverse pairs stay in one family and one vendor); a tenant's binding picks
exactly one action per capability from the adapters it configures, or says what is missing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from actions import (
    ActionContext,
    ActionResult,
    ActionSpec,
    ActionStatus,
    Binding,
    Capability,
    Registry,
    TargetKind,
    Unbound,
    action,
    registry,
)

PROVIDED = [(capability, spec.key) for capability in Capability for spec in registry.providing(capability)]


@pytest.mark.parametrize(("capability", "key"), PROVIDED, ids=[key for _, key in PROVIDED])
def test_each_action_that_declares_a_capability_is_consistent_with_it(
    capability: Capability, key: str
) -> None:
    spec = registry.get(key)

    assert spec.capability is capability
    assert spec.target is capability.target
    # One action per vendor and capability: a tenant's choice of vendor names exactly one action.
    assert [s.key for s in registry.providing(capability) if s.vendor == spec.vendor] == [key]
    if spec.inverse is None:
        return
    inverse = registry.get(spec.inverse)
    assert inverse.capability is capability.inverse  # rollback undoes exactly what was done
    assert inverse.capability is not None and inverse.capability.family is capability.family
    assert inverse.vendor == spec.vendor and inverse.target is spec.target
    assert inverse.inverse == key


def test_every_registered_action_declares_a_capability() -> None:
    assert [key for key in registry.keys() if registry.get(key).capability is None] == []
    assert sorted(key for _, key in PROVIDED) == registry.keys()


def test_only_capabilities_without_an_inverse_have_actions_without_one() -> None:
    for _, key in PROVIDED:
        spec = registry.get(key)
        assert spec.capability is not None
        if spec.capability.inverse is None:
            assert spec.inverse is None, key


def test_the_capabilities_form_families_of_a_containing_one_and_its_inverse() -> None:
    for capability in Capability:
        family = capability.family
        assert family.family is family and not family.restores
        assert capability.restores is (capability is not family)
        assert capability.target is family.target
        if capability.inverse is not None:
            assert capability.inverse.inverse is capability
            assert capability.inverse.family is family
    assert Capability.RELEASE_HOST.family is Capability.ISOLATE_HOST
    assert Capability.KILL_PROCESS.inverse is None and not Capability.KILL_PROCESS.restores
    assert {c for c in Capability if c.restores} == {
        Capability.RELEASE_HOST,
        Capability.UNBLOCK_IP,
        Capability.UNBLOCK_DOMAIN,
        Capability.UNBLOCK_URL,
        Capability.UNBLOCK_HASH,
        Capability.RESTORE_REGISTRY_VALUE,
        Capability.ENABLE_SERVICE,
        Capability.RESTORE_SCHEDULED_TASK,
        Capability.RESTORE_FILE,
        Capability.ENABLE_ACCOUNT,
    }


def test_the_lab_provides_every_capability_and_each_edr_isolation() -> None:
    assert [c for c in Capability if not any(s.vendor == "lab" for s in registry.providing(c))] == []
    isolating = {spec.vendor for spec in registry.providing(Capability.ISOLATE_HOST)}
    assert {"crowdstrike", "defender", "sentinelone", "openc2", "lab"} <= isolating


# -- registration --------------------------------------------------------------------------------------


class _Host(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: str = Field(description="Host.")


async def _fn(inputs: Any, ctx: ActionContext) -> ActionResult:
    """Do it."""
    return ActionResult(status=ActionStatus.SUCCEEDED)


def _spec(key: str, capability: Capability | None, inverse: str | None = None, **kwargs: Any) -> ActionSpec:
    target = capability.target if capability else TargetKind.HOST
    return ActionSpec(
        key=key,
        fn=_fn,
        inputs=_Host,
        target=target,
        description="x",
        inverse=inverse,
        inverse_declared=True,
        doc_url="https://x.test",
        capability=capability,
        **kwargs,
    )


def _fresh(*specs: ActionSpec) -> Registry:
    fresh = Registry()
    fresh._plugins_loaded = True
    for spec in specs:
        fresh.add(spec)
    return fresh


def test_a_capability_acting_on_another_target_is_refused_at_registration() -> None:
    with pytest.raises(ValueError, match="isolate_host acts on host, not ip"):
        action(
            key="test.isolate_host", inputs=_Host, capability=Capability.ISOLATE_HOST, target=TargetKind.IP
        )


def test_one_vendor_cannot_provide_one_capability_twice() -> None:
    fresh = _fresh(_spec("v.isolate_host", Capability.ISOLATE_HOST))

    with pytest.raises(ValueError, match="v provides isolate_host twice: v.isolate_host and v.contain_host"):
        fresh.add(_spec("v.contain_host", Capability.ISOLATE_HOST))


def test_an_inverse_that_does_not_undo_the_capability_is_a_contract_breach() -> None:
    fresh = _fresh(
        _spec("v.isolate_host", Capability.ISOLATE_HOST, inverse="v.unblock_ip"),
        _spec("v.unblock_ip", Capability.UNBLOCK_IP, inverse=None),
    )

    assert fresh.problems()["v.isolate_host"] == ["inverse 'v.unblock_ip' does unblock_ip, not release_host"]


def test_providing_lists_one_action_per_vendor_by_key() -> None:
    fresh = _fresh(
        _spec("b.isolate_host", Capability.ISOLATE_HOST),
        _spec("a.isolate_host", Capability.ISOLATE_HOST),
        _spec("a.block_ip", Capability.BLOCK_IP),
        _spec("hand.made", None),
    )

    assert [s.key for s in fresh.providing(Capability.ISOLATE_HOST)] == ["a.isolate_host", "b.isolate_host"]
    assert fresh.vendors() == ["a", "b", "hand"]


# -- a tenant's binding ----------------------------------------------------------------------------------


def test_a_capability_one_configured_adapter_provides_is_bound_to_it() -> None:
    binding = Binding("acme", {"crowdstrike"})

    assert binding.action_for("isolate_host").key == "crowdstrike.isolate_host"
    assert binding.action_for("release_host").key == "crowdstrike.release_host"
    assert binding.problems() == []


@pytest.mark.parametrize("wanted", ["block_domain", "delete_registry_value", "block_ip"])
def test_a_capability_no_configured_adapter_provides_is_unbound_never_the_lab(wanted: str) -> None:
    with pytest.raises(Unbound, match=f"^no adapter for {wanted} in tenant acme$"):
        Binding("acme", {"crowdstrike"}).action_for(wanted)


def test_the_lab_binds_only_where_the_tenant_configures_it() -> None:
    assert Binding("demo", {"lab"}).action_for("block_domain").key == "lab.block_domain"
    with pytest.raises(Unbound, match="no adapter for block_domain in tenant acme"):
        Binding("acme", set()).action_for("block_domain")


def test_several_providers_need_a_choice_which_binds_the_whole_family() -> None:
    unchosen = Binding("acme", {"crowdstrike", "lab"})
    chosen = Binding("acme", {"crowdstrike", "lab"}, {Capability.ISOLATE_HOST: "crowdstrike"})

    with pytest.raises(Unbound, match="isolate_host is provided by crowdstrike and lab in tenant acme"):
        unchosen.action_for("isolate_host")
    assert unchosen.problems() == [
        ("bind", "isolate_host is provided by crowdstrike and lab: choose one ({isolate_host: crowdstrike})")
    ]
    assert chosen.action_for("isolate_host").key == "crowdstrike.isolate_host"
    assert chosen.action_for("release_host").key == "crowdstrike.release_host"  # the inverse follows
    assert chosen.action_for("block_domain").key == "lab.block_domain"  # only the lab provides it
    assert chosen.problems() == []


def test_a_chosen_vendor_without_the_inverse_leaves_the_inverse_unbound() -> None:
    binding = Binding("acme", {"wazuh", "lab"}, {Capability.BLOCK_IP: "wazuh"})

    assert binding.action_for("block_ip").key == "wazuh.block_ip"
    with pytest.raises(
        Unbound, match=r"no adapter for unblock_ip in tenant acme \(wazuh is bound to block_ip"
    ):
        binding.action_for("unblock_ip")


def test_an_explicit_action_needs_its_vendor_configured() -> None:
    binding = Binding("acme", {"crowdstrike"})

    assert binding.action_for("crowdstrike.isolate_host").key == "crowdstrike.isolate_host"
    with pytest.raises(Unbound, match="lab.isolate_host needs lab, which tenant acme does not configure"):
        binding.action_for("lab.isolate_host")
    with pytest.raises(Unbound, match="unknown action 'crowdstrike.explode_host'"):
        binding.action_for("crowdstrike.explode_host")
    with pytest.raises(Unbound, match="unknown capability 'explode_host'"):
        binding.action_for("explode_host")


def test_wrong_choices_are_named_by_field() -> None:
    binding = Binding(
        "acme",
        {"crowdstrike", "lab"},
        {
            Capability.RELEASE_HOST: "crowdstrike",
            Capability.BLOCK_IP: "panos",
            Capability.BLOCK_DOMAIN: "crowdstrike",
        },
    )

    assert binding.problems() == [
        ("bind.release_host", "bind isolate_host: its inverse release_host follows it"),
        ("bind.block_ip", "panos is not configured under adapters"),
        ("bind.block_domain", "crowdstrike does not provide block_domain (here: provided by lab)"),
        ("bind", "isolate_host is provided by crowdstrike and lab: choose one ({isolate_host: crowdstrike})"),
    ]


# -- a tenant's vendor settings and secrets --------------------------------------------------------------


def test_vendor_settings_and_secret_names_are_checked_against_the_adapter() -> None:
    secrets = {"crowdstrike_client_id", "crowdstrike_client_secret"}

    assert registry.vendor_problems("crowdstrike", {"base_url": "https://api.crowdstrike.com"}, secrets) == []
    assert registry.vendor_problems("lab", {}, set()) == []
    bad_url = registry.vendor_problems("crowdstrike", {"base_url": "http://falcon.test"}, secrets)
    assert [where for where, _ in bad_url] == ["settings.base_url"] and "https" in bad_url[0][1]
    assert registry.vendor_problems("panos", {"base_url": "https://fw.test"}, {"panos_key"}) == [
        ("secrets.panos_key", "panos's actions use no such secret (they use: panos_api_key)"),
        ("secrets.panos_api_key", "missing (give it by reference: {env: VAR})"),
    ]
    assert registry.vendor_problems("lab", {"fleet": "x"}, set()) == [
        ("settings.fleet", "Extra inputs are not permitted")
    ]
    [(where, why)] = registry.vendor_problems("nope", {}, set())
    assert where == "" and why.startswith("no adapter 'nope' is installed (installed: crowdstrike,")
