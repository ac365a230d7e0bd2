"""``GET|POST /v1/decisions/{token}``: an analyst decides a waiting incident from the link in an escalation.

The token (``flows.store`` decision tokens) says what may be decided — tenant, incident, response round —
and until when; the analyst proves who they are with their key (``X-Garrison-Analyst: NAME`` and
``Authorization: Bearer KEY``). A GET only shows what the link would decide: mail scanners and chat
previews open links, and opening one must never decide anything. A POST decides once: a replay, a link for
an earlier round or a forged token is refused, and nothing of the request is trusted before both checks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flows.settings import Settings
from flows.store import (
    IncidentStatus,
    Store,
    TokenClaims,
    TokenError,
    consume_token,
    decision_key,
    read_token,
)

from ._decisions import DecisionError, apply_decision, check_analyst

MAX_DECISION_BYTES = 16_384
HOW = (
    "POST this URL with the headers X-Garrison-Analyst: NAME and Authorization: Bearer <your analyst key> "
    'and a JSON body {"verdict": "malicious" | "benign" | "escalate", "comment": "why"}'
)


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: str = Field(pattern=r"^(malicious|benign|escalate)$")
    comment: str = Field(default="", max_length=2000)


def add_decision_routes(app: FastAPI, settings: Settings, store: Store) -> None:
    key = decision_key(settings.secrets_dir)

    @app.get("/v1/decisions/{token}")
    async def show_decision(token: str) -> JSONResponse:
        try:
            claims = read_token(key, token)
        except TokenError as error:
            return _problem(error.status, error.detail)
        view = await run_in_threadpool(store.incident, claims.incident_id)
        if view is None or view.tenant != claims.tenant:
            return _problem(404, "the incident of this link does not exist")
        usable = view.round == claims.round and view.status == IncidentStatus.AWAITING_APPROVAL
        return JSONResponse(
            content={
                "incident_id": view.id,
                "tenant": view.tenant,
                "title": view.title,
                "status": view.status,
                "round": claims.round,
                "current_round": view.round,
                "decides": ["malicious", "benign", "escalate"],
                "usable": usable,
                "expires_at": datetime.fromtimestamp(claims.expires, UTC).isoformat(timespec="seconds"),
                "how": HOW,
            }
        )

    @app.post("/v1/decisions/{token}")
    async def take_decision(token: str, request: Request) -> JSONResponse:
        try:
            claims = read_token(key, token)
        except TokenError as error:
            return _problem(error.status, error.detail)
        analyst = request.headers.get("x-garrison-analyst", "")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given or not analyst:
            return _problem(401, "say who decides: X-Garrison-Analyst: NAME and Authorization: Bearer KEY")
        try:
            await run_in_threadpool(check_analyst, settings, analyst, given)
        except DecisionError as error:
            return _problem(error.status, str(error))
        body = await _bounded_body(request)
        if body is None:
            return _problem(413, f"a decision is at most {MAX_DECISION_BYTES} bytes")
        try:
            decision = DecisionBody.model_validate(json.loads(body or b"null"))
        except (ValueError, ValidationError) as error:
            return _problem(422, _first_error(error))
        return await _decide(settings, store, claims, analyst, decision)


async def _decide(
    settings: Settings, store: Store, claims: TokenClaims, analyst: str, decision: DecisionBody
) -> JSONResponse:
    view = await run_in_threadpool(store.incident, claims.incident_id)
    if view is None or view.tenant != claims.tenant:
        return _problem(404, "the incident of this link does not exist")
    if view.round != claims.round:
        return _problem(
            409,
            f"the incident moved on to response round {view.round}: this link was for round {claims.round}",
        )
    if claims.kind != "verdict":
        return _problem(409, "this link decides an approval, not a verdict")
    try:
        await run_in_threadpool(consume_token, store.engine, claims, analyst)
        applied = await run_in_threadpool(
            apply_decision, settings, store, view, decision.verdict, analyst, decision.comment
        )
    except TokenError as error:
        return _problem(error.status, error.detail)
    except DecisionError as error:
        return _problem(error.status, str(error))
    return JSONResponse(
        content={
            "incident_id": view.id,
            "verdict": decision.verdict,
            "analyst": analyst,
            "said": applied.said,
            "flow_run_id": applied.flow_run_id,
            "url": applied.url,
        }
    )


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None when it is longer than a decision can be (read no further than that)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_DECISION_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _first_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return f"{where}: {first['msg']}"
    return "the body is not JSON"


def _problem(status: int, detail: str) -> JSONResponse:
    content: dict[str, Any] = {"detail": detail}
    return JSONResponse(status_code=status, content=content)
