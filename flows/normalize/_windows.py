"""Windows event values as sensors forward them: Sysmon ``Hashes``, registry targets, Defender paths, and
Wazuh's doubled backslashes. Shared by the Wazuh normalizer and generic (Sysmon) mappings."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

# OCSF fingerprint algorithm ids (objects/fingerprint.json): 1 MD5, 2 SHA-1, 3 SHA-256.
_ALGORITHMS = {"MD5": (1, "MD5"), "SHA1": (2, "SHA-1"), "SHA256": (3, "SHA-256")}
_HEX_LENGTHS = {32: "MD5", 40: "SHA1", 64: "SHA256"}
_NATIVE_ROOTS = (("\\REGISTRY\\MACHINE", "HKLM"), ("\\REGISTRY\\USER", "HKU"))
_HIVES = ("HKLM", "HKU", "HKCU", "HKCR", "HKCC", "HKEY_")
# An escaped backslash or quote, as Wazuh writes them.
_ESCAPE = re.compile(r'\\[\\"]')
# Defender writes "file:_C:\dir\x.exe", "behavior:_process: C:\dir\x.exe, pid:…", "containerfile:_…".
_WINDOWS_PATH = re.compile(r"[A-Za-z]:\\[^,;|\"<>\r\n]+")


def undoubled(value: Any) -> Any:
    r"""A string with Wazuh's escaping undone: ``C:\\Windows`` becomes ``C:\Windows``, ``\"`` a quote.

    Wazuh's eventchannel decoder escapes ``win.eventdata`` values: every backslash doubled, every quote
    preceded by one. A value is taken as escaped only when every backslash in it starts such a pair, so a
    path that was never escaped (``C:\Windows``, ``\\server\share``) is left as it is.
    """
    if not isinstance(value, str) or "\\" not in value or "\\" in _ESCAPE.sub("", value):
        return value
    return _ESCAPE.sub(lambda pair: pair.group()[1], value)


def file_hashes(value: Any) -> list[dict[str, Any]]:
    """OCSF fingerprints from Sysmon's ``Hashes`` (``MD5=…,SHA256=…,IMPHASH=…``) or one bare hex digest.

    IMPHASH and other digests that are not file hashes are left out.
    """
    if not isinstance(value, str) or not value.strip():
        return []
    found: list[dict[str, Any]] = []
    for part in value.replace(";", ",").split(",")[:8]:
        name, sep, digest = part.strip().partition("=")
        if not sep:
            name, digest = _HEX_LENGTHS.get(len(name), ""), name
        name = name.strip().upper().replace("-", "")
        digest = digest.strip().lower()
        if name in _ALGORITHMS and len(digest) in _HEX_LENGTHS and _is_hex(digest):
            algorithm_id, caption = _ALGORITHMS[name]
            found.append({"algorithm_id": algorithm_id, "algorithm": caption, "value": digest})
    return found


def registry_value(target: Any, data: Any = None) -> dict[str, Any] | None:
    """An OCSF ``reg_value`` (key path, value name, data) from a full registry path such as Sysmon's
    ``TargetObject`` (``HKLM\\...\\Run\\start``); None when ``target`` is not a registry path."""
    if not isinstance(target, str):
        return None
    for native, hive in _NATIVE_ROOTS:  # the kernel's names, as older Sysmon versions log them
        if target.upper().startswith(native):
            target = hive + target[len(native) :]
    if not target.upper().startswith(_HIVES) or "\\" not in target:
        return None
    key, _, name = target.rpartition("\\")
    found = {"path": key, "name": name, "data": data if isinstance(data, str) and data else None}
    return {k: v for k, v in found.items() if v is not None}


# Accounts that name no person: the logon of the system itself, or nobody ("-").
_BUILTIN_ACCOUNTS = {"system", "local service", "network service", "anonymous logon", "-", ""}


def account(name: Any, domain: Any) -> str | None:
    r"""``DOMAIN\name`` of a logon's target account, or None for built-in and machine (``…$``) accounts,
    which name no person an analyst could disable."""
    if not isinstance(name, str) or name.strip().casefold() in _BUILTIN_ACCOUNTS or name.endswith("$"):
        return None
    if (
        isinstance(domain, str)
        and domain.strip() not in ("", "-", ".")
        and domain.casefold() != "nt authority"
    ):
        return f"{domain}\\{name}"
    return name


def event_ip(value: Any) -> str | None:
    """An address as Windows logs it (``IpAddress`` of 4624/4625/4768): ``-`` is none, and an IPv4 address
    written IPv4-mapped (``::ffff:192.0.2.7``, as Kerberos events do) is the IPv4 address — else the same
    attacker would be two indicators, and the IPv6 form is never on a blocklist."""
    if not isinstance(value, str) or value.strip() in ("", "-"):
        return None
    try:
        address = ipaddress.ip_address(value.strip().split("%")[0])
    except ValueError:
        return value.strip()
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def windows_path(value: Any) -> str | None:
    """The first Windows path in a value such as Defender's ``Path`` field, trimmed."""
    if not isinstance(value, str):
        return None
    match = _WINDOWS_PATH.search(value)
    return match.group().strip() if match else None


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdef" for char in text)
