"""OpenC2 over HTTPS: commands posted with the OpenC2 media type and bearer token; responses mapped onto
results and the error tree."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

import actions.openc2  # noqa: F401 - registers the openc2.* actions
from actions import ActionStatus, PermanentError, TargetNotFound, TransientError
from actions.http import HttpPool
from actions.openc2 import OpenC2Invalid, validate_slpf
from tests.actions._support import CANARIES, assert_no_secret, make_ctx, run, vendor_fixture

BASE = "https://oc2.test"
RESPONSES = vendor_fixture("openc2-responses.json")
SETTINGS = {"base_url": BASE, "named_group": "perimeter"}


@pytest.fixture
def consumer() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


def ctx(pool: HttpPool):  # type: ignore[no-untyped-def]
    return make_ctx(pool, "openc2", SETTINGS)


def test_block_ip_posts_a_valid_slpf_deny_and_keeps_the_rule_number(
    consumer: respx.MockRouter, pool: HttpPool, debug_logs: Any
) -> None:
    route = consumer.post("/openc2").respond(200, json=RESPONSES["deny_with_rule"])

    result = run("openc2.block_ip", {"ip": "198.51.100.7"}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.vendor_ref == "1234"
    assert result.undo == {"ip": "198.51.100.7", "rule_number": 1234}
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/openc2-cmd+json;version=1.0"
    assert request.headers["accept"] == "application/openc2-rsp+json;version=1.0"
    assert request.headers["authorization"] == f"Bearer {CANARIES['openc2_api_token']}"
    sent = json.loads(request.content)
    validate_slpf(sent)
    assert sent["target"] == {"ipv4_net": "198.51.100.7"}
    assert sent["actuator"] == {"slpf": {"named_group": "perimeter"}}
    assert_no_secret(result.model_dump_json(), debug_logs.text)


def test_unblock_deletes_the_captured_rule(consumer: respx.MockRouter, pool: HttpPool) -> None:
    route = consumer.post("/openc2").respond(200, json=RESPONSES["ok"])

    result = run("openc2.unblock_ip", {"ip": "198.51.100.7", "rule_number": 1234}, ctx(pool))

    assert result.ok
    sent = json.loads(route.calls.last.request.content)
    assert sent["action"] == "delete" and sent["target"] == {"slpf:rule_number": 1234}
    validate_slpf(sent)


def test_unblock_without_a_rule_number_refuses_before_any_call(
    consumer: respx.MockRouter, pool: HttpPool
) -> None:
    route = consumer.post("/openc2")

    with pytest.raises(PermanentError, match="no rule number"):
        run("openc2.unblock_ip", {"ip": "198.51.100.7"}, ctx(pool))

    assert not route.called


def test_isolate_host_sends_er_contain_with_network_isolation(
    consumer: respx.MockRouter, pool: HttpPool
) -> None:
    envelope = {
        "headers": {"request_id": "r1", "created": 1, "from": "consumer", "to": ""},
        "body": {"openc2": {"response": RESPONSES["ok"]}},
    }
    route = consumer.post("/openc2").respond(200, json=envelope)

    result = run("openc2.isolate_host", {"hostname": "WS-FINANCE-07"}, ctx(pool))

    assert result.ok
    sent = json.loads(route.calls.last.request.content)
    assert sent["action"] == "contain" and sent["args"]["er"] == {"device_containment": "network_isolation"}


def test_block_domain_and_registry_delete(consumer: respx.MockRouter, pool: HttpPool) -> None:
    route = consumer.post("/openc2").respond(200, json=RESPONSES["ok"])

    run("openc2.block_domain", {"domain": "JS.MyKings.top."}, ctx(pool))
    assert json.loads(route.calls.last.request.content)["target"] == {"domain_name": "js.mykings.top"}
    run(
        "openc2.delete_registry_value",
        {
            "hostname": "WS-FINANCE-07",
            "key": r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
            "name": "start",
        },
        ctx(pool),
    )
    assert json.loads(route.calls.last.request.content)["action"] == "delete"


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ("processing", ActionStatus.PENDING),
        ("not_found", TargetNotFound),
        ("bad_request", PermanentError),
        ("unavailable", TransientError),
    ],
)
def test_response_statuses_map_onto_results_and_errors(
    consumer: respx.MockRouter, pool: HttpPool, answer: str, outcome: Any
) -> None:
    consumer.post("/openc2").respond(200, json=RESPONSES[answer])

    if isinstance(outcome, ActionStatus):
        assert run("openc2.isolate_host", {"hostname": "WS-1"}, ctx(pool)).status is outcome
    else:
        with pytest.raises(outcome):
            run("openc2.isolate_host", {"hostname": "WS-1"}, ctx(pool))


def test_an_invalid_response_is_refused(consumer: respx.MockRouter, pool: HttpPool) -> None:
    consumer.post("/openc2").respond(200, json={"status": "200"})

    with pytest.raises(OpenC2Invalid):
        run("openc2.isolate_host", {"hostname": "WS-1"}, ctx(pool))
