"""Evidence that clears an alert: what lets an analyst call it benign rather than merely unproven.

Benign is earned (DESIGN §8): known-good intel, traffic everybody has (``_network``), signed system binaries
to everyday destinations (``_classify``), and here: the same command from the same signed program run
routinely long before the alert, and an alert that rests only on an intel listing too old to trust.
Neither clears attacker behaviour: a risky finding (a download cradle, Office starting PowerShell, a
ransomware name) is never explained away by routine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from flows.models import Alert
from flows.normalize import text

from ._alert_evidence import name_of, processes_in
from ._findings import HOW_LONG, PREVALENCE, Answers, Finding
from ._host import USER_WRITABLE

ROUTINE_DAYS = 7  # distinct days the same command ran before the alert for it to be routine
ROUTINE_HOSTS = 3  # …on this many hosts: one host's daily habit could be the intruder's own task
_INSTALLED = re.compile(r"^[a-z]:\\(program files( \(x86\))?|windows\\(system32|syswow64|ccm))\\", re.I)


def clearing_answers(answers: Answers, alerts: Sequence[Alert], launches: Sequence[dict[str, Any]]) -> None:
    """``launches``: the process launches of the alerted processes' parent programs across the tenant."""
    if any(f.risky for f in answers.findings):
        return
    _routine(answers, alerts, launches)
    _stale_listing_only(answers)


def _command_key(command: str) -> str:
    return " ".join(command.replace('"', " ").lower().split())


def _routine(answers: Answers, alerts: Sequence[Alert], launches: Sequence[dict[str, Any]]) -> None:
    detected = min((datetime.fromtimestamp(a.time / 1000, UTC) for a in alerts if a.time), default=None)
    if detected is None:
        return
    for alert in alerts:
        for process in processes_in(alert):
            if not process.command or (process.parent_path and USER_WRITABLE.search(process.parent_path)):
                continue
            wanted = _command_key(process.command)
            days: set[str] = set()
            hosts: set[str] = set()
            parents: set[str] = set()
            for row in launches:
                if row["class_uid"] != 1007 or row["time"] >= detected - timedelta(hours=1):
                    continue
                document = row["document"]
                if _command_key(text(document, "process.cmd_line") or "") != wanted:
                    continue
                parent = text(document, "process.parent_process.file.path", "actor.process.file.path") or ""
                if USER_WRITABLE.search(parent) or (
                    process.parent_name and name_of(parent) != process.parent_name
                ):
                    continue
                days.add(row["time"].date().isoformat())
                hosts.add((row.get("hostname") or "").lower())
                parents.add(name_of(parent))
            if len(days) >= ROUTINE_DAYS and len(hosts) >= ROUTINE_HOSTS:
                parent_name = sorted(parents)[0] if parents else process.parent_name or "?"
                answers.add(
                    Finding(
                        PREVALENCE,
                        f"the same command, started by {parent_name}, ran on {len(days)} days on "
                        f"{len(hosts)} host(s) before this alert: routine, not new",
                        -40,
                        clears=True,
                        code="routine",
                        params={"days": len(days), "hosts": len(hosts), "parent": parent_name},
                    )
                )
                return


def _stale_listing_only(answers: Answers) -> None:
    intel = answers.features.get("intel") or {}
    if not intel.get("stale") or intel.get("listed"):
        return
    # Prevalence aside (one host visiting one address says little), nothing on the host may point at it.
    if any(f.host_evidence and f.effect > 0 and f.question != PREVALENCE for f in answers.findings):
        return
    talkers = (answers.features.get("process") or {}).get("talkers") or []
    if not talkers or not all(_INSTALLED.match(path) for path in talkers):
        return
    names = ", ".join(sorted({name_of(p) for p in talkers})[:3])
    answers.add(
        Finding(
            HOW_LONG,
            f"nothing but that stale listing points at it, and installed programs ({names}) make the "
            "connections",
            -20,
            clears=True,
            code="stale_only",
            params={"names": names},
        )
    )
