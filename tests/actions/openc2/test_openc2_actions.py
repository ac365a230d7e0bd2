"""OpenC2 over HTTPS: commands posted with the OpenC2 media type and bearer token; responses mapped onto
results and the error tree."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
import respx

import actions.openc2  # noqa: F401 - registers the openc2.* actions
from actions import (
    ActionStatus,
    CircuitOpen,
    PermanentError,
    TargetNotFound,
    TransientError,
    VendorRejected,
)
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

    request = route.calls.last.request
    assert result.status is ActionStatus.SUCCEEDED and result.detail == "deny 198.51.100.7 sent (rule 1234)"
    assert result.undo == {"ip": "198.51.100.7", "rule_number": 1234}
    assert result.vendor_ref == request.headers["x-request-id"]
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


# -- Issue #16: the status line and X-Request-ID (Specification for Transfer of OpenC2 Messages via HTTPS
# v1.0, CS01) --------------------------------------------------------------------------------------------
# §4, the message elements: "status | Numeric status code supplied by OpenC2 Consumers is carried in the
# HTTP response start line status code." and "request_id | String value originally supplied by the OpenC2
# Producer is carried in HTTP X-Request-ID header."
# §3.3: "X-Request-ID: if the X-Request-ID header was populated in the HTTP POST containing the OpenC2
# Command, the X-Request-ID header in the Response MUST be populated with the value that was received".

HTTPS = vendor_fixture("openc2-https-answers.json")


def _answer(name: str, **headers: str) -> httpx.Response:
    answer = HTTPS[name]
    return httpx.Response(answer["http_status"], json=answer["body"], headers=headers)


def test_every_command_carries_its_own_request_id_and_the_result_names_it(
    consumer: respx.MockRouter, pool: HttpPool
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return _answer("ok", **{"X-Request-ID": request.headers["x-request-id"]})

    route = consumer.post("/openc2").mock(side_effect=echo)

    first = run("openc2.isolate_host", {"hostname": "WS-FINANCE-07"}, ctx(pool))
    second = run("openc2.release_host", {"hostname": "WS-FINANCE-07"}, ctx(pool))

    sent = [call.request.headers["x-request-id"] for call in route.calls]
    assert [uuid.UUID(value).version for value in sent] == [4, 4] and sent[0] != sent[1]
    assert [first.vendor_ref, second.vendor_ref] == sent
    assert len(HTTPS["request_id"]) == len(sent[0])  # the spec's example id has the same form


def test_an_answer_echoing_another_request_id_is_refused(consumer: respx.MockRouter, pool: HttpPool) -> None:
    consumer.post("/openc2").mock(return_value=_answer("ok", **{"X-Request-ID": HTTPS["request_id"]}))

    with pytest.raises(PermanentError, match="not this command's response"):
        run("openc2.isolate_host", {"hostname": "WS-FINANCE-07"}, ctx(pool))


def test_a_404_status_line_is_target_not_found_with_the_consumers_text(
    consumer: respx.MockRouter, pool: HttpPool
) -> None:
    consumer.post("/openc2").mock(return_value=_answer("not_found"))

    with pytest.raises(TargetNotFound) as caught:
        run("openc2.isolate_host", {"hostname": "WS-FINANCE-07"}, ctx(pool))

    assert str(caught.value) == (
        "openc2: contain answered 404 (no device named WS-FINANCE-07 is managed by this actuator)"
    )


def test_a_404_without_an_openc2_body_names_the_endpoint_not_the_target(
    consumer: respx.MockRouter, pool: HttpPool
) -> None:
    consumer.post("/openc2").respond(404, html="<html><body>Not Found</body></html>")

    with pytest.raises(PermanentError, match="is /openc2 the consumer's endpoint") as caught:
        run("openc2.isolate_host", {"hostname": "WS-FINANCE-07"}, ctx(pool))

    assert not isinstance(caught.value, TargetNotFound)


def test_a_102_status_line_is_pending_under_the_request_id(
    consumer: respx.MockRouter, pool: HttpPool
) -> None:
    route = consumer.post("/openc2").mock(return_value=_answer("processing"))

    result = run("openc2.isolate_host", {"hostname": "WS-FINANCE-07"}, ctx(pool))

    assert result.status is ActionStatus.PENDING
    assert result.vendor_ref == route.calls.last.request.headers["x-request-id"]


@pytest.mark.parametrize(
    ("answer", "error", "status"),
    [
        ("bad_request", VendorRejected, 400),
        ("not_implemented", VendorRejected, 501),
        ("server_error", TransientError, None),
    ],
)
def test_error_status_lines_carry_the_bodys_status_text(
    consumer: respx.MockRouter, pool: HttpPool, answer: str, error: type[Exception], status: int | None
) -> None:
    consumer.post("/openc2").mock(return_value=_answer(answer))

    with pytest.raises(error) as caught:
        run("openc2.isolate_host", {"hostname": "WS-FINANCE-07"}, ctx(pool))

    assert HTTPS[answer]["body"]["status_text"] in str(caught.value)
    assert getattr(caught.value, "status_code", None) == status


def test_a_failing_consumer_still_opens_the_circuit(consumer: respx.MockRouter, pool: HttpPool) -> None:
    route = consumer.post("/openc2").mock(return_value=_answer("server_error"))

    for _ in range(5):  # the adapter's breaker threshold
        with pytest.raises(TransientError, match="database is locked"):
            run("openc2.isolate_host", {"hostname": "WS-1"}, ctx(pool))
    with pytest.raises(CircuitOpen):
        run("openc2.isolate_host", {"hostname": "WS-1"}, ctx(pool))

    assert route.call_count == 5


def test_an_error_line_without_an_openc2_body_keeps_a_short_plain_reason(
    consumer: respx.MockRouter, pool: HttpPool
) -> None:
    consumer.post("/openc2").respond(403, html="<html><h1>Forbidden</h1></html>")

    with pytest.raises(VendorRejected) as caught:
        run("openc2.isolate_host", {"hostname": "WS-1"}, ctx(pool))

    assert str(caught.value) == "openc2: contain answered 403 (Forbidden)" and caught.value.status_code == 403
    assert "<" not in str(caught.value)
