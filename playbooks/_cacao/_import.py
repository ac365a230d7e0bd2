"""A CACAO 2.0 document as a Garrison playbook: the workflow walked from its start, each step mapped or
refused with the step and the field named."""

from __future__ import annotations

import math
import re
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from .._load import PlaybookError
from .._schema import OnFailure, Playbook, PlaybookType
from ._commands import foreign_step
from ._names import EXTENSION_ID, VERDICT_VARIABLE, VERDICTS
from ._schemas import validate_cacao

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


def import_cacao(document: Any, *, by_hand: bool = False) -> Playbook:
    """A CACAO 2.0 document as a Garrison playbook, or ``PlaybookError`` naming the step and the field
    that cannot be mapped (a schema error names its JSON path). ``by_hand``: a command Garrison will not
    run (a script, an arbitrary HTTP call) becomes an analyst's step that shows it, instead of a refusal."""
    if not isinstance(document, dict):
        raise PlaybookError("CACAO: the document is not a JSON object")
    validate_cacao(document)
    return _Reader(document, by_hand).playbook()


class _Reader:
    def __init__(self, document: dict[str, Any], by_hand: bool = False) -> None:
        self.document = document
        self.by_hand = by_hand
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
            data = foreign_step(step, step_id, by_hand=self.by_hand)
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
        data["reason"] = foreign_step(step, step_id).get("reason")
    return data


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].rstrip("-")
