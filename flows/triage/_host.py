"""What the hosts say: which process talks and from where, how it persists, how it got there."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flows.models import Alert
from flows.normalize import get, text

from ._findings import ENTRY, PERSISTENCE, PROCESS, Answers, Finding

LOLBINS = frozenset(
    "msiexec.exe rundll32.exe regsvr32.exe mshta.exe powershell.exe pwsh.exe certutil.exe bitsadmin.exe "
    "wscript.exe cscript.exe installutil.exe msbuild.exe cmstp.exe".split()
)
USER_WRITABLE = re.compile(
    r"\\appdata\\|\\temp\\|\\downloads\\|\\programdata\\|\\users\\public\\|^/tmp/|^/dev/shm/|/\.cache/", re.I
)
_SYSTEM_DIRS = re.compile(r"^[a-z]:\\windows\\(system32|syswow64)\\", re.I)
_AUTORUN = re.compile(
    r"\\currentversion\\run|\\msconfig\\startupreg|\\winlogon|\\policies\\explorer\\run", re.I
)
_SCRIPT_HOSTS = frozenset(
    {"powershell.exe", "pwsh.exe", "cmd.exe", "mshta.exe", "wscript.exe", "cscript.exe"}
)
NEAR = timedelta(hours=24)
LONG_DWELL_DAYS = 30


def host_answers(
    answers: Answers,
    alerts: Sequence[Alert],
    network: Sequence[dict[str, Any]],
    host_rows: Sequence[dict[str, Any]],
) -> None:
    first_activity = min((r["time"] for r in network), default=None)
    _process_context(answers, network, host_rows, _alert_talkers(alerts))
    _persistence(answers, alerts, host_rows, first_activity)
    _entry_and_dwell(answers, alerts, network, host_rows)


def _name(path: str | None) -> str:
    return re.split(r"[\\/]", path or "")[-1].lower()


def _alert_talkers(alerts: Sequence[Alert]) -> set[str]:
    """Processes the alert itself shows reaching out (an evidence with both a process and a URL/endpoint)."""
    found = set()
    for alert in alerts:
        for evidence in alert.evidences:
            process = evidence.get("process")
            remote = evidence.get("url") or evidence.get("dst_endpoint")
            if isinstance(process, dict) and remote:
                path = text(process, "file.path", "name")
                if path:
                    found.add(path)
    return found


def _process_context(
    answers: Answers,
    network: Sequence[dict[str, Any]],
    host_rows: Sequence[dict[str, Any]],
    alert_talkers: set[str],
) -> None:
    talkers = {r["process_path"] for r in network if r.get("process_path")} | alert_talkers
    parents = {r["parent_path"] for r in network if r.get("parent_path")}
    lolbins = sorted({_name(p) for p in talkers if _name(p) in LOLBINS})
    writable_parents = sorted({p for p in parents if USER_WRITABLE.search(p)})
    writable_talkers = sorted({p for p in talkers if USER_WRITABLE.search(p)})
    side_loads = _side_loads(host_rows)
    system_talkers = sorted({p for p in talkers if _SYSTEM_DIRS.match(p) and _name(p) not in LOLBINS})
    answers.features["process"] = {
        "talkers": sorted(talkers)[:20],
        "lolbins": lolbins,
        "parents_in_user_writable_paths": writable_parents[:20],
        "talkers_in_user_writable_paths": writable_talkers[:20],
        "side_loading": side_loads[:20],
        "system_binaries": system_talkers[:20],
    }
    if lolbins:
        answers.add(
            Finding(
                PROCESS,
                f"{', '.join(lolbins)} makes the connections: "
                "a system binary that rarely talks to the network",
                15,
                host_evidence=True,
                code="lolbin",
                params={"names": lolbins},
            )
        )
    if writable_parents or writable_talkers:
        where = (writable_parents or writable_talkers)[0]
        answers.add(
            Finding(
                PROCESS,
                f"the program behind it runs from a user-writable folder ({where})",
                15,
                host_evidence=True,
                code="user_writable",
                params={"path": where},
            )
        )
    if side_loads:
        first = side_loads[0]
        answers.add(
            Finding(
                PROCESS,
                f"signed {first['process']} loads unsigned {first['module']} from its own folder: "
                "DLL side-loading",
                20,
                host_evidence=True,
                code="side_loading",
                params={"process": first["process"], "module": first["module"]},
            )
        )
    if system_talkers and not (lolbins or writable_parents or writable_talkers or side_loads):
        answers.features["process"]["only_system_binaries"] = True


def _signed(document: dict[str, Any], path: str) -> bool:
    signature = get(document, f"{path}.signature")
    if not isinstance(signature, dict):
        return False
    # OCSF digital_signature.state_id: 1 Valid, 2 Expired, 3 Revoked, 4 Suspended, 5 Pending. Early
    # emitters wrote status_id. A signature object that gives no state at all counts as present.
    state = signature.get("state_id", signature.get("status_id", 1))
    return state == 1


def _side_loads(host_rows: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    found = []
    for row in host_rows:
        if row["class_uid"] != 1005:
            continue
        document = row["document"]
        module = text(document, "module.file.path") or ""
        process = text(document, "actor.process.file.path") or ""
        same_folder = module.rsplit("\\", 1)[0].lower() == process.rsplit("\\", 1)[0].lower()
        if (
            module.lower().endswith(".dll")
            and same_folder
            and USER_WRITABLE.search(module)
            and _signed(document, "actor.process.file")
            and not _signed(document, "module.file")
        ):
            found.append(
                {"process": _name(process), "module": _name(module), "folder": module.rsplit("\\", 1)[0]}
            )
    return found


def _persistence(
    answers: Answers,
    alerts: Sequence[Alert],
    host_rows: Sequence[dict[str, Any]],
    first_activity: datetime | None,
) -> None:
    written: dict[str, datetime] = {}  # "Run-key value X" → when telemetry saw it written
    items: list[tuple[str, datetime | None]] = []
    for row in host_rows:
        document = row["document"]
        if row["class_uid"] == 201002 and _AUTORUN.search(text(document, "reg_value.path") or ""):
            name = f"Run-key value {text(document, 'reg_value.name') or '?'}"
            written.setdefault(name, row["time"])
            items.append((name, row["time"]))
        elif row["class_uid"] == 201004 and get(document, "activity_id") == 1:
            items.append(
                (f'service "{text(document, "win_service.name", "service.name") or "?"}"', row["time"])
            )
        elif row["class_uid"] == 1006 and get(document, "activity_id") == 1:
            items.append((f"scheduled task {text(document, 'job.name') or '?'}", row["time"]))
    for alert in alerts:
        for ref in alert.registry_values():
            name = f"Run-key value {ref.name}"
            if _AUTORUN.search(ref.key) and name not in written:
                items.append((name, None))  # the sensor saw it; when it was written, we do not know
        items.extend((name, None) for name in _autostarts_named(alert) if name not in {n for n, _ in items})
    answers.features["persistence"] = sorted({name for name, _ in items})[:20]
    if not items:
        return
    names = ", ".join(sorted({name for name, _ in items})[:4])
    near = any(
        when is not None and first_activity is not None and abs(when - first_activity) <= NEAR
        for _, when in items
    )
    oldest = min((when for _, when in items if when is not None), default=None)
    days = 0
    if near:
        detail, code = " created around the first activity", "persistence_near"
    elif oldest is not None and first_activity is not None and first_activity - oldest > NEAR:
        days = (first_activity - oldest).days
        detail, code = f" written {days} days before the traffic we see: long-lived", "persistence_long_lived"
    else:
        detail, code = "", "persistence"
    kinds = {"Run-key value ": "runs", "service ": "services", "scheduled task ": "tasks"}
    params: dict[str, str | int | list[str]] = {"days": days}
    for prefix, key in kinds.items():
        params[key] = sorted({n[len(prefix) :].strip('"') for n, _ in items if n.startswith(prefix)})[:4]
    answers.add(Finding(PERSISTENCE, f"{names}{detail}", 25, host_evidence=True, code=code, params=params))


def _autostarts_named(alert: Alert) -> list[str]:
    """Scheduled tasks and services the alert's own evidence names (OCSF ``job`` / ``win_service``)."""
    names = []
    for evidence in alert.evidences:
        job, service = evidence.get("job"), evidence.get("win_service")
        if isinstance(job, dict) and isinstance(job.get("name"), str) and job["name"].strip():
            names.append(f"scheduled task {job['name'][:256]}")
        if isinstance(service, dict) and isinstance(service.get("name"), str) and service["name"].strip():
            names.append(f'service "{service["name"][:256]}"')
    return names


