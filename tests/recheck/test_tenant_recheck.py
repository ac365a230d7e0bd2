"""A tenant's own re-check settings (``recheck:`` in the tenants file): its own schedule, and no host
sessions on a schedule for a customer who does not want them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actions import ActionContext, Effect, TargetState, registry
from flows.recheck import recheck
from flows.settings import Settings
from flows.store import Store
from flows.tenants import TenantConfigError, TenantDirectory, tenants_from
from tests.recheck._build import closed_incident, dns_alert, feed
from tests.recheck.test_recheck import DOMAIN, _spec, _succeeded

TENANTS = """
tenants:
  - id: demo
    name: Demo
    notify: [{{url: 'outbox://demo'}}]
    recheck: {demo}
  - id: acme
    name: Acme
    notify: [{{url: 'outbox://acme'}}]
    recheck: {acme}
"""


def tenants_with(tmp_path: Path, demo: str = "{}", acme: str = "{}") -> TenantDirectory:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS.format(demo=demo, acme=acme), encoding="utf-8")
    return tenants_from(path)


def test_the_default_schedule_leaves_out_tenants_with_their_own(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    tenants = tenants_with(tmp_path, acme="{cron: '0 */6 * * *'}")
    same = feed(tmp_path / "feed.csv", ("domain", DOMAIN, "benign", "Vendor CDN", "allow-feed"))
    demo = closed_incident(store, dns_alert(1, DOMAIN, tenant="demo"), feeds=[same])
    acme = closed_incident(store, dns_alert(2, DOMAIN, tenant="acme"), feeds=[same])
    now = datetime.now(UTC)

    default_run = recheck(store, tenants, now=now, feeds=[same], skip_own_schedules=True)
    acme_run = recheck(store, tenants, now=now, feeds=[same], tenant="acme", skip_own_schedules=True)
    by_hand = recheck(store, tenants, now=now, feeds=[same], dry_run=True)

    assert [f.incident_id for f in default_run] == [demo]
    assert [f.incident_id for f in acme_run] == [acme]
    assert {f.incident_id for f in by_hand} == {demo, acme}  # by hand, unless told, everyone


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("{cron: '61 * * * *'}", "recheck.cron: .*'61 \\* \\* \\* \\*' is not a cron line: Bad minute"),
        ("{cron: '*/5 * * *'}", "recheck.cron: .*is not a cron line"),
        ("{cron: '0 0 * * * 1'}", "recheck.cron: .*a cron line has 5 fields"),
        ("{every: daily}", "recheck.every: .*Extra inputs are not permitted"),
    ],
)
def test_a_bad_recheck_setting_is_refused_naming_the_tenant_and_field(
    tmp_path: Path, given: str, says: str
) -> None:
    with pytest.raises(TenantConfigError, match=says):
        tenants_with(tmp_path, acme=given)


def test_a_tenant_that_wants_no_host_sessions_gets_no_script_run_to_verify(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[Any] = []

    async def reads_on_the_host(inputs: Any, ctx: ActionContext) -> TargetState:
        reads.append(inputs)
        return TargetState(effect=Effect.APPLIED, detail="Run key still gone")

    spec = replace(_spec("fake.script_read_host", reads_on_the_host), read_sends=True)
    monkeypatch.setitem(registry.actions, spec.key, spec)
    same = feed(tmp_path / "feed.csv", ("domain", DOMAIN, "benign", "Vendor CDN", "allow-feed"))
    incident_id = closed_incident(store, dns_alert(1, DOMAIN), feeds=[same])
    _succeeded(store, incident_id, spec.key)
    now = datetime.now(UTC)

    [allowed] = recheck(store, tenants_with(tmp_path), now=now, feeds=[same], dry_run=True)
    [refused] = recheck(
        store, tenants_with(tmp_path, demo="{read_host_state: false}"), now=now, feeds=[same], dry_run=True
    )

    assert [(e.state, e.detail) for e in allowed.effects] == [("holds", "Run key still gone")]
    assert [(e.state, e.detail) for e in refused.effects] == [
        ("unverifiable", "reading it runs a script on the host, which tenant demo turned off")
    ]
    assert len(reads) == 1  # only the allowed run read the host
