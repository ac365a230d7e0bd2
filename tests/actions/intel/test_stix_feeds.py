"""STIX 2.1 bundles: every OASIS example parses; patterns list their values; relationships, reports and
sightings say why; ranges are networks; shared SSL certificates make a relation (DUOBEAN)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from actions.intel import FeedError, IntelIndex, load_feed, parse_feed
from actions.intel.feeds._pattern import PatternError, comparisons
from tests.actions.intel._helpers import FIXTURES

EXAMPLES = sorted((FIXTURES / "stix21").glob("*.json"))
WITH_INDICATORS = [p for p in EXAMPLES if '"indicator"' in p.read_text("utf-8")]


def _write(tmp_path: Path, objects: list[dict[str, Any]], name: str = "bundle.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects}), encoding="utf-8")
    return path


def _indicator(pattern: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": extra.pop("id", "indicator--0001"),
        "created": "2026-11-01T00:00:00.000Z",
        "modified": "2026-11-02T00:00:00.000Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z",
        **extra,
    }


def _domain(label: str) -> str:
    return f"[domain-name:value = '{label}.example.org']"


def test_the_examples_with_indicators_are_all_here() -> None:
    assert {p.name for p in WITH_INDICATORS} == {
        "apt1.json",
        "indicator-for-c2-ip-address.json",
        "indicator-to-campaign-relationship.json",
        "indicators-for-C2-with-COA.json",
        "malicious-email-indicator-with-attachment.json",
        "poisonivy.json",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_parses(path: Path) -> None:
    result = parse_feed(path)

    assert result.format == "stix"
    indicators = sum(1 for o in _objects(path) if o["type"] == "indicator")
    # Every indicator gave something (a record or a range) or was skipped with a reason naming it.
    explained = {s.where.split("#")[1] for s in result.skipped}
    listed = {r.reference for r in result.records} | {n.reference for n in result.networks}
    assert {o["id"] for o in _objects(path) if o["type"] == "indicator"} <= explained | listed
    assert indicators == 0 or result.records or result.networks or result.skipped
    assert all(r.reason and r.source and r.first_seen for r in result.records)


def _objects(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text("utf-8"))
    return doc.get("objects", [doc])


def test_c2_indicators_say_what_they_indicate_and_who_says_so() -> None:
    records = load_feed(FIXTURES / "stix21" / "indicators-for-C2-with-COA.json")

    assert [(r.type, r.value, r.verdict) for r in records] == [
        ("ipv4", "10.0.0.0", "malicious"),
        ("sha256", "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c", "malicious"),
    ]
    assert records[0].source == "The MITRE Corporation - DHS Support Team"
    assert (
        records[0].reason
        == "IP Address for known C2 channel; indicates malware Poison Ivy (remote-access-trojan)"
    )
    assert (records[1].first_seen, records[1].last_seen) == ("2014-05-08T09:00:00Z", "2017-01-27T13:49:53Z")
    assert records[1].reference == "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade"


def test_apt1_lists_domains_hashes_and_ranges_and_explains_the_certificates() -> None:
    result = parse_feed(FIXTURES / "stix21" / "apt1.json")

    hugesoft = next(r for r in result.records if r.value == "hugesoft.org")
    assert "indicates threat actor Ugly Gorilla (nation-state, spy)" in hugesoft.reason
    assert 'in report "APT1: Exposing One of China\'s Cyber Espionage Units"' in hugesoft.reason
    assert sorted(r.type for r in result.records) == ["domain"] * 3 + ["md5"] * 3
    assert [n.network for n in result.networks] == [
        "223.166.0.0/15",
        "58.246.0.0/15",
        "112.64.0.0/15",
        "139.226.0.0/15",
    ]
    assert [s.reason for s in result.skipped] == [
        "no observable Garrison matches by value "
        "(x509-certificate:issuer =, x509-certificate:serial_number =)"
    ] * 2
    # An address inside a listed range is matched through the index.
    [inside] = IntelIndex.of([result]).get("ipv4", "223.167.1.2")
    assert inside.value == "223.167.1.2" and inside.reason.startswith("in listed range 223.166.0.0/15: HTRAN")


def test_poisonivy_or_patterns_list_every_value_and_bad_values_are_skipped() -> None:
    result = parse_feed(FIXTURES / "stix21" / "poisonivy.json")

    by_value = {r.value: r for r in result.records}
    assert {"www.webserver.dynssl.com", "113.10.246.30", "202.65.222.45", "3q.wubangtu.info"} <= set(by_value)
    assert "attribution" in by_value["219.76.208.163"].reason
    assert "indicates campaign admin@338" in by_value["113.10.246.30"].reason
    reasons = {s.reason for s in result.skipped}
    assert "'domain autuo.xicp.net' contains whitespace or control characters" in reasons
    assert "no observable Garrison matches by value (file:name =)" in reasons
    # The range of the same indicator ("OR ipv4-addr:value = '60.10.1.115'") still counts.
    assert "60.10.1.115" in by_value


def test_infrastructure_observables_are_listed_with_the_relation() -> None:
    records = load_feed(FIXTURES / "stix21" / "infrastructure.json")

    assert [(r.type, r.value, r.verdict, r.reason) for r in records] == [
        (
            "ipv4",
            "198.51.100.3",
            "malicious",
            "part of infrastructure Poison Ivy C2 (command-and-control) "
            "[controls malware Poison Ivy (remote-access-trojan)]",
        ),
        (
            "domain",
            "example.com",
            "malicious",
            "part of infrastructure Example target-list-hosting (hosting-target-lists) "
            "[malware IMDDOS (bot) uses it]",
        ),
    ]


def test_an_ip_sharing_an_ssl_certificate_with_loader_infrastructure_is_suspicious() -> None:
    records = {r.value: r for r in load_feed(FIXTURES / "garrison" / "duobean-shared-certificate.json")}

    c2, cert, watched = (
        records["203.0.113.10"],
        records["5a3f0d8f5e1c2b4d6a7b8c9d0e1f2a3b4c5d6e7f"],
        records["198.51.100.77"],
    )
    assert (c2.verdict, cert.type, cert.verdict, watched.verdict) == (
        "malicious",
        "x509_sha1",
        "malicious",
        "suspicious",
    )
    assert watched.reason == (
        "shares SSL certificate 5a3f0d8f5e1c2b4d6a7b8c9d0e1f2a3b4c5d6e7f with 203.0.113.10 "
        "(part of infrastructure DUOBEAN loader C2 (command-and-control) "
        "[controls malware DUOBEAN loader (downloader)])"
    )
    assert watched.source == "Garrison MDR research"
    assert (watched.first_seen, watched.last_seen) == ("2026-11-05T00:00:00Z", "2026-11-12T00:00:00Z")
    assert c2.last_seen == "2026-11-12T06:00:00Z"  # the infrastructure's own last_seen


def test_types_confidence_validity_and_sightings(tmp_path: Path) -> None:
    identity = {"type": "identity", "id": "identity--1", "name": "Partner CERT"}
    objects = [
        identity,
        _indicator(_domain("benign"), id="indicator--b", indicator_types=["benign"]),
        _indicator(_domain("gray"), id="indicator--g", indicator_types=["anomalous-activity"]),
        _indicator(_domain("weak"), id="indicator--w", confidence=20),
        _indicator(_domain("old"), id="indicator--o", valid_until="2026-11-01T12:00:00Z"),
        _indicator(_domain("gone"), id="indicator--r", revoked=True),
        _indicator("rule x { condition: true }", id="indicator--y", pattern_type="yara"),
        _indicator("[ipv4-addr:value = '198.51.100.9']", id="indicator--s", created_by_ref="identity--1"),
        {"type": "sighting", "id": "sighting--1", "sighting_of_ref": "indicator--s", "count": 6,
         "first_seen": "2026-11-03T00:00:00Z", "last_seen": "2026-11-10T00:00:00Z",
         "where_sighted_refs": ["identity--1"]},
    ]  # fmt: skip

    result = parse_feed(_write(tmp_path, objects))

    got = {r.value: r for r in result.records}
    assert got["benign.example.org"].verdict == "benign"
    assert got["gray.example.org"].verdict == "suspicious"
    assert (
        got["weak.example.org"].verdict == "suspicious" and "confidence 20" in got["weak.example.org"].reason
    )
    assert got["old.example.org"].valid_until == got["old.example.org"].last_seen == "2026-11-01T12:00:00Z"
    sighted = got["198.51.100.9"]
    assert sighted.source == "Partner CERT" and sighted.reason == "sighted 6 times by Partner CERT"
    assert (sighted.first_seen, sighted.last_seen) == ("2026-11-01T00:00:00Z", "2026-11-10T00:00:00Z")
    assert {s.where.split("#")[1]: s.reason for s in result.skipped} == {
        "indicator--r": "revoked",
        "indicator--y": "pattern type 'yara' lists no values Garrison matches",
    }


def test_pattern_operators(tmp_path: Path) -> None:
    objects = [
        _indicator("[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2')]", id="indicator--in"),
        _indicator("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", id="indicator--net"),
        _indicator("[ipv4-addr:value = '198.51.100.5/32']", id="indicator--host"),
        _indicator("[domain-name:value NOT = 'not-listed.example.org']", id="indicator--not"),
        _indicator("[url:value MATCHES '^http://evil']", id="indicator--re"),
        _indicator("[network-traffic:dst_ref.value = 'c2.example.org'] FOLLOWEDBY [file:hashes.MD5 = "
                   "'D41D8CD98F00B204E9800998ECF8427E'] WITHIN 600 SECONDS", id="indicator--seq"),
        _indicator("[x509-certificate:hashes.'SHA-1' = '" + "AB:CD:EF:01:23:45:67:89:" * 2 + "AB:CD:EF:01']",
                   id="indicator--cert"),
        _indicator("[domain-name:value = 'it\\'s.example.org']", id="indicator--quote"),
        _indicator("[ipv4-addr:value = '198.51.100.3' AND", id="indicator--broken"),
        _indicator("[ipv4-addr:value = '198.51.100.4'] OR", id="indicator--dangling"),
    ]  # fmt: skip

    result = parse_feed(_write(tmp_path, objects))

    assert {(r.type, r.value) for r in result.records} == {
        ("ipv4", "198.51.100.1"),
        ("ipv4", "198.51.100.2"),
        ("ipv4", "198.51.100.5"),
        ("domain", "c2.example.org"),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
        ("x509_sha1", "abcdef0123456789abcdef0123456789abcdef01"),
    }
    assert [n.network for n in result.networks] == ["198.51.100.0/24"]
    skipped = {s.where.split("#")[1]: s.reason for s in result.skipped}
    assert skipped["indicator--not"].startswith("no observable")
    assert skipped["indicator--re"] == "url:value MATCHES '^http://evil' is no exact value"
    assert skipped["indicator--quote"] == '"it\'s.example.org" is no domain name'
    assert (
        skipped["indicator--broken"]
        == "pattern cannot be read: unbalanced brackets: the pattern is incomplete"
    )
    assert (
        skipped["indicator--dangling"]
        == "pattern cannot be read: the pattern ends with 'OR': it is incomplete"
    )


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = ]",
        "[ipv4-addr:value ~ '1.2.3.4']",
        "[ipv4-addr:value IN ('1.2.3.4'",
        "ipv4-addr:value = '1.2.3.4'",
        "[ipv4-addr:value = '1.2.3.4']]",
        "x" * 70_000,
    ],
)
def test_unreadable_patterns_raise_pattern_error(pattern: str) -> None:
    with pytest.raises(PatternError):
        comparisons(pattern)


def test_structural_errors_name_the_file_and_object(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match=r"bundle\.json: objects\[1\] \(indicator\) has no valid id"):
        parse_feed(_write(tmp_path, [_indicator("[ipv4-addr:value = '1.2.3.4']"), {"type": "indicator"}]))
    with pytest.raises(FeedError, match=r"bundle\.json: objects\[0\] is not a STIX object"):
        parse_feed(_write(tmp_path, [["not", "an", "object"]]))  # type: ignore[list-item]


def test_misp_golden_mapping_stix_side_lists_what_the_misp_side_lists(tmp_path: Path) -> None:
    """misp-stix's golden pairs: our STIX reading of a converted attribute equals our MISP reading of it."""
    pairs = json.loads(
        (FIXTURES / "misp-stix-mapping" / "misp_attributes_to_stix21.subset.json").read_text("utf-8")
    )
    compared = 0
    for name, pair in pairs.items():
        misp_doc = {"Event": {"info": name, "Attribute": [{**pair["MISP"], "to_ids": True}]}}
        from_misp = {
            r.key for r in load_feed(_json(tmp_path, f"{name.replace('|', '_')}.misp.json", misp_doc))
        }
        stix_doc = {"type": "bundle", "id": "bundle--x", "objects": pair["STIX"]}
        from_stix = {
            r.key for r in load_feed(_json(tmp_path, f"{name.replace('|', '_')}.stix.json", stix_doc))
        }
        if from_misp:
            assert from_stix == from_misp, name
            compared += 1
        else:  # types that are no intel indicator (regkey, mutex, AS, email, x509 SHA-256) or link (context)
            assert name in {
                "email-src",
                "regkey",
                "regkey|value",
                "mutex",
                "AS",
                "link",
                "x509-fingerprint-sha256",
            }
    assert compared == 13


