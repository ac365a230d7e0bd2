"""The alert is evidence too: its command lines, process ancestry, paths, threat names, ATT&CK techniques
and the sensor's own confidence, read as an analyst reads them — before any telemetry or intel.

Everything recognised comes from the knowledge tables (``_knowledge``); this module only finds the
processes in an alert and asks the tables about them. Alert text is hostile: it is matched with bounded
regular expressions and never executed, fetched or rendered.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from flows.models import Alert

from ._findings import (
    ANCESTRY,
    COMMAND,
    PROCESS,
    SEVERITY,
    TECHNIQUE,
    THREAT,
    TOOL,
    Answers,
    Finding,
)
from ._host import USER_WRITABLE
from ._knowledge import AncestryGroup, Behaviour, TechniqueRow, knowledge

MAX_COMMAND = 32_768  # what one command line may cost the regular expressions
COMMAND_CAP = 70  # command-line behaviours add at most this much: one alert, one verdict's worth
_ENCODED = re.compile(r"\s[-/](?:e|ec|en[a-z]*)\s+[\"']?([a-z0-9+/]{16,}={0,2})", re.I)
# OCSF disposition_id: what the sensor did about it (security_control profile).
_DISPOSITIONS = {2: "blocked", 3: "quarantined", 4: "isolated", 5: "deleted", 6: "dropped", 12: "corrected"}


@dataclass(frozen=True)
class Process:
    """A process an alert names, with where its command line was seen (a process, a task, a service)."""

    name: str
    path: str
    command: str
    parent_name: str
    parent_path: str
    where: str

    @property
    def shown(self) -> str:
        if self.where.startswith(("scheduled task", "service")):
            return f"{self.where} ({self.name})" if self.name else self.where
        return self.name or self.where


def alert_answers(answers: Answers, alerts: Sequence[Alert]) -> None:
    processes = [p for alert in alerts for p in processes_in(alert)]
    answers.features["alert"] = {
        "processes": [
            {"name": p.name, "path": p.path, "parent": p.parent_name, "where": p.where} for p in processes
        ][:20],
    }
    _behaviours(answers, processes)
    _ancestry(answers, processes)
    _user_writable(answers, processes)
    _threat_names(answers, alerts)
    _techniques(answers, alerts)
    _confidence_and_disposition(answers, alerts)


def processes_in(alert: Alert) -> Iterator[Process]:
    holders: list[tuple[str, Any]] = [(f"evidences[{i}]", e) for i, e in enumerate(alert.evidences)]
    extra = alert.model_extra or {}
    holders += [("alert", {"process": extra.get("process"), "actor": extra.get("actor")})]
    for where, evidence in holders:
        if not isinstance(evidence, dict):
            continue
        for key in ("process", "actor"):
            process = evidence.get(key)
            if key == "actor" and isinstance(process, dict):
                process = process.get("process")
            if isinstance(process, dict):
                yield _process(process, f"{where}.{key}")
        job = evidence.get("job")
        if isinstance(job, dict) and isinstance(job.get("cmd_line"), str):
            command = job["cmd_line"][:MAX_COMMAND]
            task = f"scheduled task {_str(job, 'name')}"
            yield Process(name_of(_first_word(command)), "", command, "", "", task)
        service = evidence.get("win_service")
        if isinstance(service, dict) and isinstance(service.get("cmd_line"), str):
            command = service["cmd_line"][:MAX_COMMAND]
            name = name_of(_first_word(command))
            yield Process(name, "", command, "services.exe", "", f"service {_str(service, 'name')}")


def decoded_powershell(command: str) -> str | None:
    """The text of a PowerShell ``-EncodedCommand`` (base64 of UTF-16LE), or None if there is none."""
    match = _ENCODED.search(command)
    if not match:
        return None
    payload = match.group(1)
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False)[: MAX_COMMAND * 2]
    except (binascii.Error, ValueError):
        return None
    text = raw.decode("utf-16-le", errors="ignore").replace("\x00", "")
    return text if text.isprintable() or text.strip() else None


def name_of(path: str | None) -> str:
    return re.split(r"[\\/]", path or "")[-1].strip("\"' ").lower()


def _str(holder: dict[str, Any], key: str) -> str:
    value = holder.get(key)
    return value[:1024] if isinstance(value, str) else ""


def _object(holder: dict[str, Any], key: str) -> dict[str, Any]:
    value = holder.get(key)
    return value if isinstance(value, dict) else {}


def _process(process: dict[str, Any], where: str) -> Process:
    file, parent = _object(process, "file"), _object(process, "parent_process")
    parent_file = _object(parent, "file")
    path = _str(file, "path")
    parent_path = _str(parent_file, "path")
    return Process(
        name=name_of(_str(process, "name") or path or _first_word(_str(process, "cmd_line"))),
        path=path,
        command=_str(process, "cmd_line")[:MAX_COMMAND] if isinstance(process.get("cmd_line"), str) else "",
        parent_name=name_of(_str(parent, "name") or parent_path or _first_word(_str(parent, "cmd_line"))),
        parent_path=parent_path,
        where=where,
    )


def _first_word(command: str) -> str:
    command = command.strip()
    if command.startswith('"'):
        return command[1:].split('"', 1)[0]
    return command.split(" ", 1)[0] if command else ""


def _behaviours(answers: Answers, processes: Sequence[Process]) -> None:
    seen: set[str] = set()
    budget = COMMAND_CAP
    found = []
    for process in processes:
        if not process.command:
            continue
        decoded = decoded_powershell(process.command)
        for behaviour in knowledge().behaviours:
            if behaviour.id in seen:
                continue
            in_clear = behaviour.found_in(process.command)
            in_decoded = not in_clear and decoded is not None and behaviour.found_in(decoded)
            if in_clear or in_decoded:
                seen.add(behaviour.id)
                found.append((behaviour, process, in_decoded))
    answers.features["alert"]["behaviours"] = [b.id for b, _, _ in found]
    # Strongest first, so the cap trims the weakest.
    for behaviour, process, in_decoded in sorted(found, key=lambda item: -item[0].weight):
        effect = min(behaviour.weight, budget)
        budget -= effect
        decoded_note = " (in its decoded -EncodedCommand)" if in_decoded else ""
        answers.add(
            _attack(
                COMMAND,
                f"{process.shown} {behaviour.says}{decoded_note}",
                effect,
                "behaviour",
                behaviour,
                behaviour=behaviour.id,
                process=process.shown,
                technique=behaviour.technique,
                decoded=int(in_decoded),
            )
        )


def _ancestry(answers: Answers, processes: Sequence[Process]) -> None:
    for group in knowledge().ancestry:
        for process in processes:
            if process.parent_name in group.parents and process.name in group.children:
                answers.add(
                    _attack(
                        ANCESTRY,
                        f"{process.parent_name} started {process.name}: a {group.id.replace('_', ' ')} "
                        "application should not start a script interpreter",
                        group.weight,
                        "ancestry",
                        group,
                        parent=process.parent_name,
                        child=process.name,
                        group=group.id,
                        technique=group.technique,
                    )
                )
                return  # one is enough to say how it started


def _attack(
    question: str, finding: str, effect: int, code: str, entry: Behaviour | AncestryGroup, **params: str | int
) -> Finding:
    """A host finding from a knowledge entry that names an ATT&CK technique: the entry's grade says whether
    it is risky; its technique ends the finding's text and leads its sources."""
    return Finding(
        question,
        f"{finding} [{entry.technique}]",
        effect,
        host_evidence=True,
        code=code,
        params=dict(params),
        risky=entry.grade == "malicious",
        sources=[entry.technique, *entry.sources],
    )


