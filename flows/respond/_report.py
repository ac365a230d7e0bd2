"""The values templates see: an incident with every indicator and free text defanged in advance."""

from __future__ import annotations

from typing import Any

from flows.models import defang
from flows.models import defang_text as _defang_text
from flows.settings import get_settings
from flows.store import IncidentView
from flows.tenants import Tenant

_TARGET_IS_INDICATOR = (".block_", ".unblock_")


def report_context(incident: IncidentView, tenant: Tenant) -> dict[str, Any]:
    detected = incident.detected_at or incident.created_at
    return {
        "tenant": {"id": tenant.id, "name": defang_text(tenant.name)},
        "incident": {
            "id": incident.id,
            "short_id": incident.id[:8],
            "title": defang_text(incident.title),
            "status": incident.status,
            "verdict": incident.verdict or "undecided",
            "verdict_label": (incident.verdict or "undecided").upper(),
            "score": incident.score if incident.score is not None else 0,
            "hosts": [defang_text(h) for h in incident.hosts],
            "alert_count": incident.alert_count,
            "detected_at": _when(detected),
            "contained_at": _when(incident.contained_at) if incident.contained_at else None,
            "ui_url": f"{get_settings().prefect_ui_url}/runs/flow-run/{incident.flow_run_id}"
            if incident.flow_run_id
            else None,
        },
        "reasons": [
            {
                "question": r["question"],
                "finding": defang_text(str(r["finding"])),
                "effect": int(r["effect"]),
            }
            for r in incident.reasons
        ],
        "indicators": [
            {
                "type": i.type,
                "value": defang(i.value),
                "listed": any(p.get("verdict") == "malicious" for p in i.provenance),
                "why": "; ".join(defang_text(str(p.get("reason", ""))) for p in i.provenance),
            }
            for i in incident.indicators
        ],
        "actions": [
            {
                "name": a.key,
                "target": defang(a.target)
                if any(m in a.key for m in _TARGET_IS_INDICATOR)
                else defang_text(a.target),
                "status": a.status,
                "detail": defang_text(a.detail),
            }
            for a in incident.actions
        ],
        "timeline": [
            {"at": _when(t.at), "step": t.step, "message": defang_text(t.message)} for t in incident.timeline
        ],
    }


def defang_text(text: str) -> str:
    """Free text from alerts, made inert for every channel: IOCs defanged, and no angle brackets, which
    chat systems read as mentions and links (Slack ``<!channel>``, ``<https://evil|Approve>``)."""
    return _defang_text(text).replace("<", "‹").replace(">", "›")


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""
