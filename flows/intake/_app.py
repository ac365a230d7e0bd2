"""The intake API: ``POST /v1/alerts`` stores an alert, opens its incident and starts its playbook."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from flows.models import Alert
from flows.settings import Settings, get_settings
from flows.store import Store
from flows.tenants import TenantConfigError, tenants_from

from ._dispatch import Dispatcher, PrefectDispatcher

_log = logging.getLogger("garrison.intake")
SWEEP_INTERVAL_SECONDS = 5.0


def _problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(status_code=status, content=body)


def _field_errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in item["loc"]) or "(body)", "message": item["msg"]}
        for item in error.errors(include_url=False, include_input=False)
    ]


def create_app(
    settings: Settings | None = None, dispatcher: Dispatcher | None = None, sweep: bool = True
) -> FastAPI:
    settings = settings or get_settings()
    store = Store.open(settings.database_url)
    dispatch = dispatcher or PrefectDispatcher(store)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = (
            asyncio.create_task(_sweeper(dispatch))
            if sweep and isinstance(dispatch, PrefectDispatcher)
            else None
        )
        yield
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(title="Garrison intake", version="0.1.0", lifespan=lifespan)

    @app.get("/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/alerts", status_code=202)
    async def post_alert(request: Request, background: BackgroundTasks) -> JSONResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            return _problem(415, "send the alert as JSON with 'Content-Type: application/json'")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_alert_bytes:
            return _problem(413, f"alert is larger than {settings.max_alert_bytes} bytes")
        raw = await request.body()
        if len(raw) > settings.max_alert_bytes:
            return _problem(413, f"alert is larger than {settings.max_alert_bytes} bytes")
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return _problem(400, f"body is not valid JSON: {error}")
        if not isinstance(document, dict):
            return _problem(
                422, "body: an alert must be a JSON object", [{"field": "(body)", "message": "not an object"}]
            )
        try:
            alert = Alert.model_validate(document)
        except ValidationError as error:
            errors = _field_errors(error)
            return _problem(422, f"{errors[0]['field']}: {errors[0]['message']}", errors)
        try:
            tenants = tenants_from(settings.tenants_file)
        except TenantConfigError as error:
            _log.error("tenant configuration is broken: %s", error)
            return _problem(503, "tenant configuration is unavailable; the alert was not stored")
        if alert.tenant not in tenants:
            return _problem(
                422,
                f"metadata.tenant_uid: unknown tenant {alert.tenant!r}",
                [{"field": "metadata.tenant_uid", "message": "unknown tenant"}],
            )
        receipt = await run_in_threadpool(store.record_alert, alert, document)
        body = {
            "incident_id": receipt.incident_id,
            "alert_id": receipt.alert_id,
            "duplicate": receipt.duplicate,
            "incident_url": f"/v1/incidents/{receipt.incident_id}",
        }
        if receipt.duplicate:
            return JSONResponse(status_code=200, content=body)
        background.add_task(dispatch.dispatch, receipt.incident_id)
        return JSONResponse(status_code=202, content=body)

    @app.get("/v1/incidents/{incident_id}")
    async def get_incident(incident_id: str) -> JSONResponse:
        view = await run_in_threadpool(store.incident, incident_id)
        if view is None:
            return _problem(404, f"no incident {incident_id}")
        return JSONResponse(content=view.model_dump(mode="json"))

    return app


async def _sweeper(dispatcher: PrefectDispatcher) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
        try:
            await dispatcher.sweep(older_than_seconds=SWEEP_INTERVAL_SECONDS)
        except Exception as error:  # noqa: BLE001 - keep sweeping; the store may be briefly locked
            _log.warning("dispatch sweep failed: %s", error)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory flows.intake:app_from_env``."""
    return create_app()