def _user_writable(answers: Answers, processes: Sequence[Process]) -> None:
    if answers.has("user_writable"):
        return
    for process in processes:
        for path in (process.path, process.parent_path):
            if path and USER_WRITABLE.search(path):
                answers.add(
                    Finding(
                        PROCESS,
                        f"the program behind it runs from a user-writable folder ({path})",
                        10,
                        host_evidence=True,
                        code="user_writable",
                        params={"path": path},
                    )
                )
                return


def _detection_text(alert: Alert) -> str:
    info = alert.finding_info
    parts = [info.title, *info.types, info.analytic.name if info.analytic and info.analytic.name else ""]
    for malware in (alert.model_extra or {}).get("malware") or []:
        if isinstance(malware, dict) and isinstance(malware.get("name"), str):
            parts.append(malware["name"])
    return " ".join(parts)[:16_384].lower()


def _threat_names(answers: Answers, alerts: Sequence[Alert]) -> None:
    text = " ".join(_detection_text(alert) for alert in alerts)
    for threat in knowledge().threats:
        word = threat.named_in(text)
        if word is None:
            continue
        if threat.question == "tool":
            if answers.hacktool:
                continue
            answers.hacktool = True  # a tool, not a virus: someone put it there
            question, code = TOOL, "hacktool"
            said = (
                f"the detection is a tool ({word}), not a virus: someone put it there, so a human must look"
            )
            params: dict[str, str | int | list[str]] = {"word": word, "category": threat.category}
        else:
            kind = threat.category.replace("_", " ")
            question, code = THREAT, "threat_name"
            said = f"the sensor names {kind}" + (f" ({word})" if word.lower() != kind else "")
            params = {"category": threat.category, "word": word}
        answers.add(
            Finding(
                question,
                said,
                threat.weight,
                host_evidence=True,
                code=code,
                params=params,
                risky=threat.risky,
                sources=list(threat.sources),
            )
        )


