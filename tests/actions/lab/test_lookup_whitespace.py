"""Issue 10, finding 8: a hostname with a trailing space was refused as "could match several devices".
Surrounding whitespace is no part of a hostname: the lab finds the one device it names (still exactly one);
whitespace inside a name is refused with a message that says so."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import actions.lab  # noqa: F401 - registers the lab.* actions
from actions import ActionContext, ActionResult, TargetNotFound, registry
from actions.lab import HostSeed, LabFleet
from flows.demo import DEMO_HOST, mykings_host
from flows.store import Store


@pytest.fixture
def fleet(store: Store) -> LabFleet:
    fleet = LabFleet(store.engine)
    fleet.seed(mykings_host())
    return fleet


def run(store: Store, key: str, inputs: dict[str, Any]) -> ActionResult:
    ctx = ActionContext(tenant="demo", incident_id="i1", db=store.engine)
    return asyncio.run(registry.get(key).run(inputs, ctx))


@pytest.mark.parametrize(
    "given", [f"{DEMO_HOST} ", f" {DEMO_HOST}", f"{DEMO_HOST.lower()}\t", f"\n{DEMO_HOST}"]
)
def test_surrounding_whitespace_names_the_same_one_device(store: Store, fleet: LabFleet, given: str) -> None:
    run(store, "lab.isolate_host", {"hostname": given})

    assert fleet.show("demo", DEMO_HOST)[0]["isolated"] is True
    assert len(fleet.show("demo", given)) == 1


def test_a_trimmed_name_that_matches_two_devices_is_still_ambiguous(store: Store, fleet: LabFleet) -> None:
    fleet.seed(HostSeed(tenant="demo", hostname=f"{DEMO_HOST} "), replace=False)

    with pytest.raises(TargetNotFound, match="2 devices named 'WS-FINANCE-07'"):
        run(store, "lab.isolate_host", {"hostname": f"{DEMO_HOST} "})

    assert not any(h["isolated"] for h in fleet.show("demo", DEMO_HOST))


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("WS FINANCE-07", r"'WS FINANCE-07' is no hostname \(whitespace inside\)"),
        ("   ", "an empty hostname"),
    ],
)
def test_what_is_no_hostname_is_refused_saying_why(
    store: Store, fleet: LabFleet, given: str, message: str
) -> None:
    with pytest.raises(TargetNotFound, match=message) as refused:
        run(store, "lab.isolate_host", {"hostname": given})

    assert "several" not in str(refused.value) and "devices" not in str(refused.value)
    assert fleet.show("demo", DEMO_HOST)[0]["isolated"] is False
