"""Registry value data as Garrison keeps it (``undo``) and as the fixed script ``garrison_registry_value``
carries it (``-DataBase64``), one codec for both ways so that what a delete captures is what a restore
writes back, byte for byte.

In ``undo`` the data is kept as the Defender adapter keeps it: REG_SZ and REG_EXPAND_SZ the text (never
expanded), REG_MULTI_SZ a list of strings, REG_DWORD and REG_QWORD a number (``"0x1a"`` is accepted too),
REG_BINARY base64. On the wire it is base64 of the text in UTF-8; of the strings joined by NUL (which no
string of a REG_MULTI_SZ can hold, so an empty list and a list of one empty string are one value here); of
the number in decimal; of the bytes. Base64 holds no quote, backtick or control character, so no data can
end an argument: any data restores.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY")
RegistryType = Literal["REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY"]
RegistryData = str | int | list[str]
# 64 KiB of base64 on the command line, as much as a task's XML may take.
MAX_BYTES = 48 * 1024
_BITS = {"REG_DWORD": 32, "REG_QWORD": 64}


def to_wire(kind: str, data: RegistryData) -> str:
    """The ``-DataBase64`` argument that writes ``data`` as a value of type ``kind``; ValueError when the
    data does not fit the type."""
    raw = _raw(kind, data)
    if len(raw) > MAX_BYTES:
        raise ValueError(f"{kind} data is {len(raw)} bytes, more than the {MAX_BYTES} a restore carries")
    return base64.b64encode(raw).decode("ascii")


def from_wire(kind: str, wire: str) -> RegistryData:
    """The data as ``undo`` keeps it, from what the script read; a type restore cannot write (REG_NONE, …)
    keeps its bytes in base64. ValueError when the script's text cannot be that type's data."""
    try:
        raw = base64.b64decode(wire, validate=True)
        if kind in ("REG_SZ", "REG_EXPAND_SZ"):
            return raw.decode("utf-8")
        if kind == "REG_MULTI_SZ":
            text = raw.decode("utf-8")
            return text.split("\0") if text else []
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{kind} data is not base64 of UTF-8 ({error})") from None
    if kind in _BITS:
        digits = raw.decode("ascii", "replace")
        if not digits.isdigit() or not digits.isascii():
            raise ValueError(f"{kind} data {digits[:40]!r} is not a decimal number")
        return int(digits)
    return base64.b64encode(raw).decode("ascii")


def number(kind: str, data: str | int) -> int:
    """A REG_DWORD or REG_QWORD's number (26, or text like ``"0x1a"``) within the type's range."""
    try:
        value = data if isinstance(data, int) else int(data.strip(), 0)
    except ValueError:
        raise ValueError(f"{kind} data must be a number (0x1 or 1), not {str(data)[:40]!r}") from None
    if isinstance(value, bool) or not 0 <= value < 2 ** _BITS[kind]:
        raise ValueError(f"{kind} data {str(data)[:40]!r} is not a number in 0 .. 2**{_BITS[kind]}-1")
    return value


def _raw(kind: str, data: RegistryData) -> bytes:
    if kind not in TYPES:
        raise ValueError(f"type {kind} cannot be written back; restore writes {', '.join(TYPES)}")
    if kind == "REG_MULTI_SZ":
        if not isinstance(data, list):
            raise ValueError("REG_MULTI_SZ data must be a list of strings")
        if any("\0" in item for item in data):
            raise ValueError("a string of a REG_MULTI_SZ cannot hold a NUL character")
        return _utf8(kind, "\0".join(data))
    if isinstance(data, list):
        raise ValueError(f"{kind} data must be a single value, not a list")
    if kind in _BITS:
        return str(number(kind, data)).encode("ascii")
    if not isinstance(data, str):
        raise ValueError(f"{kind} data must be a string, not a number")
    if kind == "REG_BINARY":
        try:
            return base64.b64decode(data, validate=True)
        except binascii.Error:
            raise ValueError(f"REG_BINARY data must be base64, not {data[:40]!r}") from None
    return _utf8(kind, data)


def _utf8(kind: str, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{kind} data holds a lone surrogate, which the registry cannot store") from None
