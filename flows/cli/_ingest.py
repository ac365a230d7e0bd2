"""``garrison ingest``: load alert files into the store, as the intake API would, with a progress bar."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from flows.intake import BatchReport, Intake, PrefectDispatcher, Rejection, parse_json
from flows.normalize import Conformance, FieldMapping, Format, conformance
from flows.runtime import answers
from flows.settings import get_settings
from flows.store import Store
from flows.tenants import Tenant, tenants_from
from flows.winlog import EventFile

from ._output import console, emit_json, fail, shown

BATCH = 1_000


def ingest(
    files: Annotated[list[Path], typer.Argument(help="JSON, JSON array or NDJSON files of alerts.")],
    fmt: Annotated[
        Format, typer.Option("--format", help="Alert format; auto detects each one.")
    ] = Format.AUTO,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant the alerts belong to (else OCSF tenant_uid).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Generic source name (its mapping in the tenant).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Store nothing: print per record what Garrison understood and what it ignored."
        ),
    ] = False,
    events: Annotated[
        bool,
        typer.Option(
            "--events",
            help="The files hold telemetry, not alerts: OCSF events, or Windows events (.evtx, evtx_dump "
            "JSON, Winlogbeat or Wazuh documents). Needs --tenant.",
        ),
    ] = False,
) -> None:
    """Store alerts from files (one transaction per 1,000), grouped into incidents; start their playbooks
    if Garrison is up, or leave them for `garrison up` to start. With --check, store nothing and report
    how each record maps (onboarding a source before going live)."""
    settings = get_settings()
    tenants = tenants_from(settings.tenants_file)
    chosen: Tenant | None = None
    if tenant is not None:
        chosen = tenants.get(tenant)
        if chosen is None:
            fail(f"unknown tenant {tenant!r}")
    for path in files:
        if not path.is_file():
            fail(f"{path}: no such file")
    if check:
        mapping = chosen.sources.get(source) if chosen and source else None
        if source and mapping is None:
            fail(f"no field mapping {source!r} for tenant {tenant!r} (pass --tenant and a source it maps)")
        _check(files, chosen, fmt, mapping, as_json)
        return
    if events:
        _events(files, chosen, as_json)
        return
    intake = Intake(Store.open(settings.database_url))
    total = BatchReport()
    reasons: Counter[str] = Counter()
    progress = Progress(
        TextColumn("[bold]ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("bytes"),
        TimeRemainingColumn(),
        console=console,
        disable=as_json,
        transient=True,
    )
    with progress:
        task = progress.add_task("ingest", total=sum(p.stat().st_size for p in files))
        for path in files:
            for batch, consumed in _batches(path):
                report = _accept(intake, tenants, chosen, batch, fmt, source)
                total.accepted += report.accepted
                total.rejected += [
                    Rejection(r.line, r.field, f"{path}:{r.line}: {r.message}") for r in report.rejected
                ]
                reasons.update(f"{r.field}: {r.message}" for r in report.rejected)
                progress.advance(task, consumed)
    started = _dispatch(total.new_incidents)
    summary = {**total.counts(), "runs_started": started, "rejections": dict(reasons.most_common(20))}
    if as_json:
        emit_json(summary)
    else:
        _print(summary, started, len(total.new_incidents))
    if total.rejected and not total.accepted:
        raise typer.Exit(1)


def _events(files: list[Path], chosen: Tenant | None, as_json: bool) -> None:
    """Telemetry into the store as ``POST /v1/events`` stores it: read record by record, 1,000 a transaction;
    unreadable and unmapped records are counted by reason."""
    if chosen is None:
        fail("--events needs --tenant: telemetry (a Windows event log) names no Garrison tenant")
    intake = Intake(Store.open(get_settings().database_url))
    stored, reasons, before = 0, Counter[str](), 0
    columns = (TextColumn("[bold]events"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    bar = Progress(*columns, console=console, disable=as_json, transient=True)
    with bar:
        task = bar.add_task("events", total=sum(p.stat().st_size for p in files))
        for path in files:
            source = EventFile(path)

            def advance(source: EventFile = source, done: int = before) -> None:
                bar.update(task, completed=done + source.consumed)

            report = intake.accept_event_records(chosen, source, advance)
            before += path.stat().st_size
            stored += report.events_stored
            reasons.update(f"{r.field}: {r.message}" for r in report.rejected)
    summary = {"stored": stored, "rejected": reasons.total(), "rejections": dict(reasons.most_common(20))}
    if as_json:
        emit_json(summary)
    else:
        console.print(shown(f"stored {stored} events, rejected {reasons.total()}"))
        for reason, count in reasons.most_common(20):
            console.print(shown(f"  {count:>7}  {reason}"))
    if reasons and not stored:
        raise typer.Exit(1)


def _check(
    files: list[Path], chosen: Tenant | None, fmt: Format, mapping: FieldMapping | None, as_json: bool
) -> None:
    reports: list[dict[str, Any]] = []
    known = {t.id for t in tenants_from(get_settings().tenants_file)}
    for path in files:
        for batch, _ in _batches(path):
            for line, document in batch:
                tenant_id = chosen.id if chosen else _ocsf_tenant(document) or "(no tenant: pass --tenant)"
                if isinstance(document, _Unreadable):
                    found = Conformance(tenant=tenant_id, error="(line): not valid JSON")
                else:
                    # As the intake judges it: naming another Garrison tenant is refused, its source's kept.
                    others = known - {tenant_id}
                    found = conformance(document, tenant_id, fmt, mapping, other_tenants=others)
                reports.append({"file": str(path), "line": line, **found.as_dict()})
    if as_json:
        emit_json({"records": reports, "rejected": sum(1 for r in reports if r["error"])})
    else:
        for report in reports:
            _print_check(report)
    if any(r["error"] for r in reports):
        raise typer.Exit(1)


def _print_check(report: dict[str, Any]) -> None:
    where = f"{report['file']}:{report['line']}"
    if report["error"]:
        console.print(shown(f"{where}  rejected: {report['error']}", "bold red"))
        return
    console.print(shown(f"{where}  {report['format']}  {report['title']}", "bold"))
    rows = [
        ("tenant", report["tenant"]),
        ("time", report["time"] or "(none)"),
        ("hosts", ", ".join(report["hosts"]) or "(none)"),
        ("indicators", ", ".join(report["indicators"]) or "(none)"),
        ("evidence", ", ".join(report["evidence"]) or "(none)"),
        ("resources", "; ".join(report["resources"]) or "(none)"),
        ("cloud", report["cloud"] or "(none)"),
        ("ignored", ", ".join(report["ignored"]) or "(nothing)"),
    ]
    for label, value in rows:
        console.print(shown(f"  {label:<11} {value}"))


def _batches(path: Path) -> Iterator[tuple[list[tuple[int, Any]], int]]:
    """(line, document) batches from a file, with the bytes each batch consumed."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16).lstrip()
        handle.seek(0)
        if head.startswith(b"["):  # one JSON array
            data = handle.read()
            documents = _whole(data)
            for start in range(0, len(documents), BATCH):
                yield documents[start : start + BATCH], len(data) if start == 0 else 0
            return
        batch: list[tuple[int, Any]] = []
        consumed = 0
        for number, raw in enumerate(handle, start=1):
            consumed += len(raw)
            if raw.strip():
                try:
                    batch.append((number, parse_json(raw)))
                except ValueError:
                    if number == 1:  # a pretty-printed single document, not NDJSON
                        handle.seek(0)
                        data = handle.read()
                        yield _whole(data), len(data)
                        return
                    batch.append((number, _Unreadable(raw)))
            if len(batch) >= BATCH:
                yield batch, consumed
                batch, consumed = [], 0
        if batch or consumed:
            yield batch, consumed


