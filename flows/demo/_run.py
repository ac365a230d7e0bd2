"""Run the MyKings demo against a running Garrison: seed the lab host, send the alert, wait, check."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from actions.lab import LabFleet
from flows.settings import Settings
from flows.store import IncidentView, Store

from . import DEMO_HOST, DEMO_TENANT, mykings_alert, mykings_host

FINAL_STATUSES = ("closed", "contained")


@dataclass
class DemoReport:
    incident: IncidentView | None
    host: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)
    ui_url: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": self.problems,
            "ui_url": self.ui_url,
            "incident": self.incident.model_dump(mode="json") if self.incident else None,
            "host": self.host,
        }


def run_demo(
    settings: Settings, timeout_seconds: float = 90.0, on_status: Callable[[str], None] = lambda _: None
) -> DemoReport:
    store = Store.open(settings.database_url)
    fleet = LabFleet(store.engine)
    fleet.seed(mykings_host(DEMO_TENANT))
    on_status(f"seeded lab host {DEMO_HOST}")

    alert = mykings_alert()
    # A fresh sender id per run: re-running the demo makes a new incident instead of a duplicate.
    alert["finding_info"]["uid"] = f"mykings-demo-{uuid.uuid4().hex[:12]}"
    response = httpx.post(f"{settings.api_url}/v1/alerts", json=alert, timeout=30.0)
    if response.status_code != 202:
        return DemoReport(None, None, [f"intake answered {response.status_code}: {response.text[:200]}"])
    incident_id = response.json()["incident_id"]
    on_status(f"alert accepted: incident {incident_id}")

    deadline = time.monotonic() + timeout_seconds
    view = store.incident(incident_id)
    last_status = ""
    while view is not None and view.status not in FINAL_STATUSES and time.monotonic() < deadline:
        if view.status != last_status:
            on_status(f"incident {view.status}")
            last_status = view.status
        time.sleep(0.5)
        view = store.incident(incident_id)
    flow_state = None
    if view is not None and view.flow_run_id:
        on_status("waiting for the flow run to finish")
        flow_state = _wait_flow_run(settings, view.flow_run_id, deadline)
        view = store.incident(incident_id)
    hosts = fleet.show(DEMO_TENANT, DEMO_HOST)
    report = DemoReport(incident=view, host=hosts[0] if hosts else None)
    if view and view.flow_run_id:
        report.ui_url = f"{settings.prefect_ui_url}/runs/flow-run/{view.flow_run_id}"
    report.problems = _check(view, report.host)
    if flow_state != "COMPLETED":
        report.problems.append(f"the respond flow run is {flow_state or 'unknown'}, not COMPLETED")
    return report


def _wait_flow_run(settings: Settings, flow_run_id: str, deadline: float) -> str | None:
    """The flow run's final state type, read from the Prefect API (None if it never finished)."""
    state = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{settings.prefect_api_url}/flow_runs/{flow_run_id}", timeout=5.0)
            state = (response.json().get("state") or {}).get("type") if response.is_success else None
        except httpx.HTTPError:
            state = None
        if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return state
        time.sleep(0.5)
    return state


def _check(view: IncidentView | None, host: dict[str, Any] | None) -> list[str]:
    if view is None:
        return ["the incident disappeared"]
    problems = []
    if view.status not in FINAL_STATUSES:
        problems.append(
            f"incident is still {view.status} (is the runner up? see the logs under GARRISON_HOME/logs)"
        )
    if not view.actions:
        problems.append("no action ran")
    problems += [
        f"{a.key} on {a.target} {a.status}: {a.detail}" for a in view.actions if a.status != "succeeded"
    ]
    if not any(n.status == "delivered" for n in view.notifications):
        problems.append("no notification was delivered")
    if host is None:
        problems.append("the lab host is gone")
    else:
        if not host["isolated"]:
            problems.append("the lab host is not isolated")
        left = [v["name"] for v in host["registry_values"] if v["name"] in ("start", "start1")]
        if left:
            problems.append(f"Run-key values still present: {', '.join(left)}")
    return problems
