"""The escalation chain: tier 1 is called when an incident starts to wait, each later tier when the one
before lapsed (or an analyst escalated), and past the last tier the tenant's default applies — never a
destructive action. Walked with a clock of the test's choosing, against a real store and outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from flows.cli import app
from flows.models import Alert, Reason, Verdict, VerdictLabel
from flows.respond import chain_state, walk_escalations
from flows.settings import Settings
from flows.store import IncidentStatus, Store
from flows.store._schema import AuditRow
from flows.tenants import TenantConfigError, TenantDirectory, load_tenants

HOST = "WS-GRAY-01"


def _tenants(tmp_path: Path, **policy: Any) -> TenantDirectory:
    data = {
        "analysts": ["alice", "bob", "carol"],
        "groups": {
            "tier1": {"analysts": ["alice", "bob"], "notify": [{"url": "outbox://_tier1"}]},
            "tier2": {"analysts": ["carol"], "notify": [{"url": "outbox://_tier2"}]},
            "oncall": {"analysts": ["carol"], "notify": [{"url": "outbox://_oncall"}]},
        },
        "tenants": [
            {
                "id": "demo",
                "name": "Demo Customer Ltd.",
                "policy": {
                    "escalation": [
                        {"group": "tier1", "minutes": 15},
                        {"group": "tier2", "minutes": 30},
                        {"group": "oncall", "minutes": 60},
                    ],
                    **policy,
                },
            }
        ],
    }
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_tenants(path)


def _waiting(store: Store, *, risky: bool = False) -> str:
    document: dict[str, Any] = {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Demo AV"}},
        # The risky one is an incident of its own (the same alert again would be a duplicate of the first).
        "finding_info": {"uid": "gray-risky" if risky else "gray-1", "title": "Unusual outbound connection"},
        "device": {"hostname": f"{HOST}-2" if risky else HOST},
    }
    incident_id = store.record_alert(Alert.model_validate(document), document).incident_id
    reasons = [Reason(question="q", finding="f", effect=0, code="analyst_required")] if risky else []
    store.set_verdict(incident_id, Verdict(verdict=VerdictLabel.SUSPICIOUS, score=40, reasons=reasons))
    store.set_status(incident_id, IncidentStatus.AWAITING_APPROVAL, "escalated to an analyst", "escalate")
    assert store.end_run(incident_id) is None  # its run ended: it waits, as a gray incident does
    return incident_id


def _sent(settings: Settings, group: str) -> list[Path]:
    return sorted((settings.outbox_dir / group).glob("*.txt"))


def _audited(store: Store, incident_id: str) -> list[str]:
    with Session(store.engine) as session:
        query = select(AuditRow.event).where(AuditRow.subject == incident_id).order_by(AuditRow.id)
        return [e for e in session.scalars(query) if e.startswith("escalation")]


def test_the_chain_calls_each_tier_in_turn_then_keeps_waiting(
    tmp_path: Path, store: Store, settings: Settings
) -> None:
    tenants = _tenants(tmp_path)
    incident_id = _waiting(store)
    start = datetime.now(UTC)

    first = walk_escalations(store, tenants, start)
    assert len(first) == 1 and "tier 1 of 3 (tier1)" in first[0]
    assert len(_sent(settings, "_tier1")) == 1 and not _sent(settings, "_tier2")
    assert walk_escalations(store, tenants, start + timedelta(minutes=14)) == []  # tier 1 still has time

    second = walk_escalations(store, tenants, start + timedelta(minutes=15, seconds=1))
    assert "tier 2 of 3 (tier2): no decision in 15 min" in second[0]
    assert "tier 2 of 3 (tier2)" in _sent(settings, "_tier2")[0].read_text(encoding="utf-8")
    [waiting] = json.loads(CliRunner().invoke(app, ["pending", "--json"]).stdout)
    assert waiting["waiting_for"] == "tier2: carol"  # `garrison pending` says who is called now

    # An analyst of tier 2 answers "escalate": on-call is called at once, not after tier 2's 30 min.
    store.decide_waiting(incident_id, "escalate", "carol", "needs the on-call's eyes")
    third = walk_escalations(store, tenants, start + timedelta(minutes=16))
    assert "tier 3 of 3 (oncall): an analyst escalated it" in third[0]
    assert len(_sent(settings, "_oncall")) == 1

    # (Each call is stamped with the real clock, here all at about `start`: on-call has 60 min from it.)
    assert walk_escalations(store, tenants, start + timedelta(minutes=59)) == []
    ended = walk_escalations(store, tenants, start + timedelta(minutes=61))
    assert "it keeps waiting (the tenant's default)" in ended[0]
    assert walk_escalations(store, tenants, start + timedelta(days=3)) == []  # the default applies once

    incident = store.incident(incident_id)
    assert incident is not None and incident.status == "awaiting_approval"
    state = chain_state(incident)
    assert [t.data["group"] for t in state.called] == ["tier1", "tier2", "oncall"] and state.ended
    assert _audited(store, incident_id) == ["escalation.tier"] * 3 + ["escalation.default"]
    assert store.check_audit().intact


def test_past_the_chain_a_tenant_that_calls_unknown_benign_closes_what_is_not_risky(
    tmp_path: Path, store: Store, settings: Settings
) -> None:
    tenants = _tenants(tmp_path, unknown_verdict="benign")
    plain, risky = _waiting(store), None
    start = datetime.now(UTC)
    for minutes in (0, 16, 47, 108):
        walk_escalations(store, tenants, start + timedelta(minutes=minutes))

    incident = store.incident(plain)
    assert incident is not None and incident.status == "closed"
    assert "policy calls unknown benign" in incident.timeline[-1].message

    other = Store.open(settings.database_url)
    risky = _waiting(other, risky=True) if risky is None else risky
    later = datetime.now(UTC)
    for minutes in (0, 16, 47, 108):
        walk_escalations(store, tenants, later + timedelta(minutes=minutes))
    kept = store.incident(risky)
    assert kept is not None and kept.status == "awaiting_approval"  # attacker behaviour: a person decides


def test_a_new_wait_starts_the_chain_again(tmp_path: Path, store: Store) -> None:
    tenants = _tenants(tmp_path)
    incident_id = _waiting(store)
    start = datetime.now(UTC)
    walk_escalations(store, tenants, start)
    store.set_status(incident_id, IncidentStatus.TRIAGING, "a new round", "respond")
    assert walk_escalations(store, tenants, start + timedelta(minutes=20)) == []  # not waiting: no call
    store.set_status(incident_id, IncidentStatus.AWAITING_APPROVAL, "waits again", "escalate")

    again = walk_escalations(store, tenants, datetime.now(UTC))
    assert "tier 1 of 3" in again[0]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"groups": {"tier1": {"analysts": ["mallory"], "notify": [{"url": "outbox://x"}]}}}, "groups.tier1"),
        ({"policy": {"escalation": [{"group": "nobody", "minutes": 5}]}}, "policy.escalation.0.group"),
        ({"policy": {"escalation": [{"group": "tier1", "minutes": 0}]}}, "minutes"),
    ],
)
def test_the_tenants_file_names_a_broken_chain(tmp_path: Path, change: dict[str, Any], said: str) -> None:
    data: dict[str, Any] = {
        "analysts": ["alice"],
        "groups": {"tier1": {"analysts": ["alice"], "notify": [{"url": "outbox://_tier1"}]}},
        "tenants": [{"id": "demo", "name": "Demo", "policy": change.pop("policy", {})}],
    }
    data.update(change)
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(TenantConfigError, match=said):
        load_tenants(path)
