"""The re-check as a plain function over closed incidents built through the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from actions import (
    ActionContext,
    ActionResult,
    ActionSpec,
    Capability,
    Effect,
    TargetKind,
    TargetState,
    registry,
)
from flows.recheck import Outcome, RecheckError, recheck
from flows.settings import Settings
from flows.store import IncidentStatus, Store
from flows.tenants import TenantDirectory, tenants_from
from tests.recheck._build import closed_incident, dns_alert, feed

DOMAIN = "cdn-update.example-telemetry.net"


@pytest.fixture
def tenants(settings: Settings) -> TenantDirectory:
    return tenants_from(settings.tenants_file)


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_benign_incident_whose_indicator_is_now_listed_malicious_is_reopened(
    store: Store, tenants: TenantDirectory, tmp_path: Path
) -> None:
    then = feed(tmp_path / "then.csv", ("domain", DOMAIN, "benign", "Vendor CDN", "allow-feed"))
    incident_id = closed_incident(store, dns_alert(1, DOMAIN), feeds=[then])
    before = store.incident(incident_id)
    assert before is not None and before.verdict == "benign" and before.round == 1
    now = feed(tmp_path / "now.csv", ("domain", DOMAIN, "malicious", "Loader C2", "c2-feed"))

    [finding] = recheck(store, tenants, now=_now(), feeds=[now])

    assert finding.outcome is Outcome.REOPENED and finding.round == 2
    assert f"domain {DOMAIN.replace('.', '[.]')} is now listed malicious by c2-feed" in finding.reasons
    assert finding.verdict_then == "benign" and finding.verdict_now in ("suspicious", "malicious")
    incident = store.incident(incident_id)
    assert incident is not None
    assert (incident.status, incident.round, incident.flow_run_id, incident.closed_at) == (
        "reopened",
        2,
        None,
        None,
    )
    assert incident_id in store.undispatched()  # the dispatcher's sweeper starts the new round
    [line] = [t for t in incident.timeline if t.step == "recheck"]
    assert line.message.startswith("re-check: reopened: ") and line.message.endswith("(new response round 2)")
    assert line.data["verdict_then"] == "benign" and line.data["indicators_newly_malicious"]
    assert [(n.event, n.status) for n in incident.notifications] == [
        ("incident_reopened", "delivered"),
        ("escalation", "delivered"),
    ]
    assert store.check_audit().intact
    with store.engine.connect() as conn:  # the reopening is on the audit trail, its chain intact
        events = [row[0] for row in conn.exec_driver_sql("SELECT event FROM audit ORDER BY id")]
    assert "incident.reopened" in events


def test_an_incident_where_nothing_changed_is_still_fine_and_untouched(
    store: Store, tenants: TenantDirectory, tmp_path: Path
) -> None:
    same = feed(tmp_path / "feed.csv", ("domain", DOMAIN, "benign", "Vendor CDN", "allow-feed"))
    incident_id = closed_incident(store, dns_alert(1, DOMAIN), feeds=[same])
    before = store.incident(incident_id)
    assert before is not None

    [finding] = recheck(store, tenants, now=_now(), feeds=[same])

    assert finding.outcome is Outcome.STILL_FINE and not finding.reasons
    after = store.incident(incident_id)
    assert after is not None
    assert (after.status, after.round, after.closed_at, after.verdict) == (
        "closed",
        1,
        before.closed_at,
        before.verdict,
    )
    assert after.notifications == [] and after.indicators == before.indicators
    [line] = after.timeline[len(before.timeline) :]
    assert line.step == "recheck"
    assert line.message == (
        "re-check: still fine (verdict benign as before; no effect of the last round to verify; "
        "1 indicators re-enriched, none newly listed)"
    )
    assert line.data["verdict_now"] == "benign" and line.data["effects_checked"] == []


def test_a_dry_run_reopens_nothing_and_writes_nothing(
    store: Store, tenants: TenantDirectory, tmp_path: Path
) -> None:
    then = feed(tmp_path / "then.csv", ("domain", DOMAIN, "benign", "Vendor CDN", "allow-feed"))
    incident_id = closed_incident(store, dns_alert(1, DOMAIN), feeds=[then])
    before = store.incident(incident_id)
    now = feed(tmp_path / "now.csv", ("domain", DOMAIN, "malicious", "Loader C2", "c2-feed"))

    [finding] = recheck(store, tenants, now=_now(), feeds=[now], dry_run=True)

    assert finding.outcome is Outcome.WOULD_REOPEN and finding.changed and finding.round is None
    assert store.incident(incident_id) == before


def test_the_horizon_tenant_and_incident_choose_what_is_checked(
    store: Store, tenants: TenantDirectory, tmp_path: Path
) -> None:
    same = feed(tmp_path / "feed.csv", ("domain", DOMAIN, "benign", "Vendor CDN", "allow-feed"))
    first = closed_incident(store, dns_alert(1, DOMAIN), feeds=[same])
    second = closed_incident(store, dns_alert(2, DOMAIN), feeds=[same])
    store.record_alert(*_open_alert())  # an open incident is never re-checked

    assert {f.incident_id for f in recheck(store, tenants, now=_now(), feeds=[same])} == {first, second}
    assert recheck(store, tenants, now=_now() + timedelta(days=31), horizon_days=30, feeds=[same]) == []
    [only] = recheck(store, tenants, now=_now(), incident_id=second[:8], feeds=[same], dry_run=True)
    assert only.incident_id == second

    with pytest.raises(RecheckError, match="unknown tenant 'nobody'"):
        recheck(store, tenants, now=_now(), tenant="nobody")
    open_id = next(s.id for s in store.incidents() if s.status == "new")
    with pytest.raises(RecheckError, match=rf"incident {open_id[:8]} is not closed \(status new\)"):
        recheck(store, tenants, now=_now(), incident_id=open_id)
    with pytest.raises(RecheckError, match="before the horizon of 30 days"):
        recheck(store, tenants, now=_now() + timedelta(days=31), horizon_days=30, incident_id=first)


def _open_alert() -> tuple[Any, dict[str, Any]]:
    from flows.models import Alert

    document = dns_alert(99, "other.example-telemetry.net", host="WS-OPEN-01")
    return Alert.model_validate(document), document


# -- effects that cannot be verified -------------------------------------------------------------------


class _Host(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hostname: str


async def _never(inputs: Any, ctx: ActionContext) -> ActionResult:
    raise AssertionError("a re-check never acts")


async def _raises(inputs: Any, ctx: ActionContext) -> TargetState:
    raise ConnectionError("console unreachable")


async def _unknown(inputs: Any, ctx: ActionContext) -> TargetState:
    return TargetState(effect=Effect.UNKNOWN, detail="device offline")


def _spec(key: str, reader: Any) -> ActionSpec:
    return ActionSpec(
        key=key,
        fn=_never,
        inputs=_Host,
        target=TargetKind.HOST,
        description=key,
        reader=reader,
        capability=Capability.ISOLATE_HOST,
    )


def test_effects_without_a_reader_or_whose_reader_fails_cannot_be_verified_and_reopen_nothing(
    store: Store, tenants: TenantDirectory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, reader in (
        ("fake.noread_host", None),
        ("fake.raise_host", _raises),
        ("fake.unknown_host", _unknown),
    ):
        monkeypatch.setitem(registry.actions, key, _spec(key, reader))
    same = feed(tmp_path / "feed.csv", ("domain", DOMAIN, "benign", "Vendor CDN", "allow-feed"))
    incident_id = closed_incident(store, dns_alert(1, DOMAIN), feeds=[same])
    for key in ("fake.noread_host", "fake.raise_host", "fake.unknown_host", "fake.undone_host"):
        _succeeded(store, incident_id, key)
    undone = next(r for r in store.ledger.rows(incident_id) if r.action == "fake.undone_host")
    _succeeded(store, incident_id, "fake.release_host", reverses=undone.id)

    [finding] = recheck(store, tenants, now=_now(), feeds=[same])

    assert finding.outcome is Outcome.STILL_FINE
    assert sorted((e.action, e.state, e.detail) for e in finding.effects) == [
        ("fake.noread_host", "unverifiable", "fake.noread_host cannot read the target's state"),
        ("fake.raise_host", "unverifiable", "ConnectionError: console unreachable"),
        ("fake.unknown_host", "unverifiable", "the vendor says unknown: device offline"),
    ]  # the rolled-back row is not expected to hold
    incident = store.incident(incident_id)
    assert incident is not None and incident.status == IncidentStatus.CLOSED
    assert "0 of 3 effects in place; 3 cannot be verified" in incident.timeline[-1].message


def _succeeded(store: Store, incident_id: str, action: str, reverses: int | None = None) -> None:
    entry = store.ledger.claim(
        tenant="demo",
        incident_id=incident_id,
        action=action,
        target="WS-SALES-0001",
        inputs={"hostname": "WS-SALES-0001"},
        inverse=None,
        owner="test",
        lease_seconds=60,
        reverses=reverses,
        key=f"{incident_id}-{action}",
    )
    assert store.ledger.finish(entry.id, "test", status="succeeded", detail="done")