def _json(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_url_without_its_scheme_is_kept_as_http(tmp_path: Path) -> None:
    objects = [
        _indicator("[url:value = 'evil.example/path/gate.php?id=1']", id="indicator--url", name="Gate"),
        _indicator("[url:value = 'EVIL.example']", id="indicator--host"),
        _indicator("[url:value = 'hxxps://evil.example/x']", id="indicator--defanged"),
        _indicator("[url:value = '/wp-content/x.php']", id="indicator--path"),
        {"type": "malware", "id": "malware--1", "name": "DUOBEAN loader", "is_family": True},
        {"type": "url", "id": "url--1", "value": "drop.example.net/a.bin"},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "downloads",
         "source_ref": "malware--1", "target_ref": "url--1"},
    ]  # fmt: skip

    result = parse_feed(_write(tmp_path, objects))

    got = {r.value: r for r in result.records}
    assert set(got) == {
        "http://evil.example/path/gate.php?id=1",
        "http://evil.example",
        "https://evil.example/x",
        "http://drop.example.net/a.bin",
    }
    gate = got["http://evil.example/path/gate.php?id=1"]
    assert gate.type == "url" and gate.verdict == "malicious"
    assert gate.reason == (
        "URL given without a scheme, matched as http://evil.example/path/gate.php?id=1; Gate"
    )
    assert got["http://evil.example"].reason == "URL given without a scheme, matched as http://evil.example"
    assert "without a scheme" not in got["https://evil.example/x"].reason
    assert got["http://drop.example.net/a.bin"].reason == (
        "URL given without a scheme, matched as http://drop.example.net/a.bin; "
        "downloaded by malware DUOBEAN loader"
    )
    assert {s.where.split("#")[1] for s in result.skipped} == {"indicator--path"}


