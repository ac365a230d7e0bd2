"""``garrison bench``: measured figures, each beside a baseline from the same run.

``flows.bench`` is imported inside the commands: it brings the intake, Prefect and the respond flow, and
every other command (``garrison triage`` on a cold start above all) would pay for them at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ._output import console, emit_json, err_console

if TYPE_CHECKING:
    from flows.bench import IntakeBenchmark, SigmaBenchmark, Suite

app = typer.Typer(
    help="Benchmarks (figures, not pass/fail). Without a command: every benchmark (`bench all`).",
    invoke_without_command=True,
)
_QUICK_HELP = "Smaller sizes: under 3 minutes on 2 cores (20 respond incidents)."
_JSON_HELP = "Print JSON for scripts."


@app.callback()
def bench(
    ctx: typer.Context,
    quick: Annotated[bool, typer.Option("--quick", help=_QUICK_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """Benchmarks: intake, triage (network and SigmaHQ over Windows telemetry) and respond."""
    if ctx.invoked_subcommand is None:
        _run_all(quick, as_json)


@app.command("all")
def bench_all(
    quick: Annotated[bool, typer.Option("--quick", help=_QUICK_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """Every benchmark in one run, each figure beside its baseline and the ratio."""
    _run_all(quick, as_json)


def _run_all(quick: bool, as_json: bool) -> None:
    from flows.bench import run_suite

    with err_console.status("benchmarking …", spinner="dots") as status:
        suite = run_suite(quick, say=lambda line: status.update(line))
    if as_json:
        emit_json(suite.as_dict())
    else:
        _print_suite(suite)
    if suite.failures or (suite.respond is not None and suite.respond.handled < suite.respond.incidents):
        raise typer.Exit(1)


def _print_suite(suite: Suite) -> None:
    title = f"Garrison benchmarks{' (quick)' if suite.quick else ''}, this machine, {suite.seconds:.0f} s"
    table = Table("measure", "value", "baseline (same run)", "value ÷ baseline", title=title)
    for row in suite.rows():
        table.add_row(*row)
    console.print(table)
    for name, why in suite.failures.items():
        err_console.print(f"[red]{name} benchmark failed:[/red] {why}")


@app.command("intake")
def bench_intake(
    single: Annotated[int, typer.Option(min=10, help="Alerts sent one request each, in turn.")] = 500,
    batch: Annotated[int, typer.Option(min=100, help="Alerts sent in NDJSON batches.")] = 20_000,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Alerts per batch request.")] = 1_000,
    storm: Annotated[
        int, typer.Option(min=1, help="Similar alerts that should become one incident.")
    ] = 10_000,
    concurrent: Annotated[
        int, typer.Option(min=10, help="Alerts sent one request each by the concurrent clients.")
    ] = 4_000,
    clients: Annotated[int, typer.Option(min=1, max=256, help="Single-POST clients at once.")] = 16,
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """Alerts/s accepted durably through the HTTP intake (batched, concurrent single POSTs, single POSTs in
    turn), p50/p99 latency, storm collapse, each beside raw SQLite inserts of the same documents."""
    from flows.bench import run_intake_benchmark

    with err_console.status("benchmarking the intake …", spinner="dots") as status:
        result = run_intake_benchmark(
            single,
            batch,
            batch_size,
            storm,
            say=lambda line: status.update(line),
            concurrent=concurrent,
            clients=clients,
        )
    if as_json:
        emit_json(result.as_dict())
        return
    _print_intake(result)


def _print_intake(result: IntakeBenchmark) -> None:
    table = Table("measure", "value", "baseline (same run)", "ratio", title="Intake benchmark (SQLite)")
    one_each = f"raw SQLite, one per commit: {result.single_baseline_per_second:,.0f}/s"
    table.add_row(
        f"batched alerts/s ({result.batch_size} per request)",
        f"{result.batch_per_second:,.0f}",
        f"raw SQLite, same batches: {result.baseline_per_second:,.0f}/s",
        f"{result.batch_vs_baseline:.3f}",
    )
    table.add_row(
        f"{result.concurrent_clients} concurrent single-POST clients, alerts/s",
        f"{result.concurrent_per_second:,.0f}",
        one_each,
        f"{result.concurrent_vs_single_baseline:.3f}",
    )
    table.add_row(
        "  latency p50 / p99",
        f"{result.concurrent_p50_ms:.1f} ms / {result.concurrent_p99_ms:.1f} ms",
        "",
        "",
    )
    table.add_row(
        "single POSTs in turn, alerts/s",
        f"{result.single_per_second:,.0f}",
        one_each,
        f"{result.single_per_second / result.single_baseline_per_second:.3f}",
    )
    table.add_row(
        "  latency p50 / p99", f"{result.single_p50_ms:.1f} ms / {result.single_p99_ms:.1f} ms", "", ""
    )
    table.add_row(
        f"storm: {result.storm_alerts:,} alerts → {result.storm_incidents} incident(s), alerts/s",
        f"{result.storm_per_second:,.0f} ({result.storm_seconds:.1f} s)",
        f"raw SQLite, same batches: {result.storm_baseline_per_second:,.0f}/s",
        f"{result.storm_vs_baseline:.3f}",
    )
    table.add_row(
        "acknowledged alerts in the store", f"{result.stored:,}", f"{result.acknowledged:,} answered 2xx", ""
    )
    console.print(table)


@app.command("triage")
def bench_triage(
    events: Annotated[int, typer.Option(min=10, help="Context events around the alert.")] = 10_000,
    repeat: Annotated[int, typer.Option(min=1, max=100, help="Runs per measure (median reported).")] = 5,
    sigma: Annotated[
        bool, typer.Option(help="Also the SigmaHQ corpus over Windows telemetry (warm, and a cold start).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """Triage time for one alert with N context events (in memory and from the store), beside a single
    pass over the events as the baseline; with ``--sigma``, the same for N Windows events and the full
    SigmaHQ Windows rule set, warm and as a cold `garrison triage` process."""
    from flows.bench import run_sigma_benchmark, run_triage_benchmark

    with err_console.status("benchmarking triage …", spinner="dots") as status:
        result = run_triage_benchmark(events, repeat)
        status.update("triage with the SigmaHQ rules over Windows telemetry …")
        rules = run_sigma_benchmark(events, min(repeat, 3)) if sigma else None
    if as_json:
        emit_json({**result.as_dict(), "sigma": rules.as_dict() if rules else None})
        return
    table = Table("measure", "value", title=f"Triage benchmark ({result.events:,} events)")
    table.add_row("triage, events in memory (median)", f"{result.memory_ms_median:.1f} ms")
    table.add_row("triage, events from the SQLite store (median)", f"{result.store_ms_median:.1f} ms")
    table.add_row("baseline: one pass over the events", f"{result.baseline_ms_median:.2f} ms")
    table.add_row("in memory ÷ baseline", f"{result.memory_vs_baseline:.1f}")
    table.add_row("verdict", result.verdict)
    if rules is not None:
        _add_sigma_rows(table, rules)
    console.print(table)


def _add_sigma_rows(table: Table, rules: SigmaBenchmark) -> None:
    table.add_section()
    table.add_row(f"SigmaHQ: {rules.rules:,} rules over {rules.events:,} Windows events", "")
    table.add_row("rule set into a new process (converted-rules cache)", f"{rules.rules_load_s:.2f} s")
    table.add_row("triage, rules loaded (warm, median)", f"{rules.warm_ms_median:.0f} ms")
    table.add_row("cold `garrison triage ALERT --events FILE`", f"{rules.cold_s:.2f} s")
    table.add_row("baseline: one pass over the events", f"{rules.baseline_ms_median:.1f} ms")
    table.add_row("warm ÷ baseline", f"{rules.warm_vs_baseline:.1f}")
    table.add_row("rules matched", ", ".join(rules.matched[:5]) or "none")
    table.add_row("verdict", rules.verdict)


@app.command("respond")
def bench_respond(
    incidents: Annotated[int, typer.Option(min=1, max=5_000, help="Incidents posted in one batch.")] = 100,
    timeout: Annotated[
        float, typer.Option(min=10, help="Seconds to wait for every incident to be handled.")
    ] = 900.0,
    postgres: Annotated[
        str | None,
        typer.Option(
            "--postgres",
            metavar="URL",
            help="Run the Garrison under test on this PostgreSQL (store and Prefect; an empty database).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
) -> None:
    """Incidents/s and alert→first action / alert→terminal (p50, p95) through a real `garrison up`, the
    Prefect server's `database is locked` lines, and the same steps as plain functions as the baseline."""
    from flows.bench import run_respond_benchmark

    with err_console.status("benchmarking the respond runs …", spinner="dots") as status:
        result = run_respond_benchmark(
            incidents, timeout, say=lambda line: status.update(line), postgres=postgres
        )
    if as_json:
        emit_json(result.as_dict())
        return
    table = Table(
        "measure",
        "value",
        title=f"Respond benchmark ({result.incidents} incidents, one batch; {result.database})",
    )
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