def _entry_and_dwell(
    answers: Answers,
    alerts: Sequence[Alert],
    network: Sequence[dict[str, Any]],
    host_rows: Sequence[dict[str, Any]],
) -> None:
    detected = min((datetime.fromtimestamp(a.time / 1000, tz=UTC) for a in alerts if a.time), default=None)
    evidence_times = [r["time"] for r in host_rows if r["class_uid"] != 3002] + [r["time"] for r in network]
    first = min(evidence_times, default=None)
    entry = []
    for row in host_rows:
        document = row["document"]
        if row["class_uid"] == 1007:
            name = _name(text(document, "process.file.path", "process.name"))
            parent = _name(text(document, "process.parent_process.file.path", "actor.process.file.path"))
            command = (text(document, "process.cmd_line") or "").lower()
            if name in _SCRIPT_HOSTS and (
                ".lnk" in command or parent == "explorer.exe" and "-enc" in command
            ):
                entry.append(("a shortcut (LNK) started " + name, row["time"], "lnk", {"process": name}))
        elif row["class_uid"] == 1001 and get(document, "activity_id") == 1:
            path = text(document, "file.path") or ""
            actor = _name(text(document, "actor.process.file.path"))
            if USER_WRITABLE.search(path) and actor in {
                "outlook.exe",
                "chrome.exe",
                "msedge.exe",
                "firefox.exe",
            }:
                saved = {"process": actor, "file": _name(path)}
                entry.append((f"{actor} saved {_name(path)}", row["time"], "saved", saved))
    logins = _logins_near(host_rows, [e[1] for e in entry] or ([first] if first else []))
    answers.features["timeline"] = {
        "first_evidence": first.isoformat() if first else None,
        "detected": detected.isoformat() if detected else None,
        "dwell_days": round((detected - first).total_seconds() / 86400, 1) if first and detected else None,
        "entry": [e[0] for e in entry][:10],
        "logins_near_entry": logins[:10],
    }
    if entry:
        how, what = entry[0][2], entry[0][3]
        params: dict[str, str | int | list[str]] = dict(what)
        answers.add(Finding(ENTRY, entry[0][0], 10, host_evidence=True, code=f"entry_{how}", params=params))
    if logins:
        answers.add(
            Finding(
                ENTRY,
                f"account {logins[0]} logged in around then",
                0 if entry else 10,
                code="entry_login",
                params={"account": logins[0]},
            )
        )
    if first and detected and (detected - first).days >= LONG_DWELL_DAYS:
        answers.add(
            Finding(
                ENTRY,
                f"first evidence {(detected - first).days} days before detection: "
                "it has been there a long time",
                10,
                host_evidence=True,
                code="long_dwell",
                params={"days": (detected - first).days},
            )
        )


def _logins_near(host_rows: Sequence[dict[str, Any]], moments: Sequence[datetime]) -> list[str]:
    found = []
    for row in host_rows:
        if row["class_uid"] == 3002 and any(abs(row["time"] - m) <= timedelta(hours=1) for m in moments):
            user = text(row["document"], "user.name", "actor.user.name")
            if user and user not in found:
                found.append(user)
    return found
