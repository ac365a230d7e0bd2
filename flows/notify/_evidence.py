"""What the alerts' evidence shows, for the report: the infection chain and the earliest evidence time.

Everything here reads attacker-influenced data and only sorts it into steps; the values stay raw and are
made inert (``inert``) when the report context is built. Nothing is fetched, resolved or executed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flows.models import Alert, refang

STAGES = ("entry", "execution", "download", "persistence", "network")

# Signed Windows programs attackers use to fetch and run code (DESIGN §2: LOLBins on the network).
LOLBINS = {
    "regsvr32.exe", "mshta.exe", "rundll32.exe", "msiexec.exe", "powershell.exe", "pwsh.exe",
    "certutil.exe", "bitsadmin.exe", "wmic.exe", "cscript.exe", "wscript.exe", "installutil.exe",
    "regasm.exe", "regsvcs.exe", "msbuild.exe",
}  # fmt: skip
_USER_WRITABLE = re.compile(r"\\(appdata|temp|downloads|users\\public|programdata)\\", re.I)
_AUTORUN = re.compile(
    r"\\currentversion\\(run|runonce|policies\\explorer\\run)$|\\msconfig\\startupreg$|\\winlogon$", re.I
)
# Words in titles and types that name how an intruder got in.
_ENTRY_WORDS = [
    (re.compile(r"eternalblue|ms17-010|smb exploit", re.I), "exploit_smb"),
    (re.compile(r"phish", re.I), "phishing"),
    (re.compile(r"brute.?force|password spray", re.I), "bruteforce"),
]


@dataclass(frozen=True)
class ChainStep:
    """One step of the infection chain: ``kind`` names its phrase (``chain.<kind>``); ``params`` fill it."""

    stage: str
    kind: str
    params: dict[str, str] = field(default_factory=dict)


def infection_chain(alerts: Iterable[Alert]) -> list[ChainStep]:
    """The steps the evidence shows, in the order an infection runs: entry, execution, download,
    persistence, network. Duplicates (the same URL in two evidences) appear once."""
    steps: list[ChainStep] = []
    urls_seen: set[str] = set()
    for alert in alerts:
        text = " ".join([alert.finding_info.title, *alert.finding_info.types, alert.finding_info.desc or ""])
        steps.extend(ChainStep("entry", kind) for pattern, kind in _ENTRY_WORDS if pattern.search(text))
        for evidence in alert.evidences:
            steps.extend(_evidence_steps(evidence, urls_seen))
    unique: dict[tuple[str, str, tuple[tuple[str, str], ...]], ChainStep] = {}
    for step in steps:
        unique.setdefault((step.stage, step.kind, tuple(sorted(step.params.items()))), step)
    return sorted(unique.values(), key=lambda step: STAGES.index(step.stage))


def _evidence_steps(evidence: dict[str, Any], urls_seen: set[str]) -> list[ChainStep]:
    steps: list[ChainStep] = []
    process = _dict(evidence.get("process"))
    name = _process_name(process)
    url = _str(_dict(evidence.get("url")).get("url_string"))
    if name:
        command = _str(process.get("cmd_line"))
        steps.append(
            ChainStep("execution", "process_cmd" if command else "process", dict(process=name, cmd=command))
        )
        parent = _dict(process.get("parent_process"))
        parent_path = _str(_dict(parent.get("file")).get("path"))
        if _process_name(parent):
            steps.append(ChainStep("execution", "parent", dict(process=name, parent=_process_name(parent))))
        if parent_path and _USER_WRITABLE.search(parent_path):
            steps.append(ChainStep("execution", "user_path", dict(path=parent_path)))
        if name.lower() in LOLBINS:
            steps.append(ChainStep("execution", "lolbin", dict(process=name)))
    if url:
        urls_seen.add(refang(url).lower())
        kind = "fetched" if name else "url"
        steps.append(ChainStep("download", kind, dict(process=name, url=url)))
    file = _dict(evidence.get("file"))
    path = _str(file.get("path")) or _str(file.get("name"))
    if path:
        steps.append(
            ChainStep("entry" if path.lower().endswith(".lnk") else "download", "file", dict(path=path))
        )
    value = _dict(evidence.get("reg_value"))
    if _str(value.get("path")) and _str(value.get("name")):
        kind = "autorun" if _AUTORUN.search(_str(value.get("path")).rstrip("\\")) else "registry"
        data = _str(value.get("data"))
        kind += "" if data else "_plain"
        steps.append(ChainStep("persistence", kind, dict(key=value["path"], name=value["name"], data=data)))
    job = _dict(evidence.get("job"))
    if _str(job.get("name")):
        command = _str(job.get("cmd_line")) or _str(_dict(job.get("file")).get("path"))
        steps.append(
            ChainStep("persistence", "task" if command else "task_plain", dict(name=job["name"], cmd=command))
        )
    service = _dict(evidence.get("win_service") or evidence.get("service"))
    if _str(service.get("name")):
        command = _str(service.get("cmd_line")) or _str(_dict(service.get("file")).get("path"))
        steps.append(
            ChainStep(
                "persistence",
                "service" if command else "service_plain",
                dict(name=service["name"], cmd=command),
            )
        )
    endpoint = _dict(evidence.get("dst_endpoint"))
    destination = _str(endpoint.get("hostname")) or _str(endpoint.get("domain")) or _str(endpoint.get("ip"))
    if destination and not any(destination.lower() in seen for seen in urls_seen):
        port = str(endpoint.get("port") or "")
        steps.append(
            ChainStep(
                "network", "connection_port" if port else "connection", dict(host=destination, port=port)
            )
        )
    query = _str(_dict(evidence.get("query")).get("hostname"))
    if query:
        steps.append(ChainStep("network", "dns", dict(host=query)))
    return steps


# OCSF time fields on evidence objects (epoch milliseconds, or ISO 8601 in the *_dt variants).
_TIME_FIELDS = ("modified_time", "created_time", "time", "first_seen_time")
_EARLIEST_PLAUSIBLE = datetime(1995, 1, 1, tzinfo=UTC)


def first_evidence(alerts: Iterable[Alert], latest: datetime | None = None) -> datetime | None:
    """The earliest time the evidence itself carries (a Run value written, a file created, a process
    started), or None. Implausible times (before 1995, in the future) are ignored: they are data."""
    ceiling = latest or datetime.now(UTC)
    found: list[datetime] = []
    for alert in alerts:
        info = alert.finding_info.model_extra or {}
        found.extend(_times(info))
        for evidence in alert.evidences:
            for holder in _time_holders(evidence):
                found.extend(_times(holder))
    plausible = [moment for moment in found if _EARLIEST_PLAUSIBLE <= moment <= ceiling]
    return min(plausible) if plausible else None


def _time_holders(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    process = _dict(evidence.get("process"))
    return [
        evidence,
        _dict(evidence.get("reg_value")),
        _dict(evidence.get("file")),
        process,
        _dict(process.get("file")),
        _dict(evidence.get("job")),
        _dict(evidence.get("win_service") or evidence.get("service")),
    ]


def _times(holder: dict[str, Any]) -> list[datetime]:
    moments = []
    for name in _TIME_FIELDS:
        value = holder.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e14:
            moments.append(datetime.fromtimestamp(value / 1000, UTC))
        text = holder.get(f"{name}_dt")
        if isinstance(text, str):
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                continue
            moments.append(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return moments


def _process_name(process: dict[str, Any]) -> str:
    name = _str(process.get("name")) or _str(_dict(process.get("file")).get("name"))
    if not name:
        name = re.split(r"[\\/]", _str(_dict(process.get("file")).get("path")))[-1]
    return name


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value.strip()[:1024] if isinstance(value, str) else ""
