"""What the Falcon RTR actions accept: every name that reaches a command line is checked against a strict
pattern before any call, and what a fixed script receives is quoted for PowerShell in one place.

All of it comes from alerts, so all of it is hostile: an RTR command line is split by the sensor on spaces
and double quotes, a ``runscript -CommandLine`` is parsed by PowerShell, and triple backticks open a raw
string for RTR itself. So a value that reaches either is refused when it holds a control character, a
double quote (plain or typographic), a backtick, ``$(``, ``;`` or a ``.``/``..`` path segment, and every
argument of a fixed script is passed single-quoted with its quotes doubled (``ps_quote``). Registry data,
which may hold any of these, only ever travels base64-encoded (``_rtr_regdata``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .._vendor import Hostname
from ._rtr_regdata import RegistryData, RegistryType, to_wire

# PowerShell ends a single-quoted string at any of these (the ASCII one and three typographic ones).
_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_ALWAYS_REFUSED = ('"', "\u201c", "\u201d", "\u201e", "`", "$(", ";")
_TASK_SEGMENT = re.compile(r"^[A-Za-z0-9 _.\-{}()#]{1,238}$")
_SERVICE = re.compile(r"^[A-Za-z0-9_.\- ]{1,256}$")
_REG_PART = re.compile(r"^[A-Za-z0-9 _.\-{}()#@+,~!=\[\]]{1,255}$")
_DRIVE_PATH = re.compile(r"^[A-Za-z]:\\")
_FILE_FORBIDDEN = re.compile(r'[<>:"|?*]')
# RTR runs as SYSTEM: HKCU there is SYSTEM's own hive, never the user's whose Run key an alert names.
_HIVES = {"HKLM": "HKLM", "HKEY_LOCAL_MACHINE": "HKLM", "HKU": "HKU", "HKEY_USERS": "HKU"}


def ps_quote(value: str) -> str:
    """One single-quoted PowerShell argument: nothing inside it is expanded, its quotes are doubled.

    >>> ps_quote("C:\\\\Users\\\\O'Brien\\\\a.exe")
    "'C:\\\\Users\\\\O''Brien\\\\a.exe'"
    """
    return "'" + "".join(c + c if c in _PS_SINGLE_QUOTES else c for c in value) + "'"


def _plain(value: str) -> str:
    """Refuse what could end a quoted argument or start a second command, whatever the pattern allows."""
    for bad in _ALWAYS_REFUSED:
        if bad in value:
            raise ValueError(f"contains {bad!r}, which never reaches an RTR command line")
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise ValueError(f"contains the control character U+{ord(char):04X}")
    return value


def _segments(parts: list[str], what: str) -> None:
    if any(part in (".", "..") for part in parts):
        raise ValueError(f"{what} has a '.' or '..' segment")
    if any(part == "" for part in parts):
        raise ValueError(f"{what} has an empty segment (doubled or trailing backslash)")


def task_path(value: str) -> str:
    """``\\Folder\\Name`` (a bare name is in the root folder, as schtasks has it)."""
    path = _plain(value if value.startswith("\\") else "\\" + value)
    parts = path[1:].split("\\")
    _segments(parts, "task path")
    bad = next((p for p in parts if not _TASK_SEGMENT.match(p)), None)
    if bad is not None:
        raise ValueError(f"task path segment {bad!r} is not letters, digits, space or _ . - {{ }} ( ) #")
    return path


def service_name(value: str) -> str:
    if not _SERVICE.match(_plain(value)):
        raise ValueError("service name must match ^[A-Za-z0-9_.\\- ]{1,256}$")
    return value


def registry_key(value: str) -> str:
    """``HKLM\\…`` or ``HKU\\<SID>\\…`` (long hive names are shortened); HKCU is refused."""
    hive, _, rest = _plain(value).partition("\\")
    if hive.upper() in ("HKCU", "HKEY_CURRENT_USER"):
        raise ValueError("HKCU under RTR is the SYSTEM account's hive: name the user's as HKU\\<SID>\\...")
    short = _HIVES.get(hive.upper())
    if short is None:
        raise ValueError(f"hive {hive!r} is not HKLM or HKU")
    parts = rest.split("\\")
    _segments(parts, "registry key")
    bad = next((p for p in parts if not _REG_PART.match(p)), None)
    if bad is not None:
        raise ValueError(f"registry key segment {bad!r} has characters an RTR command line cannot carry")
    return f"{short}\\{rest}"


def registry_name(value: str) -> str:
    if not _REG_PART.match(_plain(value)):
        raise ValueError("registry value name has characters an RTR command line cannot carry")
    return value


def file_path(value: str) -> str:
    """A local absolute path (``C:\\…``): no UNC, device or relative path, no ``..``."""
    path = _plain(value)
    if not _DRIVE_PATH.match(path):
        raise ValueError("must be a local absolute path like C:\\dir\\file (no UNC, device or relative path)")
    parts = path[3:].split("\\")
    _segments(parts, "file path")
    if _FILE_FORBIDDEN.search(path[2:]):
        raise ValueError('file path has one of < > : " | ? *')
    return path


TaskPath = Annotated[str, AfterValidator(task_path)]
ServiceName = Annotated[str, AfterValidator(service_name)]
RegistryKey = Annotated[str, AfterValidator(registry_key)]
RegistryName = Annotated[str, AfterValidator(registry_name)]
FilePath = Annotated[str, AfterValidator(file_path)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: Hostname = Field(description="Host as the incident names it; must match exactly one device.")


class RegistryValueInput(_Input):
    key: RegistryKey = Field(max_length=1024, description=r"Key path, e.g. HKLM\SOFTWARE\...\Run.")
    name: RegistryName = Field(max_length=255, description="Value name under the key.")


class RestoreRegistryValueInput(RegistryValueInput):
    type: RegistryType = Field(default="REG_SZ", description="Value type captured at deletion.")
    data: RegistryData = Field(
        default="",
        description="Value data captured at deletion: text; a list of strings for REG_MULTI_SZ; a number "
        "for REG_DWORD/REG_QWORD; base64 for REG_BINARY.",
    )

    @model_validator(mode="after")
    def _fits_type(self) -> RestoreRegistryValueInput:
        to_wire(self.type, self.data)
        return self

    @property
    def wire(self) -> str:
        """The data as ``garrison_registry_value`` takes it (``-DataBase64``)."""
        return to_wire(self.type, self.data)


class ServiceInput(_Input):
    name: ServiceName = Field(description="Service name (not the display name).")


class EnableServiceInput(ServiceInput):
    start_type: Literal["auto", "manual"] = Field(
        default="auto", description="Start type to restore (captured when the service was disabled)."
    )


class TaskInput(_Input):
    name: TaskPath = Field(max_length=512, description=r"Task path and name, e.g. \Microsoft\Updater.")


class RestoreTaskInput(TaskInput):
    xml: str = Field(
        min_length=1, max_length=65536, description="The task's XML definition (captured at deletion)."
    )


class ProcessInput(_Input):
    pid: int = Field(ge=1, le=2**32 - 1, description="Process id.")
    name: str = Field(
        min_length=1, max_length=260, description="Image name the pid must still have (guards pid reuse)."
    )


class FileInput(_Input):
    path: FilePath = Field(max_length=1024, description=r"Full local path of the file, e.g. C:\x\a.exe.")
    sha1: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{40}$", description="The file's SHA-1 if known (not needed here)."
    )


class RestoreFileInput(FileInput):
    sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", description="Hash captured at quarantine; must match."
    )
