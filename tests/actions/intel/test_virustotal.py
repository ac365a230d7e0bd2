"""VirusTotal v3 contract: GET /files|domains|ip_addresses|urls/{id} with x-apikey; last_analysis_stats →
verdict; 404 NotFoundError → no record; placeholders in the answer never become the indicator."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator

import pytest
import respx
from pydantic import ValidationError

from actions import VendorRejected
from actions.http import HttpPool
from actions.intel import IntelCache
from actions.intel._text import iso
from tests.actions.intel._helpers import BASES, CANARIES, ask, assert_no_secret, fixture, make_ctx, run

BASE = BASES["virustotal"]
SHA256 = "dc9f3b226bccb2f1fd4810cde541e5a10d59a1fe683f4a9462293b6ade8d8403"


@pytest.fixture
def vt() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


def test_domain_report_from_the_documented_shape(vt: respx.MockRouter, pool: HttpPool) -> None:
    route = vt.get("/domains/down.mykings.pw", name="domain").respond(
        200, json=fixture("providers/vt-v3-domain.json")
    )

    [record] = run("virustotal.lookup_domain", {"domain": "DOWN.mykings[.]pw."}, make_ctx(pool))

    request = route.calls.last.request
    assert request.method == "GET" and request.url.path == "/api/v3/domains/down.mykings.pw"
    assert request.headers["x-apikey"] == CANARIES["virustotal_api_key"]
    # The sanitised answer's id is ":domain_id:" and its DNS record ":ip:": the record names what was asked.
    assert (record.type, record.value, record.verdict, record.source) == (
        "domain",
        "down.mykings.pw",
        "malicious",
        "virustotal",
    )
    assert record.reason.startswith("VirusTotal: 8 of 98 engines flag it malicious")
    assert "registered 2017-01-21" in record.reason
    assert "command and control" in record.reason
    assert record.last_seen == iso(1612828461) and record.first_seen is None
    assert record.reference == "https://www.virustotal.com/gui/domain/down.mykings.pw"
    assert record.retrieved_at == "2025-11-22T02:00:00Z"  # the fake clock's wall time


def test_file_report_by_any_hash(vt: respx.MockRouter, pool: HttpPool) -> None:
    route = vt.get(f"/files/{SHA256}").respond(200, json=fixture("providers/vt-v3-file.json"))

    [record] = run("virustotal.lookup_file", {"id": SHA256.upper()}, make_ctx(pool))

    assert route.calls.last.request.url.path == f"/api/v3/files/{SHA256}"
    assert (record.type, record.verdict) == ("sha256", "malicious")
    assert "41 of 62 engines" in record.reason and "labelled trojan.emotet/heodo" in record.reason
    assert record.first_seen == "2019-01-19T04:14:19Z"


def test_an_ip_with_one_detection_is_suspicious(vt: respx.MockRouter, pool: HttpPool) -> None:
    vt.get("/ip_addresses/45.83.66.10").respond(200, json=fixture("providers/vt-v3-ip.json"))

    [record] = run("virustotal.lookup_ip", {"ip": "45.83.66.10"}, make_ctx(pool))

    assert (record.type, record.value, record.verdict) == ("ipv4", "45.83.66.10", "suspicious")
    assert "1 of 92 engines flag it malicious, 1 suspicious" in record.reason
    assert "network EXAMPLE-HOSTING-AS / NL" in record.reason


def test_a_url_is_asked_by_its_base64url_id(vt: respx.MockRouter, pool: HttpPool) -> None:
    # VirusTotal's documented example: base64url of the URL, "=" padding stripped.
    expected = base64.urlsafe_b64encode(b"http://js.mykings.top:280/v.sct").decode().strip("=")
    route = vt.get(f"/urls/{expected}").respond(200, json=fixture("providers/vt-v3-url.json"))

    [record] = run("virustotal.lookup_url", {"url": "hxxp://JS.mykings[.]top:280/v.sct"}, make_ctx(pool))

    url_id = route.calls.last.request.url.path.rsplit("/", 1)[1]
    assert "=" not in url_id
    assert (
        base64.urlsafe_b64decode(url_id + "=" * (-len(url_id) % 4)).decode()
        == "http://js.mykings.top:280/v.sct"
    )
    assert (record.value, record.verdict) == ("http://js.mykings.top:280/v.sct", "malicious")
    assert "threat MyKings" in record.reason and "community reputation -40" in record.reason


def test_not_found_and_zero_detections_give_no_record(vt: respx.MockRouter, pool: HttpPool) -> None:
    vt.get("/domains/unknown.example.net").respond(404, json=fixture("providers/vt-v3-not-found.json"))
    clean = copy.deepcopy(fixture("providers/vt-v3-domain.json"))
    clean["data"]["attributes"]["last_analysis_stats"] = {"harmless": 80, "malicious": 0, "undetected": 10}
    vt.get("/domains/quiet.example.net").respond(200, json=clean)

    assert run("virustotal.lookup_domain", {"domain": "unknown.example.net"}, make_ctx(pool)) == []
    assert run("virustotal.lookup_domain", {"domain": "quiet.example.net"}, make_ctx(pool)) == []


def test_odd_values_in_the_answer_are_tolerated(vt: respx.MockRouter, pool: HttpPool) -> None:
    stats = {"malicious": "7", "harmless": None}
    odd = {
        "data": {
            "id": None,
            "attributes": {"last_analysis_stats": stats, "categories": None, "tags": [None, 3]},
        }
    }
    odd["data"]["attributes"]["creation_date"] = "soon"
    vt.get("/domains/odd.example.net").respond(200, json=odd)
    vt.get("/domains/empty.example.net").respond(200, json={"data": None})

    [record] = run("virustotal.lookup_domain", {"domain": "odd.example.net"}, make_ctx(pool))

    assert record.verdict == "malicious" and record.reason == "VirusTotal: 7 of 7 engines flag it malicious"
    assert run("virustotal.lookup_domain", {"domain": "empty.example.net"}, make_ctx(pool)) == []


def test_a_refused_key_is_an_error_without_the_key(vt: respx.MockRouter, pool: HttpPool) -> None:
    key = CANARIES["virustotal_api_key"]
    vt.get("/domains/evil.example.net").respond(
        401, json={"error": {"code": "WrongCredentialsError", "message": f"Wrong API key {key}"}}
    )

    with pytest.raises(VendorRejected) as caught:
        run("virustotal.lookup_domain", {"domain": "evil.example.net"}, make_ctx(pool))

    assert caught.value.status_code == 401 and caught.value.code == "WrongCredentialsError"
    assert_no_secret(str(caught.value), repr(caught.value))


@pytest.mark.parametrize(
    ("key", "inputs"),
    [
        ("virustotal.lookup_domain", {"domain": "../../files/x"}),
        ("virustotal.lookup_domain", {"domain": "evil.com", "extra": 1}),
        ("virustotal.lookup_file", {"id": "not-a-hash"}),
        ("virustotal.lookup_ip", {"ip": "1.2.3.4/../x"}),
        ("virustotal.lookup_url", {"url": "javascript:alert(1)"}),
    ],
)
def test_inputs_are_validated_before_any_call(
    vt: respx.MockRouter, pool: HttpPool, key: str, inputs: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        run(key, inputs, make_ctx(pool))
    assert not vt.calls


def test_lookup_reports_the_failure_instead_of_raising(
    vt: respx.MockRouter, pool: HttpPool, cache: IntelCache
) -> None:
    vt.get("/domains/evil.example.net").respond(
        403, json={"error": {"code": "ForbiddenError", "message": "no"}}
    )

    result = ask([("domain", "evil.example.net")], pool, cache, providers=["virustotal"])

    assert result[("domain", "evil.example.net")] == []
    [failure] = result.failures
    assert failure.provider == "virustotal" and not failure.transient and "refused (403)" in failure.error
