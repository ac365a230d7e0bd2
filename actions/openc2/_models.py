"""OpenC2 commands Garrison sends, as pydantic models, and their validation before sending.

SLPF commands (deny/allow an address or connection, delete a rule) are checked against the SLPF schema;
every command is checked by the language parser as well — a command Garrison would refuse to receive is
never sent.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._language import Command as ParsedCommand
from ._language import Dialect, OpenC2Invalid, parse_command
from ._schema import slpf_errors, slpf_pairs

GARRISON_DIALECT = Dialect(profiles=frozenset({"slpf", "er"}))


class Action(StrEnum):
    DENY = "deny"
    ALLOW = "allow"
    CONTAIN = "contain"
    DELETE = "delete"
    QUERY = "query"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class IPv4Connection(_Strict):
    src_addr: str | None = Field(default=None, description="Source IPv4 address or CIDR.")
    src_port: int | None = Field(default=None, ge=0, le=65535, description="Source port.")
    dst_addr: str | None = Field(default=None, description="Destination IPv4 address or CIDR.")
    dst_port: int | None = Field(default=None, ge=0, le=65535, description="Destination port.")
    protocol: Literal["icmp", "tcp", "udp", "sctp"] | None = Field(
        default=None, description="Layer 4 protocol."
    )


class Device(_Strict):
    hostname: str | None = Field(default=None, description="The device's hostname.")
    device_id: str | None = Field(default=None, description="An identifier the consumer knows the device by.")


class RegistryEntry(_Strict):
    key: str = Field(
        description=r"Registry key path, e.g. HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run."
    )
    value: str | None = Field(default=None, description="Name of the value under the key.")
    type: str | None = Field(default=None, description="Registry value type (REG_SZ …).")


class Target(_Strict):
    """Exactly one of the fields is set (checked when the command is validated)."""

    ipv4_net: str | None = Field(default=None, description="IPv4 address or CIDR.")
    ipv6_net: str | None = Field(default=None, description="IPv6 address or prefix.")
    ipv4_connection: IPv4Connection | None = Field(default=None, description="An IPv4 5-tuple.")
    domain_name: str | None = Field(default=None, description="A domain name.")
    device: Device | None = Field(default=None, description="An endpoint.")
    rule_number: int | None = Field(default=None, alias="slpf:rule_number", description="SLPF rule id.")
    registry_entry: RegistryEntry | None = Field(
        default=None, alias="er:registry_entry", description="ER registry entry."
    )


class SlpfArgs(_Strict):
    drop_process: Literal["none", "reject", "false_ack"] | None = Field(default=None, description="On deny.")
    persistent: bool | None = Field(default=None, description="Survive a reboot of the actuator.")
    direction: Literal["both", "ingress", "egress"] | None = Field(default=None, description="Traffic side.")
    insert_rule: int | None = Field(default=None, description="Rule id to use for the new rule.")


class ErArgs(_Strict):
    device_containment: Literal["network_isolation", "app_restriction", "disable_nic"] | None = Field(
        default=None, description="How a device is contained."
    )


class Args(_Strict):
    response_requested: Literal["none", "ack", "status", "complete"] | None = Field(
        default=None, description="What the consumer answers."
    )
    duration: int | None = Field(default=None, ge=0, description="Milliseconds the command stays in effect.")
    slpf: SlpfArgs | None = Field(default=None, description="SLPF profile arguments.")
    er: ErArgs | None = Field(default=None, description="Endpoint Response profile arguments.")


class Specifiers(_Strict):
    hostname: str | None = Field(default=None, description="Actuator hostname.")
    named_group: str | None = Field(default=None, description="A group of actuators the consumer knows.")
    asset_id: str | None = Field(default=None, description="Actuator asset id.")


class Actuator(_Strict):
    slpf: Specifiers | None = Field(default=None, description="Stateless packet filter actuator.")
    er: Specifiers | None = Field(default=None, description="Endpoint Response actuator.")


class OpenC2Command(_Strict):
    """An OpenC2 command. ``to_message()`` gives its JSON form, validated before it leaves Garrison.

    >>> slpf_deny("198.51.100.7").to_message()["target"]
    {'ipv4_net': '198.51.100.7'}
    """

    action: Action = Field(description="The verb.")
    target: Target = Field(description="The object of the action.")
    args: Args | None = Field(default=None, description="Command arguments.")
    actuator: Actuator | None = Field(default=None, description="Who executes it.")
    command_id: str | None = Field(default=None, description="Links the response to this command.")

    def to_message(self) -> dict[str, Any]:
        message = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        if "slpf" in message.get("actuator", {}):
            validate_slpf(message)
        else:
            parse_command(message, GARRISON_DIALECT)
        return message


def validate_slpf(message: dict[str, Any]) -> ParsedCommand:
    """Check a command against the language and the SLPF schema (action, pair, args, rule id)."""
    command = parse_command(message, GARRISON_DIALECT)
    view: dict[str, Any] = {"action": command.action}
    if "slpf" in command.args:
        view["args"] = command.args["slpf"]
    if command.target_name.startswith("slpf:"):
        view["target"] = {command.target_name.removeprefix("slpf:"): command.target}
    errors = slpf_errors(view)
    if errors:
        raise OpenC2Invalid(f"openc2: not a valid SLPF command: {errors[0]}")
    if command.target_name not in slpf_pairs().get(command.action, frozenset()):
        raise OpenC2Invalid(f"openc2: SLPF does not define {command.action} {command.target_name}")
    return command


def _ip_target(ip: IPv4Address | IPv6Address | IPv4Network | IPv6Network | str) -> Target:
    text = str(ip)
    if isinstance(ip, IPv6Address | IPv6Network) or ":" in text:
        return Target(ipv6_net=text)
    return Target(ipv4_net=text)


def _slpf_actuator(named_group: str | None) -> Actuator:
    return Actuator(slpf=Specifiers(named_group=named_group))


def _er_actuator(hostname: str) -> Actuator:
    return Actuator(er=Specifiers(hostname=hostname))


def _command(
    action: Action,
    target: Target,
    actuator: Actuator | None = None,
    *,
    slpf: SlpfArgs | None = None,
    er: ErArgs | None = None,
) -> OpenC2Command:
    # Garrison asks every consumer for a complete response: the outcome, and the results (an SLPF rule id).
    args = Args(response_requested="complete", slpf=slpf, er=er)
    return OpenC2Command(action=action, target=target, args=args, actuator=actuator)


def slpf_deny(
    ip: Any,
    *,
    named_group: str | None = None,
    direction: Literal["both", "ingress", "egress"] | None = None,
    drop_process: Literal["none", "reject", "false_ack"] | None = None,
) -> OpenC2Command:
    """``deny ipv4_net|ipv6_net`` for an SLPF actuator, asking for a complete response (with the rule id)."""
    slpf = SlpfArgs(direction=direction, drop_process=drop_process) if direction or drop_process else None
    return _command(Action.DENY, _ip_target(ip), _slpf_actuator(named_group), slpf=slpf)


def slpf_allow(ip: Any, *, named_group: str | None = None) -> OpenC2Command:
    return _command(Action.ALLOW, _ip_target(ip), _slpf_actuator(named_group))


def slpf_deny_connection(connection: IPv4Connection, *, named_group: str | None = None) -> OpenC2Command:
    return _command(Action.DENY, Target(ipv4_connection=connection), _slpf_actuator(named_group))


def slpf_delete_rule(rule_number: int, *, named_group: str | None = None) -> OpenC2Command:
    return _command(Action.DELETE, Target(rule_number=rule_number), _slpf_actuator(named_group))


def domain_command(action: Action, domain: str) -> OpenC2Command:
    """``deny``/``allow domain_name`` — a language-level command: SLPF defines no domain targets."""
    return _command(action, Target(domain_name=domain))


def er_contain(hostname: str) -> OpenC2Command:
    """``contain device`` with ``er.device_containment = network_isolation`` (Endpoint Response profile)."""
    return _command(
        Action.CONTAIN,
        Target(device=Device(hostname=hostname)),
        _er_actuator(hostname),
        er=ErArgs(device_containment="network_isolation"),
    )


def er_allow(hostname: str) -> OpenC2Command:
    """``allow device``: lift containment (Endpoint Response profile)."""
    return _command(Action.ALLOW, Target(device=Device(hostname=hostname)), _er_actuator(hostname))


def er_delete_registry(hostname: str, key: str, name: str) -> OpenC2Command:
    """``delete er:registry_entry`` on one endpoint (Endpoint Response profile)."""
    target = Target(registry_entry=RegistryEntry(key=key, value=name))
    return _command(Action.DELETE, target, _er_actuator(hostname))
