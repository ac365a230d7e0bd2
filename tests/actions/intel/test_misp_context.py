"""MISP attribute search with its events' context (issue #16): the threat level, info, date and tags of
the event behind each attribute decide the verdict and are named in the reason.

MISP's own code says what an attribute search returns of its event (app/Model/MispAttribute.php,
fetchAttributes): ``'Event' => array('fields' => array('id', 'info', 'org_id', 'orgc_id', 'uuid'))`` -
a stub without threat level or date - unless ``includeContext`` asks for the event's metadata
(``__fetchEventsForAttributeContext``: ``'eventid' => $eventIds, 'metadata' => true``), which is also
what a MISP that ignores it for JSON is asked with ``POST /events/restSearch``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest
import respx

from actions.http import HttpPool
from tests.actions._support import vendor_fixture
from tests.actions.intel._helpers import MISP, fixture, make_ctx, run

IP = "198.51.100.44"


@pytest.fixture
def misp() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=MISP, assert_all_called=False) as mock:
        yield mock


def test_the_events_context_decides_the_verdict_and_is_named(misp: respx.MockRouter, pool: HttpPool) -> None:
    search = misp.post("/attributes/restSearch").respond(
        200, json=vendor_fixture("misp-attributes-restsearch-context.json")
    )
    events = misp.post("/events/restSearch")

    qakbot, scanners = run("misp.lookup_attribute", {"value": IP}, make_ctx(pool))

    sent = json.loads(search.calls.last.request.content)
    assert sent["includeContext"] is True and sent["includeEventTags"] is True
    assert not events.called  # the context came with the attributes
    assert (qakbot.verdict, qakbot.source) == ("malicious", "CIRCL (MISP)")
    assert qakbot.reason == (
        "MISP event 'QakBot distribution wave, tier-1 C2' of 2025-11-10; C2 on 443/tcp; threat-actor TA570; "
        "threat level high"
    )
    assert qakbot.first_seen == "2025-11-10"
    # An unrated, unpublished community event is not a conviction.
    assert (scanners.verdict, scanners.source) == ("suspicious", "Example ISAC (MISP)")
    assert scanners.reason == (
        "MISP event 'Community scanner list, unvetted' of 2025-09-02; threat level undefined; "
        "event not published"
    )


def test_a_stub_only_answer_is_completed_by_one_events_search(misp: respx.MockRouter, pool: HttpPool) -> None:
    stubbed = copy.deepcopy(vendor_fixture("misp-attributes-restsearch-context.json"))
    for attribute in stubbed["response"]["Attribute"]:
        event = attribute["Event"]
        attribute["Event"] = {k: event[k] for k in ("id", "info", "org_id", "orgc_id", "uuid")}
    misp.post("/attributes/restSearch").respond(200, json=stubbed)
    metadata = {
        "response": [
            {"Event": original["Event"]}
            for original in vendor_fixture("misp-attributes-restsearch-context.json")["response"]["Attribute"]
        ]
    }
    events = misp.post("/events/restSearch").respond(200, json=metadata)

    records = run("misp.lookup_attribute", {"value": IP}, make_ctx(pool))

    assert json.loads(events.calls.last.request.content)["eventid"] == ["187", "212"]
    assert [(r.verdict, r.source) for r in records] == [
        ("malicious", "CIRCL (MISP)"),
        ("suspicious", "Example ISAC (MISP)"),
    ]
    assert "of 2025-11-10" in records[0].reason and "threat level high" in records[0].reason


def test_an_events_answer_speaks_only_for_the_events_asked_about(
    misp: respx.MockRouter, pool: HttpPool
) -> None:
    misp.post("/attributes/restSearch").respond(
        200, json=fixture("providers/misp-attributes-restsearch.json")
    )
    answer = copy.deepcopy(vendor_fixture("misp-events-restsearch-metadata.json"))
    # A stray event, and the asked one's metadata moved to another id: neither may colour event 149.
    answer["response"][0]["Event"]["id"] = "150"
    answer["response"].append({"Event": {"id": "7", "threat_level_id": "1", "info": "stray"}})
    answer["response"].append("not an event")
    misp.post("/events/restSearch").respond(200, json=answer)

    records = run("misp.lookup_attribute", {"value": "203.0.113.10"}, make_ctx(pool))

    assert {(r.verdict, r.source) for r in records} == {("malicious", "misp")}
    assert all("stray" not in r.reason and "threat level" not in r.reason for r in records)


def test_an_event_id_that_is_not_a_number_is_never_asked_about(
    misp: respx.MockRouter, pool: HttpPool
) -> None:
    answer = copy.deepcopy(fixture("providers/misp-attributes-restsearch.json"))
    for attribute in answer["response"]["Attribute"]:
        attribute["Event"]["id"] = "149 OR 1=1"
        attribute["event_id"] = "149 OR 1=1"
    misp.post("/attributes/restSearch").respond(200, json=answer)
    events = misp.post("/events/restSearch")

    records = run("misp.lookup_attribute", {"value": "203.0.113.10"}, make_ctx(pool))

    assert not events.called and len(records) == 2


def test_the_context_can_be_left_out(misp: respx.MockRouter, pool: HttpPool) -> None:
    search = misp.post("/attributes/restSearch").respond(
        200, json=fixture("providers/misp-attributes-restsearch.json")
    )
    events = misp.post("/events/restSearch")

    records = run("misp.lookup_attribute", {"value": "203.0.113.10", "includeContext": False}, make_ctx(pool))

    assert json.loads(search.calls.last.request.content)["includeContext"] is False
    assert not events.called and records[0].reason.startswith("MISP event 'DUOBEAN loader infrastructure'; ")
