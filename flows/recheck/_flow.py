"""The ``recheck`` flow: the plain re-check (``_check``) as Prefect runs it, on a schedule or by hand.

One task asks intel about every indicator of the run once; then one task per batch of incidents checks
them (re-triage, the effects read back, reopen or a "still fine" line). The run ends with a markdown
artifact: the counts, and each incident reopened with its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE
from pydantic import BaseModel, ConfigDict, Field

from actions.http import using_store
from flows.notify import escape_markdown
from flows.settings import get_settings
from flows.store import Store, incident_metrics
from flows.tenants import TenantDirectory, tenants_from

from ._check import check_batch, due
from ._figures import metrics_markdown
from ._findings import Finding, Outcome
from ._intel import FreshIntel, fresh_intel

BATCH_SIZE = 50


class RecheckRequest(BaseModel):
    """What to re-check (the Prefect UI renders this as the run form)."""

    model_config = ConfigDict(extra="forbid")

    tenant: str | None = Field(default=None, max_length=64, description="Only this tenant's incidents.")
    incident: str | None = Field(
        default=None, max_length=36, description="Only this incident (its id, or a unique prefix)."
    )
    horizon_days: int = Field(
        default=365, ge=1, le=3650, description="Closed incidents closed within this many days."
    )
    dry_run: bool = Field(default=False, description="Report what would reopen; change nothing, tell nobody.")
    skip_own_schedules: bool = Field(
        default=False,
        description="Leave out tenants with their own re-check schedule (recheck.cron): the default "
        "schedule's runs, so no tenant is checked twice.",
    )


@task(name="recheck-intel", cache_policy=NONE)
def _intel(incident_ids: list[str]) -> FreshIntel:
    store, tenants = _open()
    views = [v for i in incident_ids if (v := store.incident(i)) is not None]
    # Intel answers, provider limits and breakers in the store, shared with every worker (respond's too).
    with using_store(store.engine):
        return fresh_intel(views, {t.id: t for t in tenants}, get_settings().intel_feeds)


@task(name="recheck-batch", cache_policy=NONE)
def _batch(incident_ids: list[str], intel: FreshIntel, now: datetime, dry_run: bool) -> list[dict[str, Any]]:
    store, tenants = _open()
    views = [v for i in incident_ids if (v := store.incident(i)) is not None]
    return [
        f.model_dump(mode="json") for f in check_batch(store, tenants, views, intel, now=now, dry_run=dry_run)
    ]


@flow(
    name="recheck", description="Re-check closed incidents: fresh intel, triage again, remediation in place?"
)
def recheck_flow(request: RecheckRequest) -> dict[str, Any]:
    logger = get_run_logger()
    now = datetime.now(UTC)
    store, tenants = _open()
    incidents = due(
        store,
        tenants,
        now=now,
        horizon_days=request.horizon_days,
        tenant=request.tenant,
        incident_id=request.incident,
        skip_own_schedules=request.skip_own_schedules,
    )
    ids = [i.id for i in incidents]
    intel = _intel(ids)
    futures = [
        _batch.with_options(task_run_name=f"recheck-{n + 1}").submit(
            ids[start : start + BATCH_SIZE], intel, now, request.dry_run
        )
        for n, start in enumerate(range(0, len(ids), BATCH_SIZE))
    ]
    findings = [Finding.model_validate(f) for future in futures for f in future.result()]
    summary = summarise(findings, lookups=intel.lookups, dry_run=request.dry_run)
    create_markdown_artifact(
        key="recheck",
        markdown=report_markdown(findings, summary),
        description=f"Re-check of {len(findings)} closed incident(s)",
    )
    # The figures after this run's reopens: what the MDR's lead reads beside the run (``garrison metrics``).
    figures = incident_metrics(
        store.engine, tenant=request.tenant, since=now - timedelta(days=request.horizon_days)
    )
    create_markdown_artifact(
        key="response-metrics",
        markdown=metrics_markdown(figures),
        description="MTTD, MTTA, MTTR (p50, p90) per tenant",
    )
    logger.info(
        "re-checked %d closed incident(s): %d reopened, %d still fine",
        len(findings),
        summary["reopened"] + summary["would_reopen"],
        summary["still_fine"],
    )
    return summary


def _open() -> tuple[Store, TenantDirectory]:
    settings = get_settings()
    return Store.open(settings.database_url), tenants_from(settings.tenants_file)


def summarise(findings: list[Finding], *, lookups: int, dry_run: bool) -> dict[str, Any]:
    """The run in numbers (the CLI's ``--json`` summary and the flow's result)."""
    counts = {outcome.value: sum(f.outcome is outcome for f in findings) for outcome in Outcome}
    return {
        "checked": len(findings) - counts[Outcome.SKIPPED.value],
        **counts,
        "effects_lost": sum(len(f.of_state("lost")) for f in findings),
        "effects_unverifiable": sum(len(f.of_state("unverifiable")) for f in findings),
        "indicator_lookups": lookups,
        "dry_run": dry_run,
    }


def report_markdown(findings: list[Finding], summary: dict[str, Any]) -> str:
    """The run's artifact: counts, then each incident reopened (or that would be) with its reason."""
    verb = "would reopen" if summary["dry_run"] else "reopened"
    lines = [
        "# Re-check of closed incidents" + (" (dry run)" if summary["dry_run"] else ""),
        "",
        "| checked | reopened | still fine | skipped | effects lost | cannot verify | indicator lookups |",
        "|---|---|---|---|---|---|---|",
        f"| {summary['checked']} | {summary['reopened'] + summary['would_reopen']} | {summary['still_fine']} "
        f"| {summary['skipped']} | {summary['effects_lost']} | {summary['effects_unverifiable']} "
        f"| {summary['indicator_lookups']} |",
        "",
    ]
    changed = [f for f in findings if f.changed]
    if changed:
        lines += [f"## Incidents it {verb}", ""]
        lines += [
            f"- `{f.incident_id[:8]}` ({escape_markdown(f.tenant)}) {escape_markdown(f.title[:120])}: "
            f"{escape_markdown(f.reason)}"
            for f in changed
        ]
    else:
        lines.append("Nothing to reopen: every closed incident checked is still fine.")
    return "\n".join(lines) + "\n"
