"""Start one ``respond`` flow run per new incident, on the served deployment.

The alert and its incident are committed before anything here runs, so a failed trigger loses nothing:
the sweeper finds incidents without a flow run and tries again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from prefect.client.orchestration import get_client
from prefect.settings import get_current_settings

from flows.store import Store

DEPLOYMENT = "respond/respond"
_log = logging.getLogger("garrison.dispatch")


class Dispatcher(Protocol):
    async def dispatch(self, incident_id: str) -> str | None:
        """Start the incident's flow run; return its id, or None when it could not be started."""
        ...


class PrefectDispatcher:
    """Creates flow runs of the ``respond/respond`` deployment through the Prefect API."""

    def __init__(self, store: Store, deployment: str = DEPLOYMENT) -> None:
        self.store = store
        self.deployment = deployment
        self._in_flight: set[str] = set()
        self._deployment_id: str | None = None

    async def dispatch(self, incident_id: str) -> str | None:
        if not get_current_settings().api.url:
            # Without a Prefect server (garrison ingest offline, tests) the client would start a throwaway
            # one per call; the incident stays 'new' and the runtime's sweeper starts it later.
            _log.debug("no Prefect API configured: incident %s waits for the sweeper", incident_id)
            return None
        if incident_id in self._in_flight:
            return None
        self._in_flight.add(incident_id)
        try:
            async with get_client() as client:
                if self._deployment_id is None:
                    deployment = await client.read_deployment_by_name(self.deployment)
                    self._deployment_id = str(deployment.id)
                run = await client.create_flow_run_from_deployment(
                    self._deployment_id,
                    parameters={"request": {"incident_id": incident_id}},
                    tags=["garrison", "respond"],
                )
            await asyncio.to_thread(self.store.set_flow_run, incident_id, str(run.id))
            return str(run.id)
        except Exception as error:  # noqa: BLE001 - the sweeper retries; the alert is already stored
            _log.warning("could not start a respond run for incident %s: %s", incident_id, error)
            self._deployment_id = None
            return None
        finally:
            self._in_flight.discard(incident_id)

    async def sweep(self, older_than_seconds: float = 10.0) -> int:
        """Dispatch stored incidents that never got a flow run; returns how many were started."""
        pending = await asyncio.to_thread(self.store.undispatched, older_than_seconds)
        started = 0
        for incident_id in pending:
            if await self.dispatch(incident_id):
                started += 1
        return started