def test_comparisons_garrison_cannot_use_are_passed_over(tmp_path: Path) -> None:
    sha256 = "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c"
    objects = [
        _indicator("[ipv4-addr:value = '198.51.100.20' AND true = true]", id="indicator--filler"),
        _indicator("[true = true AND domain-name:value = 'c2.example.org']", id="indicator--first"),
        _indicator(f"[file:hashes.'SHA-256' = '{sha256}' AND file:x_packed = false]", id="indicator--bool"),
        _indicator("[file:size = 1024 AND file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']",
                   id="indicator--num"),
        _indicator("[domain-name:value = 'b.example.org'] AND [1 = 1]", id="indicator--observation"),
        _indicator("[true = true]", id="indicator--only"),
        _indicator("[ipv4-addr:value = true]", id="indicator--nonsense"),
        _indicator("[ipv4-addr:value = '198.51.100.21' 'junk']", id="indicator--junk"),
    ]  # fmt: skip

    result = parse_feed(_write(tmp_path, objects))

    assert {(r.type, r.value) for r in result.records} == {
        ("ipv4", "198.51.100.20"),
        ("domain", "c2.example.org"),
        ("sha256", sha256),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
        ("domain", "b.example.org"),
    }
    skipped = {s.where.split("#")[1]: s.reason for s in result.skipped}
    assert skipped["indicator--only"] == (
        "no observable Garrison matches by value (constant comparison true = true)"
    )
    assert skipped["indicator--nonsense"] == "no observable Garrison matches by value (ipv4-addr:value =)"
    assert skipped["indicator--junk"].startswith("pattern cannot be read: not a STIX pattern (")
    assert set(skipped) == {"indicator--only", "indicator--nonsense", "indicator--junk"}


def test_the_pattern_library_reads_paths_sets_and_typed_literals() -> None:
    [quoted] = comparisons("[windows-registry-key:values[*].'data name' = 'run me']")

    assert (quoted.object_type, quoted.path, quoted.values) == (
        "windows-registry-key",
        "values[*].data name",
        ("run me",),
    )
    assert [c.values for c in comparisons("[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2')]")] == [
        ("198.51.100.1", "198.51.100.2")
    ]
    # Numbers, timestamps and booleans list no value; a hex literal is the hash it spells.
    typed = "[file:size > 5 AND file:created = t'2016-01-01T00:00:00Z' AND file:hashes.MD5 = h'd41d8c']"
    assert [c.values for c in comparisons(typed)] == [(), (), ("d41d8c",)]
    [negated] = comparisons("[domain-name:value NOT = 'x.example.org']")
    assert (negated.negated, negated.operator, negated.text) == (True, "=", "domain-name:value NOT =")
