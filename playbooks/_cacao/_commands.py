"""A foreign CACAO step's commands as a Garrison step: OpenC2 commands (``openc2-http``, or an ``http-api``
body) as capabilities, ``manual`` ones as an escalation; any other command is refused — or, asked to
(``by_hand``), becomes an analyst's step that shows it: Garrison never runs a foreign script or call."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from actions import Capability

from .._load import PlaybookError
from ._openc2 import capability_of
from ._schemas import validate_cacao


def foreign_step(step: dict[str, Any], step_id: str, *, by_hand: bool = False) -> dict[str, Any]:
    capabilities: list[str] = []
    manual: list[str] = []
    for n, command in enumerate(step["commands"]):
        where = f"CACAO step {step_id}: commands[{n}]"
        try:
            found = _mapped(command, where)
        except PlaybookError:
            if not by_hand or command.get("type") == "manual":
                raise
            found = f"by hand ({str(command.get('type'))[:40]}): {_shown(command)}"
        if found in _CAPABILITY_NAMES:
            capabilities.append(found)
        else:
            manual.append(found)
    if manual and capabilities:
        if not by_hand:
            raise PlaybookError(
                f"CACAO step {step_id}: commands: mixes manual and automated commands; split it into a "
                "manual step (an escalation) and an automated one"
            )
        manual += [f"then {capability}" for capability in capabilities]
    if manual:
        reason = "; ".join(text for text in manual if text) or str(step.get("name") or "a person must act")
        return {"kind": "escalate", "reason": reason[:2000]}
    return {"kind": "act", "capabilities": list(dict.fromkeys(capabilities))}


def _mapped(command: dict[str, Any], where: str) -> str:
    """The capability an automated command maps to, or a manual command's text."""
    kind = command.get("type")
    if kind == "manual":
        _type_checked(command, "manual", where)
        return _text(command)
    if kind in ("openc2-http", "openc2"):  # SOARCA's examples write "openc2"
        _type_checked({**command, "type": "openc2-http"}, "openc2-http", where)
        return capability_of(_body(command, where), where)
    if kind == "http-api":
        _type_checked(command, "http-api", where)
        body = _body(command, where, required=False)
        if not (isinstance(body, dict) and ("action" in body or "body" in body)):
            raise PlaybookError(
                f"{where}: command: http-api {str(command.get('command', ''))[:60]!r} calls an HTTP API "
                "Garrison has no capability for (http-api maps only when its body is an OpenC2 command)"
            )
        return capability_of(body, where)
    raise PlaybookError(
        f"{where}: type: {str(kind)[:40]!r} commands cannot be mapped: Garrison runs no scripts or "
        "queries, only capabilities (openc2-http) and manual steps"
    )


def _shown(command: dict[str, Any]) -> str:
    """What a person is asked to do instead: the command's text, one line, bounded."""
    text = _text(command) or str(command.get("description") or "")
    return " ".join(text.split())[:300] or "(no command text)"


_CAPABILITY_NAMES = frozenset(c.value for c in Capability)


def _type_checked(command: dict[str, Any], schema: str, where: str) -> None:
    try:
        validate_cacao(command, f"commands/{schema}.json")
    except PlaybookError as error:
        raise PlaybookError(f"{where}: {str(error).removeprefix('CACAO schema: ')}") from None


def _text(command: dict[str, Any]) -> str:
    if "command" in command:
        return str(command["command"])
    try:
        return base64.b64decode(command.get("command_b64", ""), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _body(command: dict[str, Any], where: str, *, required: bool = True) -> Any:
    if "content" in command:
        raw = str(command["content"])
    elif "content_b64" in command:
        try:
            raw = base64.b64decode(command["content_b64"], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise PlaybookError(f"{where}: content_b64: not base64 text") from None
    elif required:
        raise PlaybookError(f"{where}: content_b64: missing (the OpenC2 command)")
    else:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        if required:
            raise PlaybookError(f"{where}: content_b64: not JSON (an OpenC2 command is)") from None
        return None
