"""A foreign CACAO step's commands as a Garrison step: OpenC2 commands (``openc2-http``, or an ``http-api``
body) as capabilities, ``manual`` ones as an escalation; any other command is refused."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .._load import PlaybookError
from ._openc2 import capability_of
from ._schemas import validate_cacao


def foreign_step(step: dict[str, Any], step_id: str) -> dict[str, Any]:
    capabilities: list[str] = []
    manual: list[str] = []
    for n, command in enumerate(step["commands"]):
        where = f"CACAO step {step_id}: commands[{n}]"
        kind = command.get("type")
        if kind == "manual":
            _type_checked(command, "manual", where)
            manual.append(_text(command))
        elif kind in ("openc2-http", "openc2"):  # SOARCA's examples write "openc2"
            _type_checked({**command, "type": "openc2-http"}, "openc2-http", where)
            capabilities.append(capability_of(_body(command, where), where))
        elif kind == "http-api":
            _type_checked(command, "http-api", where)
            body = _body(command, where, required=False)
            if not (isinstance(body, dict) and ("action" in body or "body" in body)):
                raise PlaybookError(
                    f"{where}: command: http-api {str(command.get('command', ''))[:60]!r} calls an HTTP API "
                    "Garrison has no capability for (http-api maps only when its body is an OpenC2 command)"
                )
            capabilities.append(capability_of(body, where))
        else:
            raise PlaybookError(
                f"{where}: type: {str(kind)[:40]!r} commands cannot be mapped: Garrison runs no scripts or "
                "queries, only capabilities (openc2-http) and manual steps"
            )
    if manual and capabilities:
        raise PlaybookError(
            f"CACAO step {step_id}: commands: mixes manual and automated commands; split it into a manual "
            "step (an escalation) and an automated one"
        )
    if manual:
        reason = "; ".join(text for text in manual if text) or str(step.get("name") or "a person must act")
        return {"kind": "escalate", "reason": reason}
    return {"kind": "act", "capabilities": list(dict.fromkeys(capabilities))}


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
