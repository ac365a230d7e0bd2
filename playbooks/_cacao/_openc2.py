"""OpenC2 in CACAO: the command Garrison sends for a capability (as ``actions.openc2`` does), with the
incident's target as a CACAO variable, and the capability a foreign OpenC2 command asks for."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from actions import Capability

from .._load import PlaybookError
from ._names import VERDICT_VARIABLE

_VARIABLE_REF = re.compile(r"^__[a-zA-Z_][a-zA-Z0-9_-]{0,199}__:value$")
_HOST, _RESPONSE = "__incident_host__:value", {"response_requested": "complete"}
_ER = {"er": {"hostname": _HOST}}
OPENC2: dict[Capability, dict[str, Any]] = {
    Capability.BLOCK_IP: {
        "action": "deny",
        "target": {"ipv4_net": "__incident_ip__:value"},
        "args": _RESPONSE,
        "actuator": {"slpf": {}},
    },
    Capability.UNBLOCK_IP: {
        "action": "delete",
        "target": {"slpf:rule_number": "__rule_number__:value"},
        "args": _RESPONSE,
        "actuator": {"slpf": {}},
    },
    Capability.BLOCK_DOMAIN: {
        "action": "deny",
        "target": {"domain_name": "__incident_domain__:value"},
        "args": _RESPONSE,
    },
    Capability.UNBLOCK_DOMAIN: {
        "action": "allow",
        "target": {"domain_name": "__incident_domain__:value"},
        "args": _RESPONSE,
    },
    Capability.BLOCK_URL: {"action": "deny", "target": {"uri": "__incident_url__:value"}, "args": _RESPONSE},
    Capability.BLOCK_HASH: {
        "action": "deny",
        "target": {"file": {"hashes": {"sha256": "__incident_sha256__:value"}}},
        "args": _RESPONSE,
    },
    Capability.ISOLATE_HOST: {
        "action": "contain",
        "target": {"device": {"hostname": _HOST}},
        "args": {**_RESPONSE, "er": {"device_containment": "network_isolation"}},
        "actuator": _ER,
    },
    Capability.RELEASE_HOST: {
        "action": "allow",
        "target": {"device": {"hostname": _HOST}},
        "args": _RESPONSE,
        "actuator": _ER,
    },
    Capability.DELETE_REGISTRY_VALUE: {
        "action": "delete",
        "target": {
            "er:registry_entry": {"key": "__registry_key__:value", "value": "__registry_value_name__:value"}
        },
        "args": _RESPONSE,
        "actuator": _ER,
    },
}
# (action, target) → capability, for importing; SLPF addresses either family.
OPENC2_PAIRS: dict[tuple[str, str], Capability] = {
    **{(c["action"], next(iter(c["target"]))): cap for cap, c in OPENC2.items()},
    ("deny", "ipv6_net"): Capability.BLOCK_IP,
}
VARIABLES = {
    VERDICT_VARIABLE: "Garrison's verdict on the incident (malicious, suspicious or benign), set by triage.",
    "__incident_ip__": "Each IP address of the incident that intel calls malicious (ipv6_net for IPv6).",
    "__incident_domain__": "Each domain of the incident that intel calls malicious.",
    "__incident_url__": "Each URL of the incident that intel calls malicious.",
    "__incident_sha256__": "Each malicious file's SHA-256 in the incident.",
    "__incident_host__": "Each host of the incident.",
    "__registry_key__": "The key of each registry value the incident's evidence names.",
    "__registry_value_name__": "The name of each registry value the incident's evidence names.",
    "__rule_number__": "The SLPF rule id the consumer answered the block with.",
}


def capability_command(capability: Capability) -> dict[str, Any]:
    command = OPENC2.get(capability)
    if command is None:
        return {
            "type": "manual",
            "command": f"{capability}: do it to each {capability.target} of the incident",
            "description": "Garrison runs it with the tenant's bound adapter (OpenC2 has no command for it).",
        }
    target = next(iter(command["target"]))
    return {
        "type": "openc2-http",
        "description": f"{capability}: OpenC2 {command['action']} {target}, to the tenant's OpenC2 consumer.",
        "command": "POST /openc2 HTTP/1.1",
        "headers": {"Content-Type": ["application/openc2-cmd+json;version=1.0"]},
        "content_b64": base64.b64encode(json.dumps(command).encode()).decode(),
    }


def capability_of(message: Any, where: str) -> str:
    """The capability an OpenC2 command does (bare, or in a message envelope) on the incident's targets."""
    if isinstance(message, dict) and "body" in message:
        body = message["body"]
        message = body.get("openc2", {}).get("request") if isinstance(body, dict) else None
    target = message.get("target") if isinstance(message, dict) else None
    if not isinstance(target, dict) or len(target) != 1:
        raise PlaybookError(f"{where}: content: not an OpenC2 command (an action and one target)")
    action, [(name, value)] = str(message.get("action")), target.items()
    capability = OPENC2_PAIRS.get((action, name))
    if capability is None:
        known = ", ".join(sorted({f"{a} {t}" for a, t in OPENC2_PAIRS}))
        raise PlaybookError(
            f"{where}: OpenC2 {action[:20]} {name[:40]} has no Garrison capability (mapped: {known})"
        )
    fixed = [leaf for leaf in _leaves(value) if not (isinstance(leaf, str) and _VARIABLE_REF.match(leaf))]
    if fixed:
        raise PlaybookError(
            f"{where}: OpenC2 {action} {name} names a fixed target ({str(fixed[0])[:60]!r}); Garrison acts "
            "on the incident's targets, so it must be a CACAO variable (__name__:value)"
        )
    return str(capability)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]
