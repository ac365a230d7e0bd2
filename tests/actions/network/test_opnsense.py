"""OPNsense contract: Basic auth with key/secret, alias_util add/delete of an address, list to verify."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import respx

import actions.network.opnsense  # noqa: F401 - registers the opnsense.* actions
from actions import Effect, PermanentError, VendorRejected
from actions.http import HttpPool
from actions.network.opnsense import table_entries
from tests.actions._support import CANARIES, CATALOG, assert_no_secret, make_ctx, read, run, vendor_fixture

BASE = "https://opn.test"
SHAPES = CATALOG["opnsense_alias_block"]
SETTINGS = {"base_url": BASE, "alias": "garrison_block"}
LISTED = "203.0.113.7"


@pytest.fixture
def opn() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get("/api/firewall/alias_util/list/garrison_block", name="list").respond(
            200, json=vendor_fixture("opnsense-alias-list.json")
        )
        yield mock


def ctx(pool: HttpPool):  # type: ignore[no-untyped-def]
    return make_ctx(pool, "opnsense", SETTINGS)


def _basic() -> str:
    pair = f"{CANARIES['opnsense_api_key']}:{CANARIES['opnsense_api_secret']}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def test_block_adds_the_address_to_the_alias(opn: respx.MockRouter, pool: HttpPool, debug_logs: Any) -> None:
    add = opn.post(SHAPES["request"]["path"].format(alias_name="garrison_block")).respond(
        200, json={"status": "done"}
    )

    result = run("opnsense.block_ip", {"ip": "2001:DB8::1"}, ctx(pool))

    assert result.ok and result.changed is True
    request = add.calls.last.request
    assert request.headers["authorization"] == _basic()
    assert json.loads(request.content) == {"address": "2001:db8::1"}  # alias_util takes lower-case hex only
    assert_no_secret(result.model_dump_json(), debug_logs.text)


def test_an_address_already_listed_is_success_without_a_call(opn: respx.MockRouter, pool: HttpPool) -> None:
    add = opn.post("/api/firewall/alias_util/add/garrison_block")

    result = run("opnsense.block_ip", {"ip": LISTED}, ctx(pool))

    assert result.ok and result.changed is False
    assert not add.called


def test_unblock_deletes_the_address(opn: respx.MockRouter, pool: HttpPool) -> None:
    delete = opn.post(SHAPES["undo"]["path"].format(alias_name="garrison_block")).respond(
        200, json={"status": "done"}
    )

    result = run("opnsense.unblock_ip", {"ip": LISTED}, ctx(pool))

    assert result.ok and json.loads(delete.calls.last.request.content) == {"address": LISTED}


@pytest.mark.parametrize("status", ["failed", "not_an_address"])
def test_a_status_other_than_done_is_refused(opn: respx.MockRouter, pool: HttpPool, status: str) -> None:
    opn.post("/api/firewall/alias_util/add/garrison_block").respond(200, json={"status": status})

    with pytest.raises(VendorRejected, match=status):
        run("opnsense.block_ip", {"ip": "198.51.100.99"}, ctx(pool))


def test_read_state_lists_the_alias(opn: respx.MockRouter, pool: HttpPool) -> None:
    assert read("opnsense.block_ip", {"ip": LISTED}, ctx(pool)).effect is Effect.APPLIED
    assert read("opnsense.unblock_ip", {"ip": "198.51.100.99"}, ctx(pool)).effect is Effect.APPLIED
    assert read("opnsense.block_ip", {"ip": "198.51.100.99"}, ctx(pool)).effect is Effect.ABSENT


def test_both_list_shapes_are_understood() -> None:
    assert table_entries(["203.0.113.7/32", "2001:db8::1"]) == {"203.0.113.7/32", "2001:db8::1/128"}
    assert table_entries({"rows": [{"ip": "203.0.113.7"}]}) == {"203.0.113.7/32"}


# -- Issue #16: a missing alias is an error, not an empty list -------------------------------------------
# OPNsense's list of a pf table hides pfctl's error (src/opnsense/scripts/filter/list_table.py):
#     subprocess.call(['/sbin/pfctl', '-t', sys.argv[1], '-T', 'show'],
#                     stdout=output_stream, stderr=open(os.devnull, 'wb'))
# so alias_util/list of a mistyped alias answers no rows, exactly like an empty alias. Only
# alias_util/aliases ("list active alias tables", AliasUtilController::aliasesAction) tells them apart.

TYPO = "garrison_blok"


@pytest.fixture
def typo(opn: respx.MockRouter) -> respx.MockRouter:
    opn.get(f"/api/firewall/alias_util/list/{TYPO}", name="list_typo").respond(
        200, json=vendor_fixture("opnsense-alias-list-empty.json")
    )
    opn.get("/api/firewall/alias_util/aliases", name="aliases").respond(
        200, json=vendor_fixture("opnsense-alias-util-aliases.json")
    )
    opn.post(f"/api/firewall/alias_util/add/{TYPO}", name="add_typo").respond(
        200, json=vendor_fixture("opnsense-alias-add-missing.json")
    )
    opn.post(f"/api/firewall/alias_util/delete/{TYPO}", name="delete_typo").respond(
        200, json={"status": "done"}
    )
    return opn


def _typo_ctx(pool: HttpPool):  # type: ignore[no-untyped-def]
    return make_ctx(pool, "opnsense", {**SETTINGS, "alias": TYPO})


@pytest.mark.parametrize("key", ["opnsense.block_ip", "opnsense.unblock_ip"])
def test_a_mistyped_alias_is_an_error_naming_it(typo: respx.MockRouter, pool: HttpPool, key: str) -> None:
    with pytest.raises(PermanentError, match=f"alias '{TYPO}' does not exist on {BASE}"):
        run(key, {"ip": LISTED}, _typo_ctx(pool))

    # Neither "already blocked" nor "already unblocked", and nothing sent to a table that is not there.
    assert typo["aliases"].called
    assert not typo["add_typo"].called and not typo["delete_typo"].called


@pytest.mark.parametrize("key", ["opnsense.block_ip", "opnsense.unblock_ip"])
def test_reading_a_mistyped_alias_is_an_error_not_a_state(
    typo: respx.MockRouter, pool: HttpPool, key: str
) -> None:
    with pytest.raises(PermanentError, match=TYPO):
        read(key, {"ip": LISTED}, _typo_ctx(pool))


def test_an_empty_alias_that_exists_is_read_and_filled(opn: respx.MockRouter, pool: HttpPool) -> None:
    opn.routes["list"].respond(200, json=vendor_fixture("opnsense-alias-list-empty.json"))
    aliases = opn.get("/api/firewall/alias_util/aliases").respond(
        200, json=vendor_fixture("opnsense-alias-util-aliases.json")
    )
    add = opn.post("/api/firewall/alias_util/add/garrison_block").respond(200, json={"status": "done"})

    state = read("opnsense.block_ip", {"ip": LISTED}, ctx(pool))
    result = run("opnsense.block_ip", {"ip": LISTED}, ctx(pool))

    assert state.effect is Effect.ABSENT and aliases.called
    assert result.ok and result.changed is True and add.called


def test_a_listed_alias_needs_no_table_check(opn: respx.MockRouter, pool: HttpPool) -> None:
    aliases = opn.get("/api/firewall/alias_util/aliases")

    assert read("opnsense.block_ip", {"ip": LISTED}, ctx(pool)).effect is Effect.APPLIED
    assert not aliases.called


def test_a_failed_change_carries_opnsenses_message(opn: respx.MockRouter, pool: HttpPool) -> None:
    opn.post("/api/firewall/alias_util/add/garrison_block").respond(
        200, json=vendor_fixture("opnsense-alias-add-missing.json")
    )

    with pytest.raises(VendorRejected, match="'failed': non existing alias garrison_blok"):
        run("opnsense.block_ip", {"ip": "198.51.100.99"}, ctx(pool))


def test_an_aliases_answer_that_is_not_a_list_is_refused(opn: respx.MockRouter, pool: HttpPool) -> None:
    opn.routes["list"].respond(200, json=vendor_fixture("opnsense-alias-list-empty.json"))
    opn.get("/api/firewall/alias_util/aliases").respond(200, json={"garrison_block": 1})

    with pytest.raises(PermanentError, match="alias_util/aliases"):
        read("opnsense.block_ip", {"ip": LISTED}, ctx(pool))
