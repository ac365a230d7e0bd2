"""Links across time: a new incident naming an account, host, hash or indicator of a closed one links the
two and reopens the closed one for review (DESIGN §1: the attack-tool incident's account, eight months
later, logging in over VPN)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from flows.models import Alert
from flows.respond import RespondRequest, respond
from flows.respond._links import link_earlier
from flows.settings import Settings
from flows.store import IncidentStatus, IncomingAlert, Store
from flows.store._schema import IncidentRow
from flows.tenants import Tenant, tenants_from
from tests.recheck._build import SEPARATE, closed_incident


def attack_tool(
    account: str = "CORP\\jdoe", host: str = "WS-FINANCE-07", tenant: str = "demo"
) -> dict[str, Any]:
    """An EDR detection of an attack tool saved by ``account`` (the ransomware case's precursor)."""
    return {
        "class_uid": 2004,
        "category_uid": 2,
        "activity_id": 1,
        "type_uid": 200401,
        "severity_id": 3,
        "time": 1_700_000_000_000,
        "metadata": {"version": "1.3.0", "tenant_uid": tenant, "product": {"name": "Demo EDR"}},
        "finding_info": {"uid": f"tool-{host}-{account}", "title": "Hack tool saved: AdFind.exe"},
        "device": {"hostname": host},
        "observables": [{"name": "actor.user.name", "type_id": 4, "value": account}],
    }


def vpn_login(account: str = "jdoe@corp.example", tenant: str = "demo") -> dict[str, Any]:
    """Months later: a login from an unusual country through the VPN gateway, by the same person."""
    return {
        "class_uid": 2004,
        "category_uid": 2,
        "activity_id": 1,
        "type_uid": 200401,
        "severity_id": 3,
        "time": 1_720_000_000_000,
        "metadata": {"version": "1.3.0", "tenant_uid": tenant, "product": {"name": "Demo VPN"}},
        "finding_info": {"uid": f"vpn-{account}", "title": "VPN login from an unusual country"},
        "device": {"hostname": "VPN-GW-1"},
        "observables": [{"name": "user.name", "type_id": 4, "value": account}],
    }


def new_incident(store: Store, document: dict[str, Any]) -> str:
    alert = Alert.model_validate(document)
    [accepted] = store.ingest([IncomingAlert(alert=alert, document=document)], SEPARATE)
    store.save_indicators(accepted.incident_id, alert.indicators())
    return accepted.incident_id


def demo(settings: Settings) -> Tenant:
    tenant = tenants_from(settings.tenants_file).get("demo")
    assert tenant is not None
    return tenant


def outbox(settings: Settings) -> list[dict[str, Any]]:
    found = []
    for path in sorted((settings.home / "outbox").rglob("*.json")):
        found.append(json.loads(path.read_text(encoding="utf-8")))
    return found


def test_the_attack_tools_account_logging_in_later_reopens_the_closed_incident(
    settings: Settings, store: Store
) -> None:
    earlier = closed_incident(store, attack_tool())
    later = new_incident(store, vpn_login())

    reopened = link_earlier.fn(store, later, demo(settings), "suspicious")

    assert reopened == [earlier]
    old, new = store.incident(earlier), store.incident(later)
    assert old is not None and new is not None
    assert (old.status, old.round) == (IncidentStatus.REOPENED, 2)
    why = next(e.message for e in reversed(old.timeline) if e.step == "link")
    # The value as the closed incident knew it (the EDR's Windows form; the VPN said jdoe@corp.example).
    assert "account 'CORP\\jdoe' seen again in incident" in why and later[:8] in why
    assert new.related_incident_id == earlier
    line = next(e for e in new.timeline if e.step == "link")
    assert line.message.startswith(f"linked to earlier incident {earlier[:8]} (closed ")
    assert line.data == {"linked_incident": earlier, "by": "account", "value": "CORP\\jdoe"}
    told = {n.event for n in old.notifications}
    assert {"incident_reopened", "escalation"} <= told


def test_a_benign_newcomer_is_linked_but_reopens_nothing(settings: Settings, store: Store) -> None:
    earlier = closed_incident(store, attack_tool())
    later = new_incident(store, vpn_login())

    assert link_earlier.fn(store, later, demo(settings), "benign") == []

    assert store.incident(earlier).status == IncidentStatus.CLOSED  # type: ignore[union-attr]
    assert store.incident(later).related_incident_id == earlier  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("earlier_doc", "later_doc"),
    [
        # Built-in accounts are in every Windows incident: chance, not a lead.
        (attack_tool("NT AUTHORITY\\SYSTEM"), vpn_login("SYSTEM")),
        # Another tenant's incident is never linked, nor reopened, nor named.
        (attack_tool(tenant="acme"), vpn_login()),
    ],
    ids=["builtin-account", "other-tenant"],
)
def test_values_that_mean_nothing_link_nothing(
    settings: Settings, store: Store, earlier_doc: dict[str, Any], later_doc: dict[str, Any]
) -> None:
    earlier = closed_incident(store, earlier_doc)
    later = new_incident(store, later_doc)

    assert link_earlier.fn(store, later, demo(settings), "malicious") == []

    assert store.incident(earlier).status == IncidentStatus.CLOSED  # type: ignore[union-attr]
    assert store.incident(later).related_incident_id is None  # type: ignore[union-attr]


def test_the_same_host_by_its_fqdn_links_and_the_horizon_bounds_it(settings: Settings, store: Store) -> None:
    recent = closed_incident(store, attack_tool(account="CORP\\alice", host="WS-FINANCE-07"))
    old = closed_incident(store, attack_tool(account="CORP\\bob", host="ws-finance-07"))
    with Session(store.engine) as session, session.begin():  # closed 400 days ago: past the horizon
        session.execute(
            update(IncidentRow)
            .where(IncidentRow.id == old)
            .values(closed_at=datetime.now(UTC) - timedelta(days=400))
        )
    document = copy.deepcopy(attack_tool(account="CORP\\carol", host="WS-FINANCE-07.corp.example"))
    document["finding_info"]["title"] = "Credential dumping: lsass access"
    later = new_incident(store, document)

    assert link_earlier.fn(store, later, demo(settings), "malicious") == [recent]

    line = next(e for e in store.incident(later).timeline if e.step == "link")  # type: ignore[union-attr]
    assert line.data["by"] == "host" and "host 'WS-FINANCE-07'" in line.message


def test_only_a_first_round_looks_for_links(settings: Settings, store: Store) -> None:
    earlier = closed_incident(store, attack_tool())
    later = closed_incident(store, vpn_login())  # closed, then reopened for another reason: round 2
    assert store.reopen(later, "re-check: reopened: test") == 2

    assert link_earlier.fn(store, later, demo(settings), "malicious") == []
    assert store.incident(earlier).status == IncidentStatus.CLOSED  # type: ignore[union-attr]


@pytest.mark.usefixtures("prefect_harness")
def test_the_respond_flow_links_and_reopens(settings: Settings, store: Store) -> None:
    earlier = closed_incident(store, attack_tool())
    later = new_incident(store, vpn_login())

    respond(RespondRequest(incident_id=later))

    assert store.incident(earlier).status == IncidentStatus.REOPENED  # type: ignore[union-attr]
    new = store.incident(later)
    assert new is not None and new.related_incident_id == earlier
    assert any(e.step == "link" and earlier[:8] in e.message for e in new.timeline)
