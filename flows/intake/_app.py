"""The intake API. Every /v1 route but health needs a tenant's credentials (decisions: an analyst's key); what
is acknowledged is stored.

POST /v1/alerts          one alert (OCSF, Suricata EVE, Wazuh, Elastic, or mapped generic JSON)
POST /v1/alerts:batch    NDJSON, one alert per line, per-line results
POST /v1/events          NDJSON OCSF activity telemetry (context for triage)
GET|POST /v1/decisions/T an analyst decides a waiting incident from an escalation's link
GET  /v1/incidents/{id}  the tenant's own incident
GET  /metrics            response figures for Prometheus (operator-only: loopback or GARRISON_METRICS_ALLOW)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import ClientDisconnect

from flows.normalize import Format
from flows.respond import walk_escalations
from flows.settings import Settings, get_settings
from flows.store import Replay, Store
from flows.tenants import TenantConfigError, tenants_from

from ._auth import AuthError, Caller, Unverified, check_headers
from ._decision_routes import add_decision_routes
from ._dispatch import Dispatcher, PrefectDispatcher
from ._prometheus import CONTENT_TYPE, collector_from_env, exposition, may_scrape
from ._service import BatchReport, Intake, Rejection, parse_json, split_lines

_log = logging.getLogger("garrison.intake")
SWEEP_INTERVAL_SECONDS = 5.0
# /docs, /redoc and /openapi.json map the API for anyone who asks: served only when a developer sets this.
API_DOCS_ENV = "GARRISON_API_DOCS"
_JSON_TYPES = ("application/json",)
_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/json-lines")


class _Refused(Exception):
    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors


def _problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(status_code=status, content=body)


def create_app(
    settings: Settings | None = None,
    dispatcher: Dispatcher | None = None,
    sweep: bool = True,
    api_docs: bool | None = None,
) -> FastAPI:
    """The intake app. ``api_docs`` serves /docs, /redoc and /openapi.json (default: ``GARRISON_API_DOCS=1``,
    for development only)."""
    settings = settings or get_settings()
    store = Store.open(settings.database_url)
    intake = Intake(store)
    dispatch = dispatcher or PrefectDispatcher(store)
    secrets_dir = settings.secrets_dir
    docs = _docs_enabled() if api_docs is None else api_docs

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = (
            asyncio.create_task(_sweeper(dispatch, settings))
            if sweep and isinstance(dispatch, PrefectDispatcher)
            else None
        )
        yield
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="Garrison intake",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )

    async def admit(
        request: Request, kinds: tuple[str, ...] | None, limit: int, need_body: bool = True
    ) -> tuple[Caller, bytes]:
        """The caller and the body, in the order that costs a stranger least: the headers first (an API key
        settles it there), then the content type and declared size, then the body, read no further than
        ``limit``, and last the signature over it. Nothing here is kept: the sender is not known yet."""
        try:
            tenants = tenants_from(settings.tenants_file)
        except TenantConfigError as error:
            _log.error("tenant configuration is broken: %s", error)
            raise _Refused(503, "tenant configuration is unavailable; nothing was stored") from None
        try:
            checked = check_headers(request.headers, tenants, secrets_dir)
        except AuthError as error:
            raise _Refused(error.status, error.detail) from None
        if kinds is not None:
            _check_content_type(request.headers.get("content-type", ""), kinds)
        if isinstance(checked, Caller) and not need_body:
            return checked, b""
        body = await _read_within(request, limit)
        if isinstance(checked, Unverified):
            try:
                return checked.verify(request.method, _target(request), body), body
            except AuthError as error:
                raise _Refused(error.status, error.detail) from None
        return checked, body

    async def remember(caller: Caller) -> None:
        # A signed request is accepted once, whatever is answered (Replay if it was seen before).
        if caller.signature is not None:
            await run_in_threadpool(intake.remember, caller.tenant.id, caller.signature)

    async def refuse(
        request: Request, caller: Caller, error: _Refused, body: bytes, seen: bool = False
    ) -> JSONResponse:
        # ``seen``: the signature was already remembered along with the request's lines.
        if not seen:
            try:
                await remember(caller)
            except Replay as replay:
                return _problem(401, str(replay))
        # Only authenticated senders get their rejects kept for operators.
        await run_in_threadpool(
            store.dead_letter,
            endpoint=request.url.path,
            status=error.status,
            reason=error.detail,
            body=body,
            tenant=caller.tenant.id,
        )
        return _problem(error.status, error.detail, error.errors)

    def fmt_of(request: Request) -> tuple[Format, str | None]:
        raw = request.query_params.get("format", "auto")
        try:
            fmt = Format(raw)
        except ValueError:
            raise _Refused(400, f"format: must be one of {', '.join(f.value for f in Format)}") from None
        return fmt, request.query_params.get("source")

    @app.get("/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    async def receive(
        request: Request,
        kinds: tuple[str, ...],
        limit: int,
        work: Callable[[Caller, bytes], Awaitable[JSONResponse]],
    ) -> JSONResponse:
        """Admit the request, then answer what ``work`` makes of it. A refusal before the caller is known
        is only answered; one after is kept for operators (``refuse``)."""
        try:
            caller, body = await admit(request, kinds, limit)
        except _Refused as error:
            return _problem(error.status, error.detail)
        try:
            return await work(caller, body)
        except Replay as error:
            return _problem(401, str(error))
        except _Refused as error:
            return await refuse(request, caller, error, body)
        except SQLAlchemyError as error:
            return _unstored(request, error)

    @app.post("/v1/alerts", status_code=202)
    async def post_alert(request: Request, background: BackgroundTasks) -> JSONResponse:
        async def accept(caller: Caller, body: bytes) -> JSONResponse:
            fmt, source = fmt_of(request)
            try:
                document = parse_json(body)
            except ValueError as error:
                raise _Refused(400, str(error), [{"field": "(body)", "message": str(error)}]) from None
            report = await run_in_threadpool(
                intake.accept, caller.tenant, [(1, document)], fmt, source, caller.signature
            )
            if report.rejected:
                rejection = report.rejected[0]
                refusal = _Refused(
                    rejection.status,
                    f"{rejection.field}: {rejection.message}",
                    [{"field": rejection.field, "message": rejection.message}],
                )
                return await refuse(request, caller, refusal, body, seen=True)
            [(_, accepted)] = report.accepted
            _dispatch_later(background, dispatch, report)
            return JSONResponse(
                status_code=200 if accepted.duplicate else 202,
                content={
                    "incident_id": accepted.incident_id,
                    "alert_id": accepted.alert_id,
                    "status": accepted.outcome.value,
                    "duplicate": accepted.duplicate,
                    "incident_url": f"/v1/incidents/{accepted.incident_id}",
                },
            )

        return await receive(request, _JSON_TYPES, settings.max_alert_bytes, accept)

    @app.post("/v1/alerts:batch")
    async def post_alert_batch(request: Request, background: BackgroundTasks) -> JSONResponse:
        async def accept(caller: Caller, body: bytes) -> JSONResponse:
            fmt, source = fmt_of(request)
            documents, unreadable = _ndjson(body)
            report = await run_in_threadpool(
                intake.accept, caller.tenant, documents, fmt, source, caller.signature
            )
            report.rejected.extend(unreadable)
            await _dead_letter_lines(store, request, caller, report, body)
            _dispatch_later(background, dispatch, report)
            status = 422 if report.rejected and not report.accepted else 200
            return JSONResponse(status_code=status, content={**report.counts(), "results": report.results()})

        return await receive(request, _NDJSON_TYPES, settings.max_batch_bytes, accept)

    @app.post("/v1/events")
    async def post_events(request: Request) -> JSONResponse:
        async def store_events(caller: Caller, body: bytes) -> JSONResponse:
            documents, unreadable = _ndjson(body)
            report = await run_in_threadpool(intake.accept_events, caller.tenant, documents, caller.signature)
            report.rejected.extend(unreadable)
            await _dead_letter_lines(store, request, caller, report, body)
            status = 422 if report.rejected and not report.events_stored else 200
            rejected = sorted((r.as_dict() for r in report.rejected), key=lambda row: row["line"])
            return JSONResponse(
                status_code=status, content={"stored": report.events_stored, "rejected": rejected}
            )

        return await receive(request, _NDJSON_TYPES, settings.max_batch_bytes, store_events)

    async def admit_bodiless(request: Request) -> Caller | JSONResponse:
        """The caller of a route without a body (its body is read only for a signature, and no further than
        an alert may be), or the refusal to send back."""
        try:
            caller, _ = await admit(request, None, settings.max_alert_bytes, need_body=False)
            await remember(caller)
        except _Refused as error:
            return _problem(error.status, error.detail)
        except Replay as error:
            return _problem(401, str(error))
        return caller

    @app.get("/v1/incidents/{incident_id}")
    async def get_incident(incident_id: str, request: Request) -> JSONResponse:
        caller = await admit_bodiless(request)
        if isinstance(caller, JSONResponse):
            return caller
        view = await run_in_threadpool(store.incident, incident_id)
        if view is None or view.tenant != caller.tenant.id:  # another tenant's incident does not exist
            return _problem(404, f"no incident {incident_id}")
        return JSONResponse(content=view.model_dump(mode="json"))

    add_decision_routes(app, settings, store)  # before the catch-all below: routes match in order
    figures, scrapers = collector_from_env(store)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        # Every tenant's figures: the operator's, never a tenant's (no API key opens this, only the network).
        if not may_scrape(request.client.host if request.client else None, scrapers):
            return _problem(
                403,
                "metrics are for the operator: scrape from loopback or a network in GARRISON_METRICS_ALLOW",
            )
        return Response(await run_in_threadpool(exposition, figures), media_type=CONTENT_TYPE)

    @app.api_route(
        "/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    async def unknown(rest: str, request: Request) -> JSONResponse:
        # Authenticate before saying "not found": no path (e.g. /v1/x/health) is a way around auth.
        caller = await admit_bodiless(request)
        if isinstance(caller, JSONResponse):
            return caller
        return _problem(404, f"no such endpoint /v1/{rest}")

    return app


def _unstored(request: Request, error: SQLAlchemyError) -> JSONResponse:
    # The transaction that would have held this request did not commit (the store is unwell: disk full,
    # I/O error, locked past its timeout): nothing was acknowledged, so the sender keeps it and retries;
    # alerts stored before are then answered as duplicates. Its group-mates (``Store.ingest``) hear the same.
    _log.error("%s: the store failed (%s: %s)", request.url.path, type(error).__name__, error)
    return JSONResponse(
        status_code=503,
        headers={"Retry-After": "1"},
        content={
            "detail": f"the store could not commit this request ({type(error).__name__}): "
            "nothing in it was acknowledged; send it again"
        },
    )


def _docs_enabled() -> bool:
    return os.environ.get(API_DOCS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _check_content_type(header: str, kinds: tuple[str, ...]) -> None:
    media, _, parameters = header.partition(";")
    media = media.strip().lower()
    if media not in kinds and not (kinds is _JSON_TYPES and media.endswith("+json")):
        raise _Refused(415, f"Content-Type: send {kinds[0]}")
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise _Refused(415, "Content-Type: charset must be utf-8 (the only encoding read)")


async def _read_within(request: Request, limit: int) -> bytes:
    # A declared size over the limit is refused before a byte is read; a chunked body, or one that lies
    # about its size, is read only until it passes the limit.
    declared = request.headers.get("content-length")
    if declared is not None:
        digits = declared.strip()
        if not (digits.isascii() and digits.isdigit()):
            raise _Refused(400, "Content-Length: must be a number of bytes")
        if len(digits) > 18 or int(digits) > limit:
            raise _Refused(413, f"body is larger than {limit} bytes")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _Refused(413, f"body is larger than {limit} bytes")
    except ClientDisconnect:
        raise _Refused(400, "the request body ended early") from None
    return bytes(body)


def _target(request: Request) -> bytes:
    # What a signature covers: the path and query exactly as sent (percent-encoding kept).
    path = request.scope.get("raw_path") or request.scope["path"].encode()
    query = request.scope.get("query_string", b"")
    return bytes(path) + b"?" + bytes(query) if query else bytes(path)


def _ndjson(body: bytes) -> tuple[list[tuple[int, Any]], list[Rejection]]:
    documents, unreadable = [], []
    for line, raw in split_lines(body):
        try:
            documents.append((line, parse_json(raw, what="line")))
        except ValueError as error:
            unreadable.append(Rejection(line, "(line)", str(error), status=400))
    if not documents and not unreadable:
        raise _Refused(400, "empty body: send one JSON document per line")
    return documents, unreadable


async def _dead_letter_lines(
    store: Store, request: Request, caller: Caller, report: BatchReport, body: bytes
) -> None:
    if not report.rejected:
        return
    lines = body.split(b"\n")
    for rejection in report.rejected[:100]:  # a bad batch must not flood the table
        await run_in_threadpool(
            store.dead_letter,
            endpoint=request.url.path,
            status=rejection.status,
            reason=f"line {rejection.line}: {rejection.field}: {rejection.message}",
            body=lines[rejection.line - 1] if rejection.line - 1 < len(lines) else b"",
            tenant=caller.tenant.id,
        )


def _dispatch_later(background: BackgroundTasks, dispatch: Dispatcher, report: BatchReport) -> None:
    for incident_id in report.new_incidents:
        background.add_task(dispatch.dispatch, incident_id)


async def _sweeper(dispatcher: PrefectDispatcher, settings: Settings) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
        try:
            await dispatcher.sweep(older_than_seconds=SWEEP_INTERVAL_SECONDS)
        except Exception as error:  # noqa: BLE001 - keep sweeping; the store may be briefly locked
            _log.warning("dispatch sweep failed: %s", error)
        try:  # who is called while an incident waits for a decision (sends messages: off the loop)
            tenants = tenants_from(settings.tenants_file)
            for line in await asyncio.to_thread(walk_escalations, dispatcher.store, tenants):
                _log.info("escalation %s", line)
        except Exception as error:  # noqa: BLE001 - keep sweeping
            _log.warning("escalation walk failed: %s", error)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory flows.intake:app_from_env``."""
    app = create_app()
    # What is loaded by now (FastAPI, SQLAlchemy, pydantic, the tenants: ~250,000 objects) lives as long
    # as the process: out of the collector's way, a full collection no longer stops every request for
    # up to half a second under load (p99 of 16 concurrent senders: about 200 ms → 100 ms).
    gc.freeze()
    return app