def _techniques(answers: Answers, alerts: Sequence[Alert]) -> None:
    table = knowledge().techniques
    ids = list(dict.fromkeys(t for alert in alerts for t in alert.techniques()))[:32]
    answers.features["alert"]["techniques"] = ids
    if not ids:
        return
    rows: dict[str, TechniqueRow] = {}
    unlisted = []
    for technique in ids:
        row = table.row_of(technique)
        if row is None:
            unlisted.append(technique)
        else:
            rows.setdefault(row.category, row)
    effect = sum(r.weight for r in rows.values()) + (table.any_weight if unlisted else 0)
    risky = sorted(r.category for r in rows.values() if r.risky)
    categories = sorted(rows) or ["other"]
    answers.add(
        Finding(
            TECHNIQUE,
            f"the sensor maps it to {', '.join(ids[:6])} "
            f"({', '.join(c.replace('_', ' ') for c in categories)})",
            min(effect, table.cap),
            host_evidence=True,
            code="techniques",
            params={"ids": ids[:6], "categories": categories},
            risky=bool(risky),
            sources=ids,
        )
    )


def _confidence_and_disposition(answers: Answers, alerts: Sequence[Alert]) -> None:
    scores = [c for c in (alert.confidence() for alert in alerts) if c is not None]
    if scores:
        confidence = max(scores)
        if confidence >= 80:
            answers.add(
                Finding(
                    SEVERITY,
                    f"the sensor is highly confident ({confidence}/100)",
                    5,
                    code="confidence_high",
                    params={"confidence": confidence},
                )
            )
        elif confidence < 40:
            answers.add(
                Finding(
                    SEVERITY,
                    f"the sensor has low confidence ({confidence}/100)",
                    -5,
                    code="confidence_low",
                    params={"confidence": confidence},
                )
            )
    for alert in alerts:
        action = _DISPOSITIONS.get(alert.disposition() or 0)
        if action:
            # What the sensor stopped is not who put it there (DESIGN §1): it changes nothing in the score.
            answers.add(
                Finding(
                    SEVERITY,
                    f"the sensor says it {action} it: that stops this copy, not whoever brought it",
                    0,
                    code="disposition",
                    params={"action": action},
                )
            )
            return
