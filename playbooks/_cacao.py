"""CACAO 2.0: a Garrison playbook as a CACAO playbook (JSON) and back, and foreign CACAO playbooks imported.

Export writes what CACAO says natively — steps in order from a start to an end step, a verdict condition as
an ``if-condition`` (on the ``__verdict__`` variable), containment as ``openc2-http`` commands where OpenC2
expresses the capability and ``manual`` commands otherwise, an escalation as a ``manual`` command for the
analyst, ``on_failure`` as the step's failure pointer, timeouts in milliseconds — and keeps what it cannot
(step kinds, capabilities, ``match`` …) in the Garrison extension, so a document exported here imports back
equal. Ids and timestamps derive from the playbook alone: exporting twice gives the same document.

Import validates against the vendored OASIS schemas (``playbooks/cacao/schemas``, offline), then walks the
workflow: ``start``/``end``, ``action``, ``if-condition`` on the verdict, ``parallel`` (its branches run one
after the other). Commands become capabilities (OpenC2 ``deny``/``contain``/… on a target kind Garrison
acts on, sent as ``openc2-http`` or as an ``http-api`` body) or escalations (``manual``: a person does it).
Anything else is refused, naming the step and the field.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Literal, TypeVar, get_args

from jsonschema import validators
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from pydantic import BaseModel, ConfigDict, ValidationError
from referencing import Registry, Resource

from actions import Capability

from ._load import PlaybookError
from ._schema import ActStep, EscalateStep, Match, NotifyStep, OnFailure, Playbook, PlaybookType, Step

SCHEMA_DIR = "cacao/schemas"
# Garrison's own UUIDv5 namespace: CACAO reserves its namespace for ids derived from name+playbook_types.
NAMESPACE = uuid.UUID("5b0b4c55-8a63-5e0f-9d57-3f0c1f4a6e21")
EXTENSION_ID = f"extension-definition--{uuid.uuid5(NAMESPACE, 'extension/garrison')}"
IDENTITY = f"identity--{uuid.uuid5(NAMESPACE, 'identity/garrison')}"
GARRISON_AGENT = f"garrison--{uuid.uuid5(NAMESPACE, 'agent/garrison')}"
ANALYST_AGENT = f"group--{uuid.uuid5(NAMESPACE, 'agent/analyst')}"
# Nothing random: `created` is fixed and `modified` grows with the version (CACAO orders versions by it).
CREATED = datetime(2025, 1, 1, tzinfo=UTC)
VERDICTS = ("malicious", "suspicious", "benign")
VERDICT_VARIABLE = "__verdict__"
_VARIABLE_REF = re.compile(r"^__[a-zA-Z_][a-zA-Z0-9_-]{0,199}__:value$")

# -- OpenC2: what Garrison sends for a capability (actions.openc2), with the incident's target as a variable

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
_VARIABLES = {
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


# -- the schemas -------------------------------------------------------------------------------------------


def _files(folder: Traversable) -> list[Traversable]:
    found = []
    for item in folder.iterdir():
        if item.is_dir():
            found += _files(item)
        elif item.name.endswith(".json"):
            found.append(item)
    return found


@cache
def _registry() -> Registry[Any]:
    # The schemas name each other by their $id URLs: each resolves to its vendored file, never the network.
    loaded = [
        json.loads(f.read_text(encoding="utf-8")) for f in _files(resources.files(__package__) / SCHEMA_DIR)
    ]
    return Registry().with_resources((schema["$id"], Resource.from_contents(schema)) for schema in loaded)


@cache
def _validator(name: str) -> Validator:
    uri = f"https://raw.githubusercontent.com/oasis-open/cacao-json-schemas/main/schemas/{name}"
    schema = _registry().contents(uri)
    # The schemas declare draft-07, which ignores their `unevaluatedProperties` (read strictly, it would
    # refuse the `command` of every command): validated as declared, like the OASIS tooling does.
    cls = validators.validator_for(schema)
    return cls(schema, registry=_registry())


def validate_cacao(document: Any, schema: str = "playbook.json") -> None:
    """Check a CACAO document against the official schemas; the first error as a ``PlaybookError`` that
    says where (JSON path, and the workflow step when the error is inside one)."""
    error = best_match(_validator(schema).iter_errors(document))
    if error is None:
        return
    path = list(error.absolute_path)
    step = f" (step {path[1]})" if len(path) > 1 and path[0] == "workflow" else ""
    message = " ".join(error.message.split())
    if error.validator == "pattern":  # the pattern itself says little to a person: name what was expected
        kind = error.schema.get("title", "value") if isinstance(error.schema, dict) else "value"
        message = f"{str(error.instance)[:60]!r} is not a valid {kind}"
    message = message if len(message) <= 200 else message[:197] + "..."
    raise PlaybookError(f"CACAO schema: {error.json_path}: {message}{step}")


# -- export ------------------------------------------------------------------------------------------------


def _step_id(kind: str, name: str) -> str:
    # CACAO wants UUIDv4 for steps: hash-derived bytes (deterministic) in the v4 layout.
    return f"{kind}--{uuid.UUID(bytes=uuid.uuid5(NAMESPACE, name).bytes, version=4)}"


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _modified(version: str) -> str:
    parts = [int(part) for part in version.split(".")] + [0, 0]
    ordinal = parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]
    try:
        return _timestamp(CREATED + timedelta(milliseconds=ordinal))
    except OverflowError:
        raise PlaybookError(f"version {version}: too large for a CACAO timestamp") from None


def _condition(verdicts: Sequence[str]) -> str:
    listed = ", ".join(f"'{verdict}'" for verdict in verdicts)
    return f"{VERDICT_VARIABLE}:value IN ({listed})"


def _command(step: Step) -> list[dict[str, Any]]:
    if isinstance(step, ActStep):
        return [_capability_command(c) for c in step.capabilities or ()] + [
            {
                "type": "manual",
                "command": f"{key}: run this vendor action on each target of its kind in the incident",
            }
            for key in step.vendor_actions or ()
        ]
    if isinstance(step, EscalateStep):
        return [
            {"type": "manual", "command": step.reason, "description": "An analyst decides; the run waits."}
        ]
    if isinstance(step, NotifyStep):
        text = f"Send the {step.event} message to the tenant's channels."
        return [{"type": "x-garrison", "command": f"notify {step.event}", "description": text}]
    text = {
        "enrich": "Look up the incident's indicators with the tenant's threat-intel providers.",
        "classify": f"Triage: decide the verdict the conditions test ({VERDICT_VARIABLE}).",
        "close": "Close the incident if nothing waits for a person.",
    }[step.kind]
    return [{"type": "x-garrison", "command": step.kind, "description": text}]


def _capability_command(capability: Capability) -> dict[str, Any]:
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


def _variables(playbook: Playbook) -> dict[str, Any]:
    used = {VERDICT_VARIABLE} if any(step.when.verdict is not None for step in playbook.steps) else set()
    for capability in playbook.capabilities():
        used |= set(re.findall(r"__[a-z0-9_]+?__", json.dumps(OPENC2.get(capability, {}))))
    return {
        name: {"type": "string", "description": text, "constant": False, "external": True}
        for name, text in _VARIABLES.items()
        if name in used
    }


def _described(step: Step) -> str:
    parts = [f"Garrison {step.kind} step."]
    if step.when.verdict is not None:
        parts.append(f"Only for the verdicts {', '.join(step.when.verdict) or '(none)'}.")
    if isinstance(step, ActStep):
        parts.append(f"Acts on every target of each kind in the incident: {', '.join(step.actions)}.")
        if step.requires_approval:
            parts.append("Waits for an analyst's approval first.")
    parts.append(
        {"continue": "On failure: go on.", "stop": "On failure: end the run."}.get(
            step.on_failure, "On failure: an analyst takes over."
        )
    )
    return " ".join(parts)


def _extension(step: Step) -> dict[str, Any]:
    found: dict[str, Any] = {"step_id": step.id, "kind": step.kind, "on_failure": step.on_failure}
    if isinstance(step, ActStep):
        found.update(requires_approval=step.requires_approval)
        if step.capabilities is not None:
            found["capabilities"] = [str(c) for c in step.capabilities]
        if step.vendor_actions is not None:
            found["actions"] = list(step.vendor_actions)
    if isinstance(step, NotifyStep):
        found["event"] = step.event
    return found


def export_cacao(playbook: Playbook) -> dict[str, Any]:
    """The playbook as a CACAO 2.0 document (schema-valid); the same playbook gives the same document.

    >>> from playbooks import load_playbook
    >>> export_cacao(load_playbook("default"))["spec_version"]
    'cacao-2.0'
    """
    base = f"{playbook.id}@{playbook.version}"
    start, end = _step_id("start", f"{base}#start"), _step_id("end", f"{base}#end")
    escalation = _step_id("action", f"{base}#on-failure")
    entries = [
        _step_id("if-condition" if s.when.verdict is not None else "action", f"{base}/{s.id}/entry")
        for s in playbook.steps
    ]
    workflow: dict[str, Any] = {start: {"type": "start", "name": "start", "on_completion": entries[0]}}
    for step, entry, after in zip(playbook.steps, entries, [*entries[1:], end], strict=True):
        action: dict[str, Any] = {
            "type": "action",
            "name": step.id,
            "description": _described(step),
            **({"timeout": step.timeout * 1000} if step.timeout else {}),
            "commands": _command(step),
            "agent": ANALYST_AGENT if isinstance(step, EscalateStep) else GARRISON_AGENT,
            "step_extensions": {EXTENSION_ID: _extension(step)},
        }
        if step.when.verdict is None:
            workflow[entry] = _linked(action, after, step.on_failure, end, escalation)
            continue
        inner, branch_end = _step_id("action", f"{base}/{step.id}"), _step_id("end", f"{base}/{step.id}/end")
        workflow[entry] = {
            "type": "if-condition",
            "name": f"{step.id}: verdict",
            "condition": _condition(step.when.verdict),
            "on_true": inner,
            "on_completion": after,
        }
        workflow[inner] = _linked(action, branch_end, step.on_failure, end, escalation)
        workflow[branch_end] = {"type": "end", "name": f"{step.id}: end"}
    if any(step.on_failure == "escalate" for step in playbook.steps):
        workflow[escalation] = {
            "type": "action",
            "name": "a step failed",
            "commands": [{"type": "manual", "command": "A step failed: an analyst takes the incident over."}],
            "agent": ANALYST_AGENT,
            "on_completion": end,
        }
    workflow[end] = {"type": "end", "name": "end"}
    variables = _variables(playbook)
    return {
        "type": "playbook",
        "spec_version": "cacao-2.0",
        "id": f"playbook--{uuid.uuid5(NAMESPACE, f'playbook/{playbook.id}')}",
        "name": playbook.name,
        **({"description": playbook.description} if playbook.description else {}),
        **({"playbook_types": list(playbook.playbook_types)} if playbook.playbook_types else {}),
        "created_by": IDENTITY,
        "created": _timestamp(CREATED),
        "modified": _modified(playbook.version),
        **({"playbook_variables": variables} if variables else {}),
        "workflow_start": start,
        "workflow": workflow,
        "agent_definitions": {
            GARRISON_AGENT: {"type": "garrison", "name": "Garrison respond flow"},
            ANALYST_AGENT: {"type": "group", "name": "Analyst on duty"},
        },
        "extension_definitions": {
            EXTENSION_ID: {
                "type": "extension-definition",
                "name": "garrison",
                "description": "Garrison playbook fields CACAO has no property for.",
                "created_by": IDENTITY,
                "schema": "playbook: playbook_id, version, dry_run, match (Garrison's Match); step: step_id, "
                "kind (enrich|classify|act|escalate|notify|close), on_failure (continue|escalate|stop), "
                "capabilities or actions, requires_approval (act), event (notify).",
                "version": "1.0.0",
            }
        },
        "playbook_extensions": {
            EXTENSION_ID: {
                "playbook_id": playbook.id,
                "version": playbook.version,
                "dry_run": playbook.dry_run,
                **({"match": _match(playbook.match)} if playbook.match else {}),
            }
        },
    }


def _match(match: Match) -> dict[str, Any]:
    return match.model_dump(mode="json", exclude_defaults=True)


def _linked(
    action: dict[str, Any], after: str, on_failure: OnFailure, end: str, escalation: str
) -> dict[str, Any]:
    if on_failure == "continue":
        return {**action, "on_completion": after}
    return {**action, "on_success": after, "on_failure": end if on_failure == "stop" else escalation}


# -- import ------------------------------------------------------------------------------------------------


M = TypeVar("M", bound=BaseModel)


class _PlaybookExtension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    playbook_id: str
    version: str
    dry_run: bool = False
    match: dict[str, Any] | None = None


class _StepExtension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step_id: str
    kind: Literal["enrich", "classify", "act", "escalate", "notify", "close"]
    on_failure: OnFailure | None = None
    capabilities: list[str] | None = None
    actions: list[str] | None = None
    requires_approval: bool = False
    event: str | None = None


def import_cacao(document: Any) -> Playbook:
    """A CACAO 2.0 document as a Garrison playbook, or ``PlaybookError`` naming the step and the field
    that cannot be mapped (a schema error names its JSON path)."""
    if not isinstance(document, dict):
        raise PlaybookError("CACAO: the document is not a JSON object")
    validate_cacao(document)
    return _Reader(document).playbook()


class _Reader:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.workflow: dict[str, Any] = document["workflow"]
        found = (document.get("playbook_extensions") or {}).get(EXTENSION_ID)
        self.ours = None if found is None else _checked(_PlaybookExtension, found, "playbook_extensions")
        self.steps: list[dict[str, Any]] = []
        self.origins: list[str] = []  # the CACAO step each Garrison step came from
        self.visited: set[str] = set()

    def playbook(self) -> Playbook:
        self._walk(self.document["workflow_start"], None)
        known = get_args(PlaybookType)
        data: dict[str, Any] = {
            "name": self.document["name"],
            "description": self.document.get("description", ""),
            # CACAO's vocabulary is open (and has "engagement"): Garrison keeps the types it knows.
            "playbook_types": [t for t in self.document.get("playbook_types", []) if t in known],
            "steps": self.steps,
        }
        if self.ours is not None:
            data.update(id=self.ours.playbook_id, version=self.ours.version, dry_run=self.ours.dry_run)
            if self.ours.match is not None:
                data["match"] = self.ours.match
        if not self.steps:
            raise PlaybookError("CACAO workflow: no step Garrison can run (only start and end)")
        ids = [step["id"] for step in self.steps]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise PlaybookError(f"CACAO workflow: duplicate Garrison step ids {', '.join(repeated)}")
        try:
            return Playbook.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            loc = first["loc"]
            where = ".".join(str(part) for part in loc) or "(top level)"
            if len(loc) > 1 and loc[0] == "steps" and isinstance(loc[1], int):
                field = loc[3:] if loc[2:3] == (self.steps[loc[1]]["kind"],) else loc[2:]  # the union's tag
                where = f"step {self.origins[loc[1]]}: {'.'.join(str(part) for part in field)}"
            raise PlaybookError(f"CACAO {where}: {first['msg']}") from None

    def _step(self, step_id: Any, origin: str, field: str) -> dict[str, Any]:
        step = self.workflow.get(step_id) if isinstance(step_id, str) else None
        if not isinstance(step, dict):
            raise PlaybookError(
                f"CACAO step {origin}: {field} names {str(step_id)[:80]!r}, not a workflow step"
            )
        return step

    def _walk(self, current: str | None, verdicts: list[str] | None, origin: str = "playbook") -> None:
        field = "workflow_start"
        while current is not None:
            step = self._step(current, origin, field)
            kind = step["type"]
            if kind == "end":
                return
            if current in self.visited:
                raise PlaybookError(
                    f"CACAO step {origin}: {field} returns to step {current}: Garrison runs each step once "
                    "(no loops; a branch must end at its own end step)"
                )
            self.visited.add(current)
            if kind == "action":
                self._action(current, step, verdicts)
            elif kind == "if-condition":
                holds = _verdicts(step["condition"], current)
                self._walk(step["on_true"], _within(verdicts, holds), current)
                if "on_false" in step:
                    self._walk(
                        step["on_false"], _within(verdicts, [v for v in VERDICTS if v not in holds]), current
                    )
            elif kind == "parallel":
                # Branches in parallel may run in any order: one after the other is one of those orders.
                for branch in step["next_steps"]:
                    self._walk(branch, verdicts, current)
            elif kind != "start":
                raise PlaybookError(
                    f"CACAO step {current}: type: a {kind} step cannot be mapped (Garrison runs each step "
                    "once, in order: no loops, switches or sub-playbooks)"
                )
            origin, field = current, "on_completion" if "on_completion" in step else "on_success"
            current = step.get("on_completion") or step.get("on_success")

    def _action(self, step_id: str, step: dict[str, Any], verdicts: list[str] | None) -> None:
        found = (step.get("step_extensions") or {}).get(EXTENSION_ID) if self.ours else None
        if found is not None:
            ext = _checked(_StepExtension, found, f"step {step_id}: step_extensions")
            data = _garrison_step(ext, step, step_id)
            on_failure = ext.on_failure or self._on_failure(step_id, step)
        else:
            data = _foreign_step(step, step_id)
            data["id"] = self._unique(
                _slug(str(step.get("name") or "")) or f"{data['kind']}-{len(self.steps) + 1}"
            )
            on_failure = self._on_failure(step_id, step)
        data["on_failure"] = on_failure
        if verdicts is not None:
            data["when"] = {"verdict": verdicts}
        if "timeout" in step:
            seconds = max(1, math.ceil(step["timeout"] / 1000))
            if seconds > 86_400:
                raise PlaybookError(f"CACAO step {step_id}: timeout: over a day ({step['timeout']} ms)")
            data["timeout"] = seconds
        self.steps.append(data)
        self.origins.append(step_id)

    def _unique(self, name: str) -> str:
        taken = {step["id"] for step in self.steps}
        candidate, n = name, 2
        while candidate in taken:
            suffix = f"-{n}"
            candidate, n = name[: 64 - len(suffix)] + suffix, n + 1
        return candidate

    def _on_failure(self, step_id: str, step: dict[str, Any]) -> OnFailure:
        if "on_completion" in step:  # the next step runs whatever the outcome
            return "continue"
        target = step.get("on_failure")
        if target is None:  # CACAO's playbook exception handler: Garrison's is an analyst
            return "escalate"
        if target == step.get("on_success"):
            return "continue"
        failure = self._step(target, step_id, "on_failure")
        if failure["type"] == "end":
            return "stop"
        commands = failure.get("commands", []) if failure["type"] == "action" else []
        if commands and all(command.get("type") == "manual" for command in commands):
            return "escalate"  # a person takes over
        raise PlaybookError(
            f"CACAO step {step_id}: on_failure: leads to step {target}; Garrison can only go on, end the run "
            "(an end step) or hand over to an analyst (a manual step)"
        )


def _checked(model: type[M], value: Any, where: str) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise PlaybookError(f"CACAO {where}: garrison extension: {field}: {first['msg']}") from None


def _within(outer: list[str] | None, inner: list[str]) -> list[str]:
    return inner if outer is None else [verdict for verdict in outer if verdict in inner]


_TERM = re.compile(
    r"^(?P<var>__[a-zA-Z0-9_-]+__):value\s*(?P<op>=|!=|(?:NOT\s+)?IN)\s*(?P<values>'[^']*'|\((?:\s*'[^']*'\s*,?)*\))$",
    re.IGNORECASE,
)


def _verdicts(condition: str, step_id: str) -> list[str]:
    """The verdicts for which a condition holds (in the order written): it may test only ``__verdict__``,
    with =, !=, IN and NOT IN, the terms joined by AND or by OR."""
    text = condition.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    joins = {join.upper() for join in re.findall(r"\s(AND|OR)\s", text, re.IGNORECASE)}
    if len(joins) > 1:
        raise PlaybookError(f"CACAO step {step_id}: condition: mixes AND and OR: {condition[:80]!r}")
    results = []
    for term in re.split(r"\s+(?:AND|OR)\s+", text, flags=re.IGNORECASE):
        found = _TERM.match(term.strip())
        if found is None or found["var"] != VERDICT_VARIABLE:
            raise PlaybookError(
                f"CACAO step {step_id}: condition: Garrison can test only the verdict "
                f"({VERDICT_VARIABLE}:value = 'malicious' …), not {condition[:80]!r}"
            )
        values = re.findall(r"'([^']*)'", found["values"])
        unknown = [v for v in values if v not in VERDICTS]
        if unknown:
            raise PlaybookError(f"CACAO step {step_id}: condition: {unknown[0][:40]!r} is not a verdict")
        negated = found["op"] == "!=" or found["op"].upper().startswith("NOT")
        results.append([v for v in VERDICTS if v not in values] if negated else values)
    if joins == {"AND"}:
        return [v for v in results[0] if all(v in other for other in results[1:])]
    return list(dict.fromkeys(v for found in results for v in found))


def _garrison_step(ext: _StepExtension, step: dict[str, Any], step_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {"id": ext.step_id, "kind": ext.kind}
    if ext.kind == "act":
        data["requires_approval"] = ext.requires_approval
        if ext.capabilities is not None:
            data["capabilities"] = ext.capabilities
        if ext.actions is not None:
            data["actions"] = ext.actions
    elif ext.kind == "notify":
        data["event"] = ext.event
    elif ext.kind == "escalate":
        data["reason"] = _foreign_step(step, step_id).get("reason")
    return data


def _foreign_step(step: dict[str, Any], step_id: str) -> dict[str, Any]:
    capabilities: list[str] = []
    manual: list[str] = []
    for n, command in enumerate(step["commands"]):
        where = f"CACAO step {step_id}: commands[{n}]"
        kind = command.get("type")
        if kind == "manual":
            _type_checked(command, "manual", where)
            manual.append(_text(command))
        elif kind in ("openc2-http", "openc2"):  # SOARCA's examples write "openc2"
            _type_checked({**command, "type": "openc2-http"}, "openc2-http", where)
            capabilities.append(_openc2(_body(command, where), where))
        elif kind == "http-api":
            _type_checked(command, "http-api", where)
            body = _body(command, where, required=False)
            if not (isinstance(body, dict) and ("action" in body or "body" in body)):
                raise PlaybookError(
                    f"{where}: command: http-api {str(command.get('command', ''))[:60]!r} calls an HTTP API "
                    "Garrison has no capability for (http-api maps only when its body is an OpenC2 command)"
                )
            capabilities.append(_openc2(body, where))
        else:
            raise PlaybookError(
                f"{where}: type: {str(kind)[:40]!r} commands cannot be mapped: Garrison runs no scripts or "
                "queries, only capabilities (openc2-http) and manual steps"
            )
    if manual and capabilities:
        raise PlaybookError(
            f"CACAO step {step_id}: commands: mixes manual and automated commands; split it into a manual "
            "step (an escalation) and an automated one"
        )
    if manual:
        reason = "; ".join(text for text in manual if text) or str(step.get("name") or "a person must act")
        return {"kind": "escalate", "reason": reason}
    return {"kind": "act", "capabilities": list(dict.fromkeys(capabilities))}


def _type_checked(command: dict[str, Any], schema: str, where: str) -> None:
    try:
        validate_cacao(command, f"commands/{schema}.json")
    except PlaybookError as error:
        raise PlaybookError(f"{where}: {str(error).removeprefix('CACAO schema: ')}") from None


def _text(command: dict[str, Any]) -> str:
    if "command" in command:
        return str(command["command"])
    try:
        return base64.b64decode(command.get("command_b64", ""), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _body(command: dict[str, Any], where: str, *, required: bool = True) -> Any:
    if "content" in command:
        raw = str(command["content"])
    elif "content_b64" in command:
        try:
            raw = base64.b64decode(command["content_b64"], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise PlaybookError(f"{where}: content_b64: not base64 text") from None
    elif required:
        raise PlaybookError(f"{where}: content_b64: missing (the OpenC2 command)")
    else:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        if required:
            raise PlaybookError(f"{where}: content_b64: not JSON (an OpenC2 command is)") from None
        return None


def _openc2(message: Any, where: str) -> str:
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


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].rstrip("-")
