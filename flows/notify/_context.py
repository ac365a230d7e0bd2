"""The values templates see: an incident told in one language, with every piece of data made inert.

Templates never see raw alert data: every indicator is defanged, every free text defanged and stripped of
angle brackets and line breaks (``inert``) before it is placed here; the channel's escaping follows on top.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.models import Alert
from flows.settings import get_settings
from flows.store import ActionView, IncidentView
from flows.tenants import Tenant

from ._advice import Situation, mitigations
from ._evidence import STAGES, first_evidence, infection_chain
from ._i18n import TEMPLATES_DIR, Catalog, catalog, resolve_language
from ._rounds import Round, distinct, rounds
from ._sequence import TelemetryStep, advice_steps, covered, telemetry_steps
from ._story import done_phrases, hacktool_in, milestones, reasons, summary
from ._text import defanged, indicator_text, inert, when, when_exact

_TARGET_IS_INDICATOR = (".block_", ".unblock_")
MAX_CLOUD_RESOURCES = 20  # resources listed in a report; the rest are counted


@dataclass(frozen=True)
class PlannedAction:
    """An action waiting for approval: its key (``lab.isolate_host``) and target, as the ledger names them."""

    action: str
    target: str
    approve_url: str = ""  # the single-use link an approver POSTs (with their key) to approve it


@dataclass(frozen=True)
class EventDetails:
    """What an event adds to the incident: why it was sent, what waits for approval, campaign reach."""

    reason: str = ""  # escalation / reopening: why (free text, made inert)
    pending: Sequence[PlannedAction] = ()  # approval_requested: the actions waiting for a decision
    expires_at: datetime | None = None  # approval_requested: when the request lapses
    affected_tenants: int = 0  # campaign_warning: how many customers saw the same activity
    deployed: bool = False  # campaign_warning: the indicators are already on the recipient's block lists
    decide_url: str = ""  # escalation: the single-use decision link for this wait (analysts only)


def incident_context(
    incident: IncidentView,
    tenant: Tenant,
    *,
    language: str | None = None,
    alerts: Sequence[Alert] = (),
    details: EventDetails | None = None,
    templates_dir: Path = TEMPLATES_DIR,
) -> dict[str, Any]:
    """Everything an incident template may show, in ``language`` (default: the tenant's), worded from
    the catalogs under ``templates_dir``."""
    t = catalog(resolve_language(language or tenant.language, templates_dir), templates_dir)
    details = details or EventDetails()
    detected = incident.detected_at or incident.created_at
    first = _first_evidence(incident, alerts, detected)
    dwell = detected - first if first and first < detected else None
    # A reopened incident's ledger holds a row per round for the same host or value: what was done is
    # told once per object (its latest status), and each round apart (``_rounds``).
    in_rounds = rounds(incident)
    acted = incident.model_copy(update={"actions": distinct(incident.actions)})
    sequence, untold = telemetry_steps(incident)
    evidence_chain = infection_chain(alerts)
    chain = covered(evidence_chain, sequence)  # what the telemetry tells is not told again
    titles = " ".join(a.finding_info.title + " " + " ".join(a.finding_info.types) for a in alerts)
    intel = " ".join(str(p.get("reason", "")) for i in incident.indicators for p in i.provenance)
    hacktool = hacktool_in(incident, alerts)
    text = f"{incident.title} {titles} {intel}".lower()
    situation = Situation(acted, [*evidence_chain, *advice_steps(sequence)], hacktool, text, dwell)
    verdict = incident.verdict or "undecided"
    advice = mitigations(situation)
    return {
        "language": t.language,
        "mdr": {"name": t("mdr_name")},
        "tenant": {"id": tenant.id, "name": inert(tenant.name)},
        "incident": {
            "id": incident.id,
            "short_id": incident.id[:8],
            "title": inert(incident.title),
            "status": incident.status,
            "status_label": t(f"status.{incident.status}")
            if t.has(f"status.{incident.status}")
            else incident.status,
            "verdict": verdict,
            "verdict_label": t(f"verdict_short.{verdict}"),
            "verdict_text": t(f"verdict.{verdict}"),
            "score": incident.score if incident.score is not None else 0,
            "hosts": [inert(h) for h in incident.hosts],
            "hosts_text": t.join([inert(h) for h in incident.hosts]) if incident.hosts else t("none_named"),
            "alert_count": incident.alert_count,
            "sources": t.join(sorted({inert(a.source) for a in alerts})) if alerts else "",
            "detected_at": when(detected),
            "received_at": when(incident.created_at),
            "contained_at": when(incident.contained_at) if incident.contained_at else "",
            "closed_at": when(incident.closed_at) if incident.closed_at else "",
            "ui_url": f"{get_settings().prefect_ui_url}/runs/flow-run/{incident.flow_run_id}"
            if incident.flow_run_id
            else "",
        },
        "summary": summary(t, acted, alerts, dwell, first, reopened=len(in_rounds) - 1),
        "reasons": reasons(t, incident),
        "indicators": _indicators(t, incident),
        "cloud": _cloud(t, alerts),
        "actions": _actions(t, acted.actions),
        "rounds": _rounds(t, in_rounds) if len(in_rounds) > 1 else [],
        # Which playbook handled it (our own id and version, never alert data).
        "playbook": incident.playbook or "",
        "dwell": {
            "first_evidence_at": when(first) if first else "",
            "dwell": t.duration(dwell) if dwell else "",
            "to_contain": t.duration(incident.contained_at - incident.created_at)
            if incident.contained_at
            else "",
        },
        "milestones": milestones(t, incident, alerts, first, in_rounds),
        "sequence": [_sequence_step(t, step) for step in sequence],
        "sequence_more": untold,
        "chain": [
            {"stage": stage, "label": t(f"stage.{stage}"), "steps": steps}
            for stage in STAGES
            if (steps := [_chain_text(t, s.kind, s.params) for s in chain if s.stage == stage])
        ],
        "entry_known": any(s.stage == "entry" for s in evidence_chain)
        or any(s.stage == "entry" for s in sequence),
        "mitigations": [_advice_text(t, a.code, a.values) for a in advice],
        "mitigation_codes": [a.code for a in advice],
        "timeline": [
            {"at": when(e.at), "step": e.step, "message": inert(e.message)} for e in incident.timeline
        ],
        "activity": [
            {
                "title": _round_title(t, r) if len(in_rounds) > 1 else "",
                "entries": [
                    {"at": when(e.at), "step": e.step, "message": inert(e.message)} for e in r.timeline
                ],
            }
            for r in in_rounds
            if r.timeline
        ],
        "event": _event(t, details),
    }


def _first_evidence(incident: IncidentView, alerts: Sequence[Alert], detected: datetime) -> datetime | None:
    stored = getattr(incident, "first_evidence_at", None)  # when the store exposes it (see the notes)
    found = [m for m in (stored, first_evidence(alerts, latest=detected)) if m is not None]
    return min(found) if found else None


def _indicators(t: Catalog, incident: IncidentView) -> list[dict[str, Any]]:
    rows = []
    for indicator in incident.indicators:
        listed = [p for p in indicator.provenance if p.get("verdict") == "malicious"]
        why = [
            t(
                "intel.listed_since" if p.get("first_seen") else "intel.listed",
                reason=inert(str(p.get("reason", ""))),
                source=inert(str(p.get("source", ""))),
                since=inert(str(p.get("first_seen") or "")),
            )
            for p in listed
        ]
        rows.append(
            {
                "type": indicator.type,
                "type_label": t(f"indicator.{indicator.type}")
                if t.has(f"indicator.{indicator.type}")
                else indicator.type,
                "value": indicator_text(indicator.type, indicator.value),
                "listed": bool(listed),
                "why": t.join(why),
            }
        )
    # Known-bad first: they are what the reader should act on.
    return sorted(rows, key=lambda row: not row["listed"])


def _cloud(t: Catalog, alerts: Sequence[Alert]) -> dict[str, Any]:
    """The cloud accounts the alerts were made in, worded, and the resources they name as affected.
    Shown, never acted on: containment acts on hosts (``device``), not on these."""
    accounts: dict[str, None] = {}
    resources: dict[tuple[str, ...], dict[str, str]] = {}
    for alert in alerts:
        accounts.setdefault(_cloud_account(t, alert))
        for resource in alert.affected_resources():
            label = inert(resource.label)
            if resource.name and resource.uid and resource.uid != resource.name:
                label += t.raw("template.open") + inert(resource.uid) + t.raw("template.close")
            row = {
                "type": inert(resource.type or "-"),
                "resource": label,
                "region": inert(resource.region or ""),
                "account": inert(resource.account_uid or ""),
            }
            resources.setdefault(tuple(row.values()), row)
    rows = list(resources.values())
    return {
        "accounts": [line for line in accounts if line],
        "resources": rows[:MAX_CLOUD_RESOURCES],
        "more": max(0, len(rows) - MAX_CLOUD_RESOURCES),
    }


def _cloud_account(t: Catalog, alert: Alert) -> str:
    """``AWS account 111122223333 (test), region eu-west-1, organisation o-1``; "" for no cloud."""
    account = alert.cloud_account()
    if account is None:
        return ""
    parts = []
    if account.account_uid:
        named = inert(account.account_uid)
        if account.account_name:
            named += t.raw("template.open") + inert(account.account_name) + t.raw("template.close")
        provider = inert(account.provider) if account.provider else t("cloud.provider_unknown")
        parts.append(t("cloud.account", provider=provider, account=named))
    elif account.provider:
        parts.append(inert(account.provider))
    if account.region:
        parts.append(t("cloud.region", region=inert(account.region)))
    if account.org:
        parts.append(t("cloud.org", org=inert(account.org)))
    return t.join(parts)


def _actions(t: Catalog, actions: Sequence[ActionView]) -> list[dict[str, Any]]:
    rows = []
    for action in actions:
        verb = action.key.rsplit(".", 1)[-1]
        indicator = any(marker in action.key for marker in _TARGET_IS_INDICATOR)
        rows.append(
            {
                "name": action.key,
                "label": t(f"action.{verb}") if t.has(f"action.{verb}") else action.key,
                "target": defanged(action.target) if indicator else inert(action.target),
                "status": action.status,
                "status_label": t(f"action_status.{action.status}")
                if t.has(f"action_status.{action.status}")
                else action.status,
                "detail": inert(action.detail),
                "failed": action.status == "failed",
            }
        )
    return rows


def _rounds(t: Catalog, in_rounds: Sequence[Round]) -> list[dict[str, Any]]:
    """Each response round once, in order: what started it, what it found, what it did (and what it did
    again: a value removed in an earlier round and removed once more is counted once in each)."""
    told = []
    done_before: set[tuple[str, str]] = set()
    for r in in_rounds:
        succeeded = [a for a in r.actions if a.status == "succeeded"]
        again = [a for a in succeeded if (_verb(a.key), a.target) in done_before]
        new = [a for a in succeeded if (_verb(a.key), a.target) not in done_before]
        done_before.update((_verb(a.key), a.target) for a in succeeded)
        story = [t("round.found", verdict=t(f"verdict.{r.verdict}"))] if t.has(f"verdict.{r.verdict}") else []
        if new and (phrases := done_phrases(t, new)):
            story.append(t("round.done", actions=t.clauses(phrases)))
        if again and (phrases := done_phrases(t, again)):
            story.append(t("round.done_again", actions=t.clauses(phrases)))
        failed = {(a.key, a.target) for a in r.actions if a.status == "failed"}
        if failed:
            story.append(t.plural("summary.failed", len(failed)))
        if not r.actions:
            story.append(t("round.nothing_done"))
        told.append(
            {
                "number": r.number,
                "title": _round_title(t, r),
                "why": _round_why(t, r),
                "story": t.raw("template.sentence_joiner").join(story),
                "actions": _actions(t, distinct(r.actions)),
            }
        )
    return told


def _round_title(t: Catalog, r: Round) -> str:
    return t("round.title_first" if r.number == 1 else "round.title", n=r.number, at=when(r.started_at))


def _round_why(t: Catalog, r: Round) -> str:
    if r.number == 1 or not r.why:
        return ""
    said = {name: str(r.said.get(name) or "") for name in ("analyst", "verdict", "comment")}
    if r.step == "decision" and said["analyst"] and t.has(f"verdict.{said['verdict']}"):
        # The analyst's decision, told as the verdict's reasons tell it; their own words quoted as written.
        key = "finding.analyst_decision" if said["comment"] else "finding.analyst_decision_plain"
        values = {name: inert(value) for name, value in said.items()}
        return t(key, **{**values, "verdict": t(f"verdict.{said['verdict']}")})
    why = t.join([inert(item) for item in r.why if item])
    return t(f"round.start.{r.step}" if t.has(f"round.start.{r.step}") else "round.start.other", why=why)


def _verb(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _sequence_step(t: Catalog, step: TelemetryStep) -> dict[str, Any]:
    values = {
        name: (defanged(value) if name in ("host", "ip") else inert(value))
        for name, value in step.params.items()
    }
    what = t(f"sequence.{step.kind}", **values)
    if step.count > 1:
        what += t("sequence.events", n=step.count)
    rules = [t("sequence.rule", title=inert(r.title), rule=inert(r.id)) for r in step.rules]
    return {
        "at": when_exact(step.at) if step.at else t("sequence.undated"),
        "host": t.join([inert(h) for h in step.hosts or (step.host,)]) if step.host else t("none_named"),
        "stage": step.stage,
        "stage_label": t(f"stage.{step.stage}"),
        "what": what,
        "credit": t.plural("sequence.credit", len(rules), rules=t.join(rules)),
        "rules": [r.id for r in step.rules],
    }


def _chain_text(t: Catalog, kind: str, params: dict[str, str]) -> str:
    values = {
        name: (defanged(value) if name in ("url", "host") else inert(value)) for name, value in params.items()
    }
    return t(f"chain.{kind}", **values)


def _advice_text(t: Catalog, code: str, values: list[str]) -> str:
    shown = [inert(value) for value in values[:8]]  # inert: URLs and domains defanged, file names kept
    if len(values) > 8:
        shown.append(t("and_more", n=len(values) - 8))
    return t(f"mitigation.{code}", items=t.join(shown, last=True))


def _event(t: Catalog, details: EventDetails) -> dict[str, Any]:
    return {
        "reason": inert(details.reason),
        "pending": [
            {
                "action": p.action,
                "label": t(f"action.{p.action.rsplit('.', 1)[-1]}")
                if t.has(f"action.{p.action.rsplit('.', 1)[-1]}")
                else p.action,
                "target": defanged(p.target)
                if any(m in p.action for m in _TARGET_IS_INDICATOR)
                else inert(p.target),
                "approve_url": p.approve_url,
            }
            for p in details.pending
        ],
        "expires_at": when(details.expires_at) if details.expires_at else "",
        "affected_tenants": details.affected_tenants,
        "deployed": details.deployed,
        "decide_url": details.decide_url,
    }


def campaign_context(
    incident: IncidentView,
    recipient: Tenant,
    *,
    language: str | None = None,
    details: EventDetails | None = None,
    templates_dir: Path = TEMPLATES_DIR,
) -> dict[str, Any]:
    """What another customer may learn of an incident: the threat and its indicators, never the
    affected customer, its hosts, the incident's title or id (tenants never cross)."""
    t = catalog(resolve_language(language or recipient.language, templates_dir), templates_dir)
    details = details or EventDetails()
    listed = [i for i in incident.indicators if any(p.get("verdict") == "malicious" for p in i.provenance)]
    threats = sorted(
        {inert(str(p.get("reason", ""))) for i in listed for p in i.provenance if p.get("reason")}
    )
    seen = sorted({str(p["first_seen"]) for i in listed for p in i.provenance if p.get("first_seen")})
    return {
        "language": t.language,
        "mdr": {"name": t("mdr_name")},
        "tenant": {"id": recipient.id, "name": inert(recipient.name)},
        "campaign": {
            # A reference the MDR can trace back, that tells the recipient nothing about the incident.
            "reference": "CW-" + hashlib.sha256(incident.id.encode()).hexdigest()[:8].upper(),
            "threat": t.join(threats) if threats else t("campaign.unnamed"),
            "headline": threats[0] if threats else t("campaign.unnamed"),
            "first_seen": inert(seen[0]) if seen else "",
            "observed_at": when(incident.detected_at or incident.created_at),
            "indicators": [
                {
                    "type_label": t(f"indicator.{i.type}") if t.has(f"indicator.{i.type}") else i.type,
                    "value": indicator_text(i.type, i.value),
                }
                for i in listed
            ],
            "affected_tenants": details.affected_tenants,
            "deployed": details.deployed,
        },
        "mitigations": [
            t("mitigation.campaign_block") if not details.deployed else t("mitigation.campaign_deployed"),
            t("mitigation.campaign_hunt"),
        ],
    }
