"""``garrison lab``: look at (and seed) the simulated fleet."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from actions.lab import LabFleet
from flows.demo import DEMO_HOST, reset_demo
from flows.models import defang, defang_text
from flows.settings import get_settings
from flows.store import Store

from ._output import console, emit_json, fail, shown

app = typer.Typer(
    help="The lab fleet: simulated hosts whose state the lab actions change.", no_args_is_help=True
)


def _fleet() -> LabFleet:
    return LabFleet(Store.open(get_settings().database_url).engine)


@app.command("show")
def show_host(
    hostname: Annotated[str, typer.Argument(help="Hostname (case-insensitive).")],
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's host.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show a lab host: isolation, registry values, services, scheduled tasks, connections."""
    hosts = _fleet().show(tenant, hostname)
    if not hosts:
        fail(f"no lab host named {hostname}" + (f" in tenant {tenant}" if tenant else ""))
    if as_json:
        emit_json(hosts[0] if len(hosts) == 1 else hosts)
        return
    for host in hosts:
        _print_host(host)


@app.command("seed-demo")
def seed_demo(
    tenant: Annotated[str, typer.Option(help="Tenant to seed the host into.")] = "demo",
) -> None:
    """Put the MyKings demo host (Run-key persistence, C2 connections) back into the lab fleet, and close
    the earlier demo incidents on it that wait for an analyst (the reset ends them)."""
    store = Store.open(get_settings().database_url)
    for closed in reset_demo(store, tenant):
        console.print(shown(f"closed earlier demo incident {closed[:8]}: the lab host was reset"))
    host = LabFleet(store.engine).show(tenant, DEMO_HOST)[0]
    console.print(shown(f"seeded {DEMO_HOST} ({host['device_id']}) for tenant {tenant}"))


def _print_host(host: dict[str, Any]) -> None:
    state = (
        Text("ISOLATED", style="bold green") if host["isolated"] else Text("on the network", style="yellow")
    )
    console.print(
        Text.assemble(shown(host["hostname"], "bold"), shown(f"  tenant {host['tenant']}  "), state)
    )
    values = Table("key", "name", "data", "written", title="Registry values")
    for value in host["registry_values"]:
        values.add_row(
            shown(value["key"]),
            shown(value["name"]),
            shown(defang_text(value["data"])),
            shown(value["written_at"] or "-"),
        )
    console.print(values)
    if host["services"]:
        services = Table("name", "binary", "start", title="Services")
        for service in host["services"]:
            services.add_row(
                shown(service["name"]), shown(service["binary_path"]), shown(service["start_type"])
            )
        console.print(services)
    if host["scheduled_tasks"]:
        tasks = Table("name", "command", "enabled", title="Scheduled tasks")
        for item in host["scheduled_tasks"]:
            tasks.add_row(shown(item["name"]), shown(item["command"]), str(item["enabled"]))
        console.print(tasks)
    connections = Table("remote", "port", "process", "blocked", title="Connections")
    for conn in host["connections"]:
        connections.add_row(
            shown(defang(conn["remote"])), shown(conn["port"]), shown(conn["process"]), str(conn["blocked"])
        )
    console.print(connections)
