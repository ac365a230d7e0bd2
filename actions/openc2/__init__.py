"""OpenC2: commands as pydantic models validated against the language and the SLPF schema, a strict
message parser, and actions that send commands to a tenant's OpenC2 consumer over HTTPS."""

from . import _actions  # noqa: F401 - registers the openc2.* actions
from ._actions import Reply, send
from ._language import Command, Dialect, OpenC2Invalid, Response, parse_command, parse_response
from ._models import (
    OpenC2Command,
    domain_command,
    er_allow,
    er_contain,
    er_delete_registry,
    slpf_allow,
    slpf_delete_rule,
    slpf_deny,
    slpf_deny_connection,
    validate_slpf,
)
from ._schema import slpf_pairs, slpf_schema

__all__ = [
    "Command",
    "Dialect",
    "OpenC2Command",
    "OpenC2Invalid",
    "Reply",
    "Response",
    "domain_command",
    "er_allow",
    "er_contain",
    "er_delete_registry",
    "parse_command",
    "parse_response",
    "send",
    "slpf_allow",
    "slpf_delete_rule",
    "slpf_deny",
    "slpf_deny_connection",
    "slpf_pairs",
    "slpf_schema",
    "validate_slpf",
]
