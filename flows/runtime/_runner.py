"""Serve Garrison's deployments from this process (run by ``garrison up`` as a child process)."""

from __future__ import annotations

from prefect import serve
from prefect.deployments.runner import EntrypointType

from flows.respond import respond

RESPOND_CONCURRENCY = 4


def serve_deployments() -> None:
    """Block, executing flow runs of the ``respond`` deployment as Prefect schedules them."""
    deployment = respond.to_deployment(
        name="respond",
        description="Respond to one incident (one run per incident, started by the intake).",
        tags=["garrison"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    serve(deployment, limit=RESPOND_CONCURRENCY, print_starting_message=False)
