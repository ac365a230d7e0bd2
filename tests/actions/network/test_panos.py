"""PAN-OS contract: X-PAN-KEY, User-ID register/unregister of a tag with timeout (dynamic address group),
XML answers whose status says success or error under HTTP 200."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest
import respx

import actions.network.panos  # noqa: F401 - registers the panos.* actions
from actions import ActionStatus, Effect, PermanentError, VendorRejected
from actions.http import HttpPool
from actions.network.panos import uid_message
from tests.actions._support import CANARIES, CATALOG, assert_no_secret, make_ctx, read, run, vendor_fixture

BASE = "https://fw.test"
SHAPES = CATALOG["paloalto_panos_block_ip"]
IP = "203.0.113.7"
SETTINGS = {"base_url": BASE, "tag": "garrison-block", "timeout": 3600}


@pytest.fixture
def fw() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


def ctx(pool: HttpPool):  # type: ignore[no-untyped-def]
    return make_ctx(pool, "panos", SETTINGS)


def test_the_register_message_matches_the_documented_shape() -> None:
    documented = SHAPES["option_A_dynamic_address_group_no_commit"]["form"]["cmd"]

    built = uid_message("register", "1.2.3.4", "soar-block", 3600)

    assert built == documented


def test_block_registers_the_tag_with_its_timeout(
    fw: respx.MockRouter, pool: HttpPool, debug_logs: Any
) -> None:
    route = fw.post("/api/", params={"type": "user-id"}).respond(
        200, text=vendor_fixture("panos-register-success.xml")
    )

    result = run("panos.block_ip", {"ip": IP}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and "expires in 3600s" in result.detail
    request = route.calls.last.request
    assert request.headers["x-pan-key"] == CANARIES["panos_api_key"]
    assert parse_qs(request.content.decode())["cmd"] == [uid_message("register", IP, "garrison-block", 3600)]
    assert result.undo == {"ip": IP}
    assert_no_secret(result.model_dump_json(), debug_logs.text)


def test_a_per_action_timeout_overrides_the_tenant_default(fw: respx.MockRouter, pool: HttpPool) -> None:
    route = fw.post("/api/").respond(200, text=vendor_fixture("panos-register-success.xml"))

    run("panos.block_ip", {"ip": IP, "timeout": 600}, ctx(pool))

    assert 'timeout="600"' in parse_qs(route.calls.last.request.content.decode())["cmd"][0]


def test_unblock_unregisters_and_not_registered_counts_as_done(fw: respx.MockRouter, pool: HttpPool) -> None:
    route = fw.post("/api/").respond(200, text=vendor_fixture("panos-unregister-not-registered.xml"))

    result = run("panos.unblock_ip", {"ip": IP}, ctx(pool))

    assert result.ok and result.changed is False
    assert "<unregister>" in parse_qs(route.calls.last.request.content.decode())["cmd"][0]


def test_an_error_status_under_http_200_is_refused(fw: respx.MockRouter, pool: HttpPool) -> None:
    fw.post("/api/").respond(200, text=vendor_fixture("panos-bad-key.xml"))

    with pytest.raises(VendorRejected, match="Invalid Credential") as caught:
        run("panos.block_ip", {"ip": IP}, ctx(pool))

    assert caught.value.code == "403"


def test_an_xml_answer_with_a_dtd_is_refused(fw: respx.MockRouter, pool: HttpPool) -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><response status="success">&a;</response>'
    fw.post("/api/").respond(200, text=bomb)

    with pytest.raises(PermanentError, match="DTD"):
        run("panos.block_ip", {"ip": IP}, ctx(pool))


def test_read_state_looks_the_ip_up(fw: respx.MockRouter, pool: HttpPool) -> None:
    route = fw.get("/api/", params={"type": "op"}).respond(
        200, text=vendor_fixture("panos-registered-ip.xml")
    )

    blocked = read("panos.block_ip", {"ip": IP}, ctx(pool))
    other = read("panos.block_ip", {"ip": "198.51.100.9"}, ctx(pool))

    assert blocked.effect is Effect.APPLIED and blocked.observed == {"tags": ["garrison-block"]}
    assert other.effect is Effect.ABSENT
    assert route.calls[0].request.url.params["cmd"] == (
        f"<show><object><registered-ip><ip>{IP}</ip></registered-ip></object></show>"
    )


# -- Issue #16: "already" answers, vsys ------------------------------------------------------------------
# Palo Alto's own SDK (pan-os-python, panos/userid.py UserId.send) treats these User-ID errors as done:
#     if self.ignore_dup_errors and (
#         message.endswith("already exists, ignore")
#         or message.endswith("does not exist, ignore unreg")
#     ):
#         return
# and sends every User-ID message with its vsys: self.device.xapi.user_id(cmd=cmd, vsys=self.device.vsys).


def test_tagging_an_already_tagged_ip_is_done_without_change(fw: respx.MockRouter, pool: HttpPool) -> None:
    route = fw.post("/api/", params={"type": "user-id"}).respond(
        200, text=vendor_fixture("panos-register-already-exists.xml")
    )

    result = run("panos.block_ip", {"ip": IP}, ctx(pool))

    assert result.status is ActionStatus.SUCCEEDED and result.changed is False
    assert result.detail == f"{IP} was already tagged garrison-block in vsys1"
    # Nothing of ours to roll back: the tag was there before this run.
    assert not result.undo
    assert route.calls.last.request.url.params["vsys"] == "vsys1"


def test_untagging_an_ip_without_the_tag_is_done_without_change(fw: respx.MockRouter, pool: HttpPool) -> None:
    fw.post("/api/", params={"type": "user-id"}).respond(
        200, text=vendor_fixture("panos-unregister-does-not-exist.xml")
    )

    result = run("panos.unblock_ip", {"ip": IP}, ctx(pool))

    assert result.ok and result.changed is False and "was not tagged" in result.detail


@pytest.mark.parametrize(
    ("verb", "answer"),
    [
        # "already exists" said of another address is not about ours.
        ("block_ip", "panos-register-already-exists.xml"),
        # An unregister answer does not make a register "already done", nor the reverse.
        ("unblock_ip", "panos-register-already-exists.xml"),
        ("block_ip", "panos-unregister-does-not-exist.xml"),
    ],
)
def test_other_user_id_errors_are_still_refused(
    fw: respx.MockRouter, pool: HttpPool, verb: str, answer: str
) -> None:
    text = vendor_fixture(answer)
    ip = "198.51.100.9" if verb == "block_ip" and "register-already" in answer else IP
    fw.post("/api/").respond(200, text=text)

    with pytest.raises(VendorRejected, match="panos: "):
        run(f"panos.{verb}", {"ip": ip}, ctx(pool))


def test_the_vsys_setting_reaches_every_request(fw: respx.MockRouter, pool: HttpPool) -> None:
    user_id = fw.post("/api/", params={"type": "user-id"}).respond(
        200, text=vendor_fixture("panos-register-success.xml")
    )
    op = fw.get("/api/", params={"type": "op"}).respond(200, text=vendor_fixture("panos-registered-ip.xml"))
    on_vsys2 = make_ctx(pool, "panos", {**SETTINGS, "vsys": "vsys2"})

    blocked = run("panos.block_ip", {"ip": IP}, on_vsys2)
    read("panos.block_ip", {"ip": IP}, on_vsys2)

    assert blocked.detail.startswith(f"{IP} tagged garrison-block in vsys2")
    assert user_id.calls.last.request.url.params["vsys"] == "vsys2"
    assert op.calls.last.request.url.params["vsys"] == "vsys2"


@pytest.mark.parametrize("vsys", ["shared", "vsys1&type=config", "", "vsys12345"])
def test_a_vsys_that_is_not_a_vsys_name_is_refused(pool: HttpPool, vsys: str) -> None:
    with pytest.raises(PermanentError, match="vsys"):
        run("panos.block_ip", {"ip": IP}, make_ctx(pool, "panos", {**SETTINGS, "vsys": vsys}))
