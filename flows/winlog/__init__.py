"""Windows event telemetry in its native shapes (``.evtx`` files, ``evtx_dump`` JSON, Winlogbeat and Wazuh
documents) as the OCSF activity events Garrison stores, by one mapping table (``MAPPING.md``).

>>> event = read_windows({"Event": {"System": {
...     "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1,
...     "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1",
...     "TimeCreated": {"#attributes": {"SystemTime": "2026-05-01T10:00:00Z"}}},
...     "EventData": {"Image": "C:\\\\Windows\\\\System32\\\\cmd.exe", "CommandLine": "cmd /c whoami"}}})
>>> document = to_ocsf(event)
>>> document["class_uid"], document["process"]["cmd_line"]
(1007, 'cmd /c whoami')
>>> sigma_view(document).fields["CommandLine"]
'cmd /c whoami'
"""

from typing import Any

from ._document import mapping_markdown
from ._hosts import host_key, same_host
from ._mapping import TABLE, Mapping, known_events, mapping_for, source_of
from ._ocsf import SigmaView, sigma_view, to_ocsf
from ._read import EventFile, Unreadable
from ._shapes import WindowsEvent, WindowsEventError, read_windows, shape_of


def windows_to_ocsf(document: Any) -> dict[str, Any] | None:
    """The OCSF event for a Windows-shaped document; None if it is not one; WindowsEventError if it is one
    Garrison cannot read or does not map."""
    event = read_windows(document)
    return to_ocsf(event) if event is not None else None


__all__ = [
    "TABLE",
    "EventFile",
    "Mapping",
    "SigmaView",
    "Unreadable",
    "WindowsEvent",
    "WindowsEventError",
    "host_key",
    "known_events",
    "mapping_for",
    "mapping_markdown",
    "read_windows",
    "same_host",
    "shape_of",
    "sigma_view",
    "source_of",
    "to_ocsf",
    "windows_to_ocsf",
]
