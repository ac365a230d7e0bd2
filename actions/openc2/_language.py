"""A strict parser for OpenC2 messages (Language Specification v1.0, plus the SLPF and ER profiles).

Accepts a bare command/response or the message envelope ``{headers, body: {openc2: {request|response}}}``
and refuses anything the language does not allow: unknown actions, targets or fields; several targets;
empty ``args``/``actuator``/``results``; malformed addresses, hashes, ports, statuses; extension names
that are not ``x-<name>`` (and any extension where the ``Dialect`` accepts none).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import PermanentError

ACTIONS = frozenset(
    "scan locate query deny contain allow start stop restart set update create delete detonate restore "
    "copy investigate remediate".split()
)
FEATURES = frozenset({"versions", "profiles", "pairs", "rate_limit", "args"})
RESPONSE_REQUESTED = frozenset({"none", "ack", "status", "complete"})
PROTOCOLS = frozenset({"icmp", "tcp", "udp", "sctp"})
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64}
# Actuator specifiers and profile targets of the profiles Garrison speaks.
SPECIFIERS = {
    "slpf": frozenset({"hostname", "named_group", "asset_id", "asset_tuple"}),
    "er": frozenset({"hostname", "named_group", "device_id"}),
}
PROFILE_TARGETS = {
    "slpf": frozenset({"rule_number"}),
    "er": frozenset({"registry_entry", "account", "service"}),
}

_NAME = r"[A-Za-z0-9][A-Za-z0-9_]*"
_EXTENSION = re.compile(rf"^x-{_NAME}$")
_NAMESPACED = re.compile(rf"^(?P<nsid>[a-z][a-z0-9_]*|x-{_NAME}):(?P<name>{_NAME})$")
_VERSION = re.compile(r"^\d+\.\d+$")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}(?:(?::[0-9A-Fa-f]{2}){2})?$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9-]{1,63}\.?$"
)


class OpenC2Invalid(PermanentError):
    """The message is not valid OpenC2 (the message says where)."""


@dataclass(frozen=True)
class Dialect:
    """What a parser accepts beyond the language: profiles by nsid, ``x-`` extensions, and the
    (action → targets) pairs a consumer may announce in a features response (None: any LS pair)."""

    profiles: frozenset[str] = frozenset()
    extensions: bool = False
    pairs: Mapping[str, frozenset[str]] | None = None


@dataclass(frozen=True)
class Command:
    action: str
    target_name: str
    target: Any
    args: dict[str, Any] = field(default_factory=dict)
    actuator: dict[str, Any] = field(default_factory=dict)
    command_id: str | None = None


@dataclass(frozen=True)
class Response:
    status: int
    status_text: str | None = None
    results: dict[str, Any] = field(default_factory=dict)


def _fail(where: str, why: str) -> OpenC2Invalid:
    return OpenC2Invalid(f"openc2: {where}: {why}")


def _load(message: Any) -> Any:
    if isinstance(message, bytes | str):
        try:
            return json.loads(message)
        except ValueError:
            raise _fail("message", "not JSON") from None
    return message


def _unwrap(message: Any, kind: str) -> Any:
    """The command or response inside an envelope, or the message itself when it is bare."""
    if not isinstance(message, dict) or "body" not in message:
        return message
    if set(message) - {"headers", "body", "signature"}:
        raise _fail("message", f"unknown fields {sorted(set(message) - {'headers', 'body', 'signature'})}")
    headers = message.get("headers", {})
    if not isinstance(headers, dict) or set(headers) - {"request_id", "created", "from", "to"}:
        raise _fail("headers", "must hold only request_id, created, from, to")
    if "created" in headers and (
        not isinstance(headers["created"], int) or isinstance(headers["created"], bool)
    ):
        raise _fail("headers.created", "must be milliseconds since the epoch")
    to = headers.get("to", [])
    if not (isinstance(to, str) or (isinstance(to, list) and all(isinstance(t, str) for t in to))):
        raise _fail("headers.to", "must be a string or a list of strings")
    body = message["body"]
    content = body.get("openc2") if isinstance(body, dict) and set(body) == {"openc2"} else None
    if not isinstance(content, dict) or set(content) != {kind}:
        raise _fail("body", f"must be {{'openc2': {{'{kind}': …}}}}")
    return content[kind]


def _object(
    value: Any, where: str, allowed: frozenset[str] | None = None, *, min_size: int = 1
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "must be an object")
    if len(value) < min_size:
        raise _fail(where, "must not be empty")
    if allowed is not None and set(value) - allowed:
        raise _fail(where, f"unknown fields {sorted(set(value) - allowed)}")
    return value


def _ipv4(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise _fail(where, "must be a string")
    address, _, prefix = value.partition("/")
    try:
        ipaddress.IPv4Address(address)
        if prefix and not (prefix.isdigit() and int(prefix) <= 32):
            raise ValueError
    except ValueError:
        raise _fail(where, f"{value!r} is not an IPv4 address or CIDR") from None


def _ipv6(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise _fail(where, "must be a string")
    try:
        ipaddress.IPv6Network(value, strict=False)
    except ValueError:
        raise _fail(where, f"{value!r} is not an IPv6 address or prefix") from None


def _connection(ip: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
    def check(value: Any, where: str) -> None:
        fields = frozenset({"src_addr", "src_port", "dst_addr", "dst_port", "protocol"})
        _object(value, where, fields)
        for name in ("src_addr", "dst_addr"):
            if name in value:
                ip(value[name], f"{where}.{name}")
        for name in ("src_port", "dst_port"):
            port = value.get(name, 0)
            if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
                raise _fail(f"{where}.{name}", "must be a port number")
        if "protocol" in value and value["protocol"] not in PROTOCOLS:
            raise _fail(f"{where}.protocol", f"must be one of {sorted(PROTOCOLS)}")

    return check


def _string(value: Any, where: str) -> None:
    if not isinstance(value, str) or not value:
        raise _fail(where, "must be a non-empty string")


def _strings(value: Any, where: str, allowed: frozenset[str] | None = None) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, "must be a list of strings")
    if len(set(value)) != len(value):
        raise _fail(where, "items must be unique")
    if allowed is not None and set(value) - allowed:
        raise _fail(where, f"unknown items {sorted(set(value) - allowed)}")


def _file(value: Any, where: str) -> None:
    _object(value, where, frozenset({"name", "path", "hashes"}))
    if "hashes" in value:
        hashes = _object(value["hashes"], f"{where}.hashes", frozenset(HASH_LENGTHS))
        for name, digest in hashes.items():
            if not isinstance(digest, str) or not re.fullmatch(
                rf"[0-9A-Fa-f]{{{HASH_LENGTHS[name]}}}", digest
            ):
                raise _fail(f"{where}.hashes.{name}", "is not a hex digest of the right length")


def _domain(value: Any, where: str) -> None:
    if not isinstance(value, str) or not _DOMAIN.match(value):
        raise _fail(where, f"{value!r} is not a domain name")


def _mac(value: Any, where: str) -> None:
    if not isinstance(value, str) or not _MAC.match(value):
        raise _fail(where, f"{value!r} is not a MAC address")


def _uri(value: Any, where: str) -> None:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value):
        raise _fail(where, f"{value!r} is not a URI")


def _fields(allowed: set[str]) -> Callable[[Any, str], None]:
    def check(value: Any, where: str) -> None:
        _object(value, where, frozenset(allowed))

    return check


def _email(value: Any, where: str) -> None:
    if not isinstance(value, str) or "@" not in value.strip("@"):
        raise _fail(where, f"{value!r} is not an email address")


TARGETS: dict[str, Callable[[Any, str], None]] = {
    "artifact": _fields({"mime_type", "payload", "hashes"}),
    "command": _string,
    "device": _fields({"hostname", "idn_hostname", "device_id"}),
    "domain_name": _domain,
    "email_addr": _email,
    "features": lambda v, w: _strings(v, w, FEATURES),
    "file": _file,
    "idn_domain_name": _string,
    "idn_email_addr": _string,
    "ipv4_net": _ipv4,
    "ipv6_net": _ipv6,
    "ipv4_connection": _connection(_ipv4),
    "ipv6_connection": _connection(_ipv6),
    "iri": _string,
    "mac_addr": _mac,
    "process": _fields({"pid", "name", "cwd", "executable", "parent", "command_line"}),
    "properties": lambda v, w: _strings(v, w),
    "uri": _uri,
}


def _nsid_ok(nsid: str, dialect: Dialect) -> bool:
    return nsid in dialect.profiles or (dialect.extensions and bool(_EXTENSION.match(nsid)))


def _profile_part(nsid: str, part: str, value: Any, where: str) -> None:
    """Profile-defined args/results: SLPF's against its schema; ER's must be objects."""
    _object(value, where, min_size=0)
    if nsid == "slpf":
        from ._schema import slpf_errors

        errors = slpf_errors({part: value})
        if errors:
            raise _fail(where, errors[0])


def _target(name: str, value: Any, dialect: Dialect) -> None:
    where = f"target.{name}"
    check = TARGETS.get(name)
    if check is not None:
        check(value, where)
        return
    match = _NAMESPACED.match(name)
    if match is None or not _nsid_ok(match["nsid"], dialect):
        raise _fail("target", f"unknown target {name[:40]!r}")
    nsid, local = match["nsid"], match["name"]
    if nsid in PROFILE_TARGETS and local not in PROFILE_TARGETS[nsid]:
        raise _fail("target", f"profile {nsid} defines no target {local!r}")
    if name == "slpf:rule_number":
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(where, "must be an integer rule id")
    elif name == "er:registry_entry":
        _object(value, where, frozenset({"key", "type", "value"}))
    elif value is None or value == {} or value == []:
        raise _fail(where, "must not be empty")


def _args(value: Any, dialect: Dialect) -> None:
    _object(value, "args")
    for name, item in value.items():
        where = f"args.{name}"
        if name in ("start_time", "stop_time", "duration"):
            if not isinstance(item, int) or isinstance(item, bool) or item < 0:
                raise _fail(where, "must be a non-negative integer (milliseconds)")
        elif name == "response_requested":
            if item not in RESPONSE_REQUESTED:
                raise _fail(where, f"must be one of {sorted(RESPONSE_REQUESTED)}")
        elif _nsid_ok(name, dialect):
            _profile_part(name, "args", item, where)
        else:
            raise _fail("args", f"unknown argument {name[:40]!r}")


def _actuator(value: Any, dialect: Dialect) -> None:
    _object(value, "actuator")
    for nsid, specifiers in value.items():
        if not _nsid_ok(nsid, dialect):
            raise _fail("actuator", f"unknown actuator profile {nsid[:40]!r}")
        _object(specifiers, f"actuator.{nsid}", SPECIFIERS.get(nsid), min_size=0)


def parse_command(message: Any, dialect: Dialect = Dialect()) -> Command:
    """An OpenC2 command (bare or in a message envelope), or OpenC2Invalid saying what is wrong.

    >>> parse_command({"action": "deny", "target": {"ipv4_net": "198.51.100.7"}}).target_name
    'ipv4_net'
    """
    command = _unwrap(_load(message), "request")
    _object(command, "command", frozenset({"action", "target", "args", "actuator", "command_id"}))
    action = command.get("action")
    if action not in ACTIONS:
        raise _fail("action", f"unknown action {str(action)[:40]!r}")
    target = command.get("target")
    if not isinstance(target, dict) or len(target) != 1:
        raise _fail("target", "must be an object with exactly one target")
    [(name, value)] = target.items()
    _target(name, value, dialect)
    if "args" in command:
        _args(command["args"], dialect)
    if "actuator" in command:
        _actuator(command["actuator"], dialect)
    command_id = command.get("command_id")
    if command_id is not None and not isinstance(command_id, str):
        raise _fail("command_id", "must be a string")
    return Command(action, name, value, command.get("args", {}), command.get("actuator", {}), command_id)


def _pairs(value: Any, dialect: Dialect) -> None:
    _object(value, "results.pairs")
    for action, targets in value.items():
        where = f"results.pairs.{action}"
        allowed = None if dialect.pairs is None else dialect.pairs.get(action)
        if action not in ACTIONS or (dialect.pairs is not None and allowed is None):
            raise _fail("results.pairs", f"unknown action {action[:40]!r}")
        _strings(targets, where)
        for name in targets:
            known = name in TARGETS or bool((m := _NAMESPACED.match(name)) and _nsid_ok(m["nsid"], dialect))
            if not known or (allowed is not None and name not in allowed):
                raise _fail(where, f"target {name[:40]!r} is not allowed here")


def _results(value: Any, dialect: Dialect) -> None:
    _object(value, "results")
    for name, item in value.items():
        where = f"results.{name}"
        if name == "versions":
            _strings(item, where)
            if not all(_VERSION.match(v) for v in item):
                raise _fail(where, "versions look like '1.0'")
        elif name == "profiles":
            _strings(item, where)
            if not dialect.extensions and any(p.startswith("x-") for p in item):
                raise _fail(where, "extension profiles are not accepted here")
        elif name == "pairs":
            _pairs(item, dialect)
        elif name == "rate_limit":
            if not isinstance(item, int | float) or isinstance(item, bool) or item < 0:
                raise _fail(where, "must be a non-negative number")
        elif name == "args":
            _strings(item, where)
        elif name in dialect.profiles:
            _profile_part(name, "results", item, where)
        elif dialect.extensions and _EXTENSION.match(name):
            _object(item, where)
        else:
            raise _fail("results", f"unknown result {name[:40]!r}")


def parse_response(message: Any, dialect: Dialect = Dialect()) -> Response:
    """An OpenC2 response (bare or in a message envelope), or OpenC2Invalid saying what is wrong.

    >>> parse_response({"status": 200, "status_text": "OK"}).status
    200
    """
    response = _unwrap(_load(message), "response")
    _object(response, "response", frozenset({"status", "status_text", "results"}))
    status = response.get("status")
    if isinstance(status, bool) or not isinstance(status, int | float) or status != int(status):
        raise _fail("status", "must be an integer status code")
    if not 100 <= int(status) <= 599:
        raise _fail("status", f"{status} is not a status code")
    status_text = response.get("status_text")
    if status_text is not None and not isinstance(status_text, str):
        raise _fail("status_text", "must be a string")
    if "results" in response:
        _results(response["results"], dialect)
    return Response(int(status), status_text, response.get("results", {}))
