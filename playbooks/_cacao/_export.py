"""A Garrison playbook as a CACAO 2.0 document: deterministic ids, the Garrison extension for the rest."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .._load import PlaybookError
from .._schema import ActStep, EscalateStep, Match, NotifyStep, OnFailure, Playbook, Step
from ._names import EXTENSION_ID, NAMESPACE, VERDICT_VARIABLE
from ._openc2 import OPENC2, VARIABLES, capability_command

IDENTITY = f"identity--{uuid.uuid5(NAMESPACE, 'identity/garrison')}"
GARRISON_AGENT = f"garrison--{uuid.uuid5(NAMESPACE, 'agent/garrison')}"
ANALYST_AGENT = f"group--{uuid.uuid5(NAMESPACE, 'agent/analyst')}"
# Nothing random: `created` is fixed and `modified` grows with the version (CACAO orders versions by it).
CREATED = datetime(2025, 1, 1, tzinfo=UTC)


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
        return [capability_command(c) for c in step.capabilities or ()] + [
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


def _variables(playbook: Playbook) -> dict[str, Any]:
    used = {VERDICT_VARIABLE} if any(step.when.verdict is not None for step in playbook.steps) else set()
    for capability in playbook.capabilities():
        used |= set(re.findall(r"__[a-z0-9_]+?__", json.dumps(OPENC2.get(capability, {}))))
    return {
        name: {"type": "string", "description": text, "constant": False, "external": True}
        for name, text in VARIABLES.items()
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
