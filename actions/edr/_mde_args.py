"""Alert text on its way into a live response script: validated, then quoted, or refused before any call.

A library script gets its values in one ``Args`` string (``-Key 'HKEY_LOCAL_MACHINE\\…' -Name 'evil'``). Each
value is a PowerShell single-quoted string with its quotes doubled, so nothing in it is ever parsed as code;
on top of that, anything a value has no business containing is refused outright: control characters and
line breaks, backticks, ``$(``, ``;``, the typographic quotes PowerShell also reads as quotes, and ``..``
path segments. What cannot be constrained that way (registry data, task XML) travels base64-encoded.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from .._errors import PermanentError

# Live response passes Args on a command line (Windows caps one at 32,767 characters).
MAX_ARGS = 30_000

_REFUSED: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]"), "a control character or line break"),
    (re.compile(r"`"), "a backtick"),
    (re.compile(r"\$\("), "'$('"),
    (re.compile(r";"), "a semicolon"),
    # PowerShell ends a single-quoted string at any of these, not only at the ASCII quote.
    (re.compile(r"[\u2018\u2019\u201a\u201b]"), "a typographic single quote"),
]
_HIVES = {
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKEY_LOCAL_MACHINE": "HKEY_LOCAL_MACHINE",
    "HKU": "HKEY_USERS",
    "HKEY_USERS": "HKEY_USERS",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKEY_CLASSES_ROOT": "HKEY_CLASSES_ROOT",
    "HKCC": "HKEY_CURRENT_CONFIG",
    "HKEY_CURRENT_CONFIG": "HKEY_CURRENT_CONFIG",
}
_NOT_IN_NAMES = re.compile(r'[*?"<>|]')
_SERVICE = re.compile(r"^[A-Za-z0-9_.+@#{}$ -]{1,256}$")
_IMAGE = re.compile(r'^[^\\/:*?"<>|]{1,260}$')


def safe(value: str) -> str:
    """``value`` unchanged, or ValueError naming the first thing in it that may not reach a script."""
    for pattern, what in _REFUSED:
        if pattern.search(value):
            raise ValueError(f"contains {what}: refused before any call to a live response script")
    if any(segment == ".." for segment in re.split(r"[\\/]", value)):
        raise ValueError("has a '..' path segment: refused before any call to a live response script")
    return value


def _registry_key(value: str) -> str:
    hive, _, rest = safe(value.strip()).partition("\\")
    full = _HIVES.get(hive.upper())
    if hive.upper() in ("HKCU", "HKEY_CURRENT_USER"):
        # Live response runs as SYSTEM: HKCU there is SYSTEM's own hive, never the user's the alert meant.
        raise ValueError(r"HKCU would be the SYSTEM account's hive under live response: give HKU\<SID>\…")
    if full is None:
        raise ValueError(f"starts with {hive[:40]!r}, not a registry hive (HKLM, HKU, HKCR, HKCC)")
    segments = rest.split("\\")
    if not rest or any(not s for s in segments) or _NOT_IN_NAMES.search(rest):
        raise ValueError(r"must be a full key path (HKLM\SOFTWARE\…) without empty parts or wildcards")
    return f"{full}\\{rest}"


def _task(value: str) -> str:
    name = safe(value.strip())
    name = name if name.startswith("\\") else f"\\{name}"
    if name.endswith("\\") or "\\\\" in name or _NOT_IN_NAMES.search(name) or ":" in name:
        raise ValueError(r"must be a task path and name (\Folder\Task) without wildcards or ':'")
    return name


def _service(value: str) -> str:
    if not _SERVICE.match(safe(value)):
        raise ValueError("must be a service name: letters, digits, space and _ . + @ # { } $ - only")
    return value


def _image(value: str) -> str:
    if not _IMAGE.match(safe(value.strip())):
        raise ValueError("must be an image file name (no path, no wildcards)")
    return value.strip()


def _sha1(value: str) -> str:
    digest = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{40}", digest):
        raise ValueError("not a SHA-1 (40 hexadecimal digits)")
    return digest


Text = Annotated[str, AfterValidator(safe)]
RegistryKey = Annotated[str, StringConstraints(min_length=1, max_length=1024), AfterValidator(_registry_key)]
RegistryName = Annotated[str, StringConstraints(min_length=1, max_length=1024), AfterValidator(safe)]
TaskName = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(_task)]
ServiceName = Annotated[str, AfterValidator(_service)]
ImageName = Annotated[str, StringConstraints(min_length=1, max_length=260), AfterValidator(_image)]
FilePath = Annotated[str, StringConstraints(min_length=1, max_length=1024), AfterValidator(safe)]
Sha1 = Annotated[str, StringConstraints(max_length=64), AfterValidator(_sha1)]


def quote(value: str) -> str:
    """One PowerShell single-quoted literal: ``it's`` → ``'it''s'``."""
    return "'" + safe(value).replace("'", "''") + "'"


def encoded(value: Any) -> str:
    """Data that cannot be constrained (registry data, task XML) as base64 of its JSON: inert in any shell."""
    return base64.b64encode(json.dumps(value, ensure_ascii=False).encode("utf-8")).decode("ascii")


def script_args(params: Sequence[tuple[str, str | int | bool]]) -> str:
    """The ``Args`` of one RunScript: ``-Name 'value'`` per parameter, every value quoted.

    >>> script_args([("Mode", "read"), ("Name", "it's")])
    "-Mode 'read' -Name 'it''s'"
    """
    parts = []
    for name, value in params:
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name):
            raise ValueError(f"not a script parameter name: {name!r}")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        try:
            parts.append(f"-{name} {quote(text)}")
        except ValueError as error:
            raise PermanentError(f"script argument -{name} {error}") from None
    args = " ".join(parts)
    if len(args) > MAX_ARGS:
        raise PermanentError(f"live response arguments are {len(args)} characters, over {MAX_ARGS}")
    return args
