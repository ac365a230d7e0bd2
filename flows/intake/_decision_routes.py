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
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flows.respond import approve, current_action_hash
from flows.settings import Settings
from flows.store import (
    ApprovalRefused,
    IncidentStatus,
    IncidentView,
    Store,
    TokenClaims,
    TokenError,
    consume_token,
    decision_key,
    read_token,
)
from flows.tenants import tenants_from

from ._decisions import DecisionError, apply_decision, check_analyst, start_approved

MAX_DECISION_BYTES = 16_384
HOW = (
    "POST this URL with the headers X-Garrison-Analyst: NAME and Authorization: Bearer <your analyst key> "
    'and a JSON body {"verdict": "malicious" | "benign" | "escalate", "comment": "why"}'
)


HOW_APPROVE = (
    "POST this URL with the headers X-Garrison-Analyst: NAME and Authorization: Bearer <your analyst key> "
    'and a JSON body {"approve": true, "comment": "why"}: you must be one of the tenant\'s approvers'
)


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: str = Field(pattern=r"^(malicious|benign|escalate)$")
    comment: str = Field(default="", max_length=2000)


class ApprovalBody(BaseModel):
    """An approval link's POST says so explicitly: ``{"approve": true}``."""

    model_config = ConfigDict(extra="forbid")

    approve: Literal[True]
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
        approval = claims.kind == "approval"
        return JSONResponse(
            content={
                "incident_id": view.id,
                "tenant": view.tenant,
                "title": view.title,
                "status": view.status,
                "round": claims.round,
                "current_round": view.round,
                "kind": claims.kind,
                "decides": {"approve": claims.action, "target": claims.target}
                if approval
                else ["malicious", "benign", "escalate"],
                "usable": usable,
                "expires_at": datetime.fromtimestamp(claims.expires, UTC).isoformat(timespec="seconds"),
                "how": HOW_APPROVE if approval else HOW,
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
            document = json.loads(body or b"null")
            if claims.kind == "approval":
                return await _approve(settings, store, claims, analyst, ApprovalBody.model_validate(document))
            decision = DecisionBody.model_validate(document)
        except (ValueError, ValidationError) as error:
            return _problem(422, _first_error(error))
        return await _decide(settings, store, claims, analyst, decision)


async def _incident_of(store: Store, claims: TokenClaims) -> IncidentView | JSONResponse:
    """The incident the link is for, in the round it was made for; else the answer that says why not."""
    view = await run_in_threadpool(store.incident, claims.incident_id)
    if view is None or view.tenant != claims.tenant:
        return _problem(404, "the incident of this link does not exist")
    if view.round != claims.round:
        return _problem(
            409,
            f"the incident moved on to response round {view.round}: this link was for round {claims.round}",
        )
    return view


async def _decide(
    settings: Settings, store: Store, claims: TokenClaims, analyst: str, decision: DecisionBody
) -> JSONResponse:
    view = await _incident_of(store, claims)
    if isinstance(view, JSONResponse):
        return view
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


async def _approve(
    settings: Settings, store: Store, claims: TokenClaims, analyst: str, body: ApprovalBody
) -> JSONResponse:
    """Record one approval of the exact action the link was made for; the last one starts the round
    whose run does it (as ``garrison approve`` does)."""
    view = await _incident_of(store, claims)
    if isinstance(view, JSONResponse):
        return view
    tenant = tenants_from(settings.tenants_file).get(claims.tenant)
    if tenant is None:
        return _problem(404, "the tenant of this link is not configured any more")
    try:
        now = await run_in_threadpool(current_action_hash, store, view, claims.action, claims.target)
    except (KeyError, ApprovalRefused) as error:
        return _problem(409, f"the action of this link is not the incident's any more: {error}")
    if now != claims.action_hash:
        return _problem(409, "the action changed since this link was made: nothing was approved")
    try:
        await run_in_threadpool(consume_token, store.engine, claims, analyst)
        status, spec, target = await run_in_threadpool(
            approve, store, tenant, view, claims.action, claims.target, analyst
        )
    except TokenError as error:
        return _problem(error.status, error.detail)
    except ApprovalRefused as error:
        return _problem(409, str(error))
    said, run_id = "", ""
    if status.ready:
        said, run_id = await run_in_threadpool(
            start_approved, settings, store, view.id, status.approval.action_hash, target.label, analyst
        )
    return JSONResponse(
        content={
            "incident_id": view.id,
            "action": spec.key,
            "target": target.label,
            "approver": analyst,
            "approvals": status.have,
            "required": status.required,
            "said": said,
            "flow_run_id": run_id,
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
