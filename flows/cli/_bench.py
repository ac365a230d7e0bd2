"""``garrison bench``: measured figures, each beside a baseline from the same run."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from flows.bench import run_intake_benchmark, run_respond_benchmark, run_triage_benchmark

from ._output import console, emit_json, err_console

app = typer.Typer(help="Benchmarks (figures, not pass/fail).", no_args_is_help=True)


@app.command("intake")
def bench_intake(
    single: Annotated[int, typer.Option(min=10, help="Alerts sent one request each.")] = 500,
    batch: Annotated[int, typer.Option(min=100, help="Alerts sent in NDJSON batches.")] = 20_000,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Alerts per batch request.")] = 1_000,
    storm: Annotated[
        int, typer.Option(min=1, help="Similar alerts that should become one incident.")
    ] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Alerts/s accepted durably through the HTTP intake (single and batched), p50/p99 latency, storm
    collapse, and a raw SQLite-insert baseline of the same documents with the ratio."""
    with err_console.status("benchmarking the intake …", spinner="dots") as status:
        result = run_intake_benchmark(single, batch, batch_size, storm, say=lambda line: status.update(line))
    if as_json:
        emit_json(result.as_dict())
        return
    table = Table("measure", "value", title="Intake benchmark (SQLite, this machine)")
    table.add_row("single alerts/s (one HTTP request each)", f"{result.single_per_second:,.0f}")
    table.add_row(
        "single latency p50 / p99", f"{result.single_p50_ms:.1f} ms / {result.single_p99_ms:.1f} ms"
    )
    table.add_row(f"batched alerts/s ({result.batch_size} per request)", f"{result.batch_per_second:,.0f}")
    table.add_row("baseline: raw SQLite inserts/s", f"{result.baseline_per_second:,.0f}")
    table.add_row("batched ÷ baseline", f"{result.batch_vs_baseline:.2f}")
    collapse = f"{result.storm_alerts:,} alerts → {result.storm_incidents} incident(s)"
    table.add_row("storm collapse", f"{collapse} in {result.storm_seconds:.1f} s")
    console.print(table)


@app.command("triage")
def bench_triage(
    events: Annotated[int, typer.Option(min=10, help="Context events around the alert.")] = 10_000,
    repeat: Annotated[int, typer.Option(min=1, max=100, help="Runs per measure (median reported).")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Triage time for one alert with N context events (in memory and from the store), beside a single
    pass over the events as the baseline."""
    with err_console.status("benchmarking triage …", spinner="dots"):
        result = run_triage_benchmark(events, repeat)
    if as_json:
        emit_json(result.as_dict())
        return
    table = Table("measure", "value", title=f"Triage benchmark ({result.events:,} events)")
    table.add_row("triage, events in memory (median)", f"{result.memory_ms_median:.1f} ms")
    table.add_row("triage, events from the SQLite store (median)", f"{result.store_ms_median:.1f} ms")
    table.add_row("baseline: one pass over the events", f"{result.baseline_ms_median:.2f} ms")
    table.add_row("in memory ÷ baseline", f"{result.memory_vs_baseline:.1f}")
    table.add_row("verdict", result.verdict)
    console.print(table)


@app.command("respond")
def bench_respond(
    incidents: Annotated[int, typer.Option(min=1, max=5_000, help="Incidents posted in one batch.")] = 100,
    timeout: Annotated[
        float, typer.Option(min=10, help="Seconds to wait for every incident to be handled.")
    ] = 900.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Incidents/s and alert→first action / alert→terminal (p50, p95) through a real `garrison up`, the
    Prefect server's `database is locked` lines, and the same steps as plain functions as the baseline."""
    with err_console.status("benchmarking the respond runs …", spinner="dots") as status:
        result = run_respond_benchmark(incidents, timeout, say=lambda line: status.update(line))
    if as_json:
        emit_json(result.as_dict())
        return
    table = Table("measure", "value", title=f"Respond benchmark ({result.incidents} incidents, one batch)")
    table.add_row("handled (terminal, run ended)", f"{result.handled} / {result.incidents}")
    table.add_row("incidents/s", f"{result.incidents_per_second:.2f} ({result.seconds:.1f} s)")
    table.add_row(
        "alert → first action p50 / p95",
        f"{result.first_action_p50_s:.1f} s / {result.first_action_p95_s:.1f} s",
    )
    table.add_row(
        "alert → terminal p50 / p95", f"{result.terminal_p50_s:.1f} s / {result.terminal_p95_s:.1f} s"
    )
    table.add_row("statuses", ", ".join(f"{k} {v}" for k, v in sorted(result.statuses.items())))
    table.add_row("flow runs", ", ".join(f"{k} {v}" for k, v in sorted(result.runs.items())))
    table.add_row("`database is locked` in the Prefect server log", str(result.database_locked))
    table.add_row(
        "baseline: same steps as plain functions",
        f"{result.baseline_per_second:.1f} incidents/s ({result.baseline_per_incident_ms:.0f} ms each)",
    )
    table.add_row("orchestrated ÷ baseline (time per incident)", f"{result.overhead_ratio:.1f}")
    console.print(table)
    if result.handled < result.incidents:
        raise typer.Exit(1)
