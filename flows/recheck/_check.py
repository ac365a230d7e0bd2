"""Re-check closed incidents: fresh intel, triage again, the remediation read back — then reopen or not.

``recheck`` is the whole run as a plain function (the CLI calls it in-process; the Prefect flow runs the
same pieces, ``due`` → ``fresh_intel`` → ``check_batch`` per batch of incidents). Every incident checked
gets exactly one timeline line saying what was checked; a dry run writes nothing and tells nobody.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from actions.http import using_store
from flows.models import Alert
from flows.notify import EventDetails, notify_event
from flows.settings import get_settings
from flows.store import IncidentStatus, IncidentView, StandingDecision, StandingDecisions, Store
from flows.tenants import Tenant, TenantDirectory
from flows.triage import StoreTelemetry, triage

from ._effects import effect_rows, verify
from ._findings import Finding, Outcome
from ._intel import FreshIntel, fresh_intel, news

_log = logging.getLogger("garrison.recheck")
MAX_CLOSED = 1_000_000  # closed incidents listed per run: a bound, not a page
MAX_REASON = 1000


class RecheckError(ValueError):
    """What the run was asked for cannot be checked (an unknown tenant, an incident that is not closed)."""


def due(
    store: Store,
    tenants: TenantDirectory,
    *,
    now: datetime,
    horizon_days: int = 365,
    tenant: str | None = None,
    incident_id: str | None = None,
    skip_own_schedules: bool = False,
) -> list[IncidentView]:
    """The closed incidents to check: closed within ``horizon_days`` of ``now``, of ``tenant`` (or all, but
    for the tenants with a schedule of their own when ``skip_own_schedules``), or the one ``incident_id``
    names (which must be closed, within the horizon). Oldest closure first."""
    if now.tzinfo is None:
        raise RecheckError("now must say its time zone (a naive datetime is ambiguous)")
    if horizon_days < 1:
        raise RecheckError(f"horizon_days must be at least 1 (got {horizon_days})")
    if tenant is not None and tenant not in tenants:
        raise RecheckError(f"unknown tenant {tenant!r}")
    since = now - timedelta(days=horizon_days)
    if incident_id is not None:
        found = store.incident_id(incident_id)
        incident = store.incident(found) if found else None
        if incident is None:
            raise RecheckError(f"no incident {incident_id}")
        if tenant is not None and incident.tenant != tenant:
            raise RecheckError(f"incident {incident.id[:8]} belongs to another tenant")
        if incident.status != IncidentStatus.CLOSED or incident.closed_at is None:
            raise RecheckError(f"incident {incident.id[:8]} is not closed (status {incident.status})")
        if incident.closed_at < since:
            raise RecheckError(
                f"incident {incident.id[:8]} was closed {incident.closed_at:%Y-%m-%d}, before the horizon "
                f"of {horizon_days} days"
            )
        return [incident]
    closed = store.incidents(tenant=tenant, status=IncidentStatus.CLOSED, limit=MAX_CLOSED)
    views = [view for summary in closed if (view := store.incident(summary.id)) is not None]
    own = {t.id for t in tenants if t.recheck.cron} if skip_own_schedules and tenant is None else set()
    within = [
        v
        for v in views
        if v.status == IncidentStatus.CLOSED and v.closed_at and v.closed_at >= since and v.tenant not in own
    ]
    return sorted(within, key=lambda v: (v.closed_at, v.id))


def check_batch(
    store: Store,
    tenants: TenantDirectory,
    incidents: Sequence[IncidentView],
    intel: FreshIntel,
    *,
    now: datetime,
    dry_run: bool = False,
) -> list[Finding]:
    """Check each incident (re-triage with today's intel and telemetry, the effects of its last round read
    back) and act on it: reopen, or one "still fine" line. The vendor reads of the whole batch run at once."""
    known = {i.tenant: t for i in incidents if (t := tenants.get(i.tenant)) is not None}
    rows = {i.id: effect_rows(store, i) for i in incidents if i.tenant in known}
    effects = asyncio.run(verify(rows, known, store))
    standing: dict[str, list[StandingDecision]] = {}
    telemetry = StoreTelemetry(store.engine)
    findings = []
    for incident in incidents:
        tenant = known.get(incident.tenant)
        if tenant is None:
            findings.append(_skipped(incident, f"tenant {incident.tenant} is not configured"))
            continue
        if incident.tenant not in standing:
            standing[incident.tenant] = StandingDecisions(store.engine).in_force(incident.tenant, now)
        finding = _look(store, tenant, incident, intel, telemetry, standing[incident.tenant], now)
        finding.effects = effects.get(incident.id, [])
        findings.append(_act(store, tenant, incident, finding, now=now, dry_run=dry_run))
    return findings


def recheck(
    store: Store,
    tenants: TenantDirectory,
    *,
    now: datetime,
    horizon_days: int = 365,
    tenant: str | None = None,
    incident_id: str | None = None,
    skip_own_schedules: bool = False,
    dry_run: bool = False,
    feeds: Sequence[Path] | None = None,
    batch_size: int = 50,
    on_start: Callable[[int, FreshIntel], None] = lambda _n, _intel: None,
    on_checked: Callable[[Finding], None] = lambda _: None,
) -> list[Finding]:
    """Re-check the closed incidents ``due`` names (see there); returns a finding per incident.
    ``on_start`` hears how many are due and what intel said (once, before the first is checked);
    ``on_checked`` hears each finding as it is made (a progress bar).

    >>> findings = recheck(store, tenants, now=datetime.now(UTC), tenant="demo")  # doctest: +SKIP
    >>> [f.reason for f in findings if f.changed]  # doctest: +SKIP
    ['Run-key value start is back on WS-FINANCE-07']
    """
    incidents = due(
        store,
        tenants,
        now=now,
        horizon_days=horizon_days,
        tenant=tenant,
        incident_id=incident_id,
        skip_own_schedules=skip_own_schedules,
    )
    local = get_settings().intel_feeds if feeds is None else feeds
    with using_store(store.engine):  # intel answers and provider limits shared with every worker
        intel = fresh_intel(incidents, _by_id(tenants), local)
    on_start(len(incidents), intel)
    findings: list[Finding] = []
    for start in range(0, len(incidents), batch_size):
        for finding in check_batch(
            store, tenants, incidents[start : start + batch_size], intel, now=now, dry_run=dry_run
        ):
            findings.append(finding)
            on_checked(finding)
    return findings


def _by_id(tenants: TenantDirectory) -> dict[str, Tenant]:
    return {t.id: t for t in tenants}


def _skipped(incident: IncidentView, why: str) -> Finding:
    return Finding(
        incident_id=incident.id,
        tenant=incident.tenant,
        title=incident.title,
        outcome=Outcome.SKIPPED,
        skipped=why,
    )


def _verdict_then(incident: IncidentView) -> str | None:
    """What triage said in the incident's last classification (an analyst's decision is not triage's: a
    machine verdict is compared with a machine verdict, so an overruled one does not reopen every day)."""
    for entry in reversed(incident.timeline):
        if entry.step == "classify" and isinstance(entry.data.get("verdict"), str):
            return str(entry.data["verdict"])
    return incident.verdict


def _look(
    store: Store,
    tenant: Tenant,
    incident: IncidentView,
    intel: FreshIntel,
    telemetry: StoreTelemetry,
    standing: list[StandingDecision],
    now: datetime,
) -> Finding:
    fresh = news(incident, intel)
    finding = Finding(
        incident_id=incident.id,
        tenant=incident.tenant,
        title=incident.title,
        outcome=Outcome.STILL_FINE,
        verdict_then=_verdict_then(incident),
        indicators_checked=len(fresh.indicators),
        newly_listed=fresh.newly_listed,
        newly_malicious=fresh.newly_malicious,
    )
    try:
        alerts = [Alert.model_validate(document) for document in store.alert_documents(incident.id)]
        result = triage(alerts, fresh.indicators, tenant.policy, telemetry, now=now, standing=standing)
    except Exception as error:  # noqa: BLE001 - one incident's bad data must not stop the run
        finding.retriage_error = f"{type(error).__name__}: {error}"[:300]
        _log.warning("incident %s: triage failed again: %s", incident.id, finding.retriage_error)
        return finding
    finding.verdict_now = result.verdict.verdict.value
    finding.score_now = result.verdict.score
    return finding


def _act(
    store: Store, tenant: Tenant, incident: IncidentView, finding: Finding, *, now: datetime, dry_run: bool
) -> Finding:
    reasons = []
    if finding.worse():
        reasons.append(
            f"verdict {finding.verdict_then} then, {finding.verdict_now} now (score {finding.score_now})"
        )
    reasons += [e.lost for e in finding.of_state("lost")]
    reasons += finding.newly_malicious
    finding.reasons = reasons
    if not reasons:
        if not dry_run:
            store.add_timeline(
                incident.id, "recheck", f"re-check: still fine ({finding.summary()})", finding.timeline_data()
            )
        return finding
    if dry_run:
        finding.outcome = Outcome.WOULD_REOPEN
        return finding
    finding.outcome = Outcome.REOPENED
    reason = finding.reason[:MAX_REASON]
    new_round = store.reopen(
        incident.id,
        f"re-check: reopened: {reason}",
        step="recheck",
        data=finding.timeline_data(),
        actor="recheck",
    )
    if new_round is None:
        return finding.model_copy(update={"outcome": Outcome.SKIPPED, "skipped": "no longer closed"})
    finding.round = new_round
    for event in ("incident_reopened", "escalation"):
        try:
            notify_event(event, incident.id, tenant=tenant, details=EventDetails(reason=reason), store=store)
        except Exception as error:  # noqa: BLE001 - the round is started; a notification problem is logged
            _log.error("incident %s: %s notification failed: %s", incident.id, event, error)
            store.add_timeline(incident.id, "notify", f"{event} notification failed: {type(error).__name__}")
    return finding
