"""Commands Garrison produces validate against the SLPF schema (and the language); bad ones never leave."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

import actions.openc2 as openc2
from actions.openc2 import OpenC2Invalid, validate_slpf
from actions.openc2._models import Action, IPv4Connection, OpenC2Command, Target
from tests.actions._support import VENDOR_FIXTURES

SCHEMA = VENDOR_FIXTURES / "openc2" / "slpf_ap_v2.0.schema.json"

SLPF_COMMANDS = {
    "deny ipv4_net": openc2.slpf_deny("198.51.100.7"),
    "deny ipv4_net cidr, egress": openc2.slpf_deny(
        "198.51.100.0/24", direction="egress", named_group="perimeter"
    ),
    "deny ipv6_net": openc2.slpf_deny("2001:db8::1", drop_process="reject"),
    "allow ipv4_net": openc2.slpf_allow("198.51.100.7"),
    "deny ipv4_connection": openc2.slpf_deny_connection(
        IPv4Connection(dst_addr="198.51.100.7", dst_port=443, protocol="tcp")
    ),
    "delete slpf:rule_number": openc2.slpf_delete_rule(1234),
}


def test_the_runtime_schema_is_the_fixture_schema() -> None:
    runtime = Path(openc2.__file__).with_name("slpf_ap_v2.0.schema.json")

    assert filecmp.cmp(runtime, SCHEMA, shallow=False)
    Draft7Validator.check_schema(openc2.slpf_schema())


@pytest.mark.parametrize("name", SLPF_COMMANDS)
def test_produced_slpf_commands_validate_against_the_schema(name: str) -> None:
    message = SLPF_COMMANDS[name].to_message()

    parsed = validate_slpf(message)

    assert "slpf" in message["actuator"]
    assert parsed.target_name in openc2.slpf_pairs()[message["action"]]


def test_the_slpf_view_of_a_command_is_valid_under_the_whole_schema() -> None:
    message = openc2.slpf_deny("198.51.100.7", direction="ingress", drop_process="false_ack").to_message()
    view = {"action": message["action"], "args": message["args"]["slpf"]}

    assert list(Draft7Validator(openc2.slpf_schema()).iter_errors(view)) == []


def test_domain_blocks_are_language_level_not_slpf() -> None:
    message = openc2.domain_command(Action.DENY, "js.mykings.top").to_message()

    assert message == {
        "action": "deny",
        "target": {"domain_name": "js.mykings.top"},
        "args": {"response_requested": "complete"},
    }
    with pytest.raises(OpenC2Invalid, match="SLPF does not define deny domain_name"):
        validate_slpf({**message, "actuator": {"slpf": {}}})


def test_er_commands_use_the_endpoint_response_profile() -> None:
    contain = openc2.er_contain("WS-FINANCE-07").to_message()
    delete = openc2.er_delete_registry(
        "WS-FINANCE-07", r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run", "start"
    )

    assert contain == {
        "action": "contain",
        "target": {"device": {"hostname": "WS-FINANCE-07"}},
        "args": {"response_requested": "complete", "er": {"device_containment": "network_isolation"}},
        "actuator": {"er": {"hostname": "WS-FINANCE-07"}},
    }
    assert delete.to_message()["target"] == {
        "er:registry_entry": {"key": r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run", "value": "start"}
    }


@pytest.mark.parametrize(
    "command",
    [
        OpenC2Command(action=Action.DENY, target=Target(ipv4_net="198.51.100.300"), actuator={"slpf": {}}),
        OpenC2Command(action=Action.DENY, target=Target()),
        OpenC2Command(action=Action.DENY, target=Target(ipv4_net="1.2.3.4", domain_name="x.test")),
        OpenC2Command(action=Action.CONTAIN, target=Target(ipv4_net="1.2.3.4"), actuator={"slpf": {}}),
    ],
    ids=["bad address", "no target", "two targets", "contain is not slpf"],
)
def test_an_invalid_command_never_leaves(command: OpenC2Command) -> None:
    with pytest.raises(OpenC2Invalid):
        command.to_message()