class _Unreadable:
    def __init__(self, raw: bytes) -> None:
        self.raw = raw


def _whole(data: bytes) -> list[tuple[int, Any]]:
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return [(1, _Unreadable(str(error).encode()))]
    items = parsed if isinstance(parsed, list) else [parsed]
    return list(enumerate(items, start=1))


def _accept(
    intake: Intake,
    tenants: Any,
    chosen: Tenant | None,
    batch: list[tuple[int, Any]],
    fmt: Format,
    source: str | None,
) -> BatchReport:
    report = BatchReport()
    by_tenant: dict[str, list[tuple[int, Any]]] = {}
    for line, document in batch:
        if isinstance(document, _Unreadable):
            report.rejected.append(Rejection(line, "(line)", "not valid JSON", 400))
            continue
        tenant_id = chosen.id if chosen else _ocsf_tenant(document)
        if tenant_id is None or tenants.get(tenant_id) is None:
            why = "no tenant: pass --tenant" if tenant_id is None else f"unknown tenant {tenant_id!r}"
            report.rejected.append(Rejection(line, "metadata.tenant_uid", why))
            continue
        by_tenant.setdefault(tenant_id, []).append((line, document))
    for tenant_id, documents in by_tenant.items():
        part = intake.accept(tenants.get(tenant_id), documents, fmt, source)
        report.accepted += part.accepted
        report.rejected += part.rejected
    return report


def _ocsf_tenant(document: Any) -> str | None:
    metadata = document.get("metadata") if isinstance(document, dict) else None
    tenant = metadata.get("tenant_uid") if isinstance(metadata, dict) else None
    return tenant if isinstance(tenant, str) and tenant else None


def _dispatch(incidents: list[str]) -> int:
    """Start respond runs now if Garrison is up; otherwise `garrison up`'s sweeper starts them."""
    settings = get_settings()
    if not incidents or not answers(f"{settings.prefect_api_url}/health"):
        return 0
    # Garrison's own console, by its settings: PREFECT_API_URL set now would be ignored (Prefect reads its
    # settings when it is imported), and the console needs its password.
    dispatcher = PrefectDispatcher(
        Store.open(settings.database_url),
        api_url=settings.prefect_api_url,
        auth_string=settings.prefect_auth_string(),
    )

    async def run() -> int:
        # A generator with ``await`` inside is an async generator, which sum() cannot read: count in a loop.
        started = 0
        for incident in incidents:
            if await dispatcher.dispatch(incident):
                started += 1
        return started

    return asyncio.run(run())


def _print(summary: dict[str, Any], started: int, new: int) -> None:
    table = Table(title="Ingest", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("accepted", str(summary["accepted"]))
    table.add_row("duplicates", str(summary["duplicates"]))
    table.add_row("rejected", str(summary["rejected"]))
    table.add_row("incidents to respond to", str(new))
    table.add_row(
        "respond runs started",
        str(started) if started else "0 (Garrison is not up: `garrison up` starts them)",
    )
    console.print(table)
    if summary["rejections"]:
        reasons = Table("reason", "count", title="Rejected")
        for reason, count in summary["rejections"].items():
            reasons.add_row(shown(reason), str(count))
        console.print(reasons)
