"""MISP event JSON: the five CIRCL/PyMISP events parse with sensible verdicts and reasons; to_ids, objects,
composite types, sightings, tags and threat levels are read as documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from actions.intel import FeedError, load_feed, parse_feed
from tests.actions.intel._helpers import FIXTURES

EVENTS = sorted((FIXTURES / "misp").glob("*.json"))


def _event(tmp_path: Path, attributes: list[dict[str, Any]], **event: Any) -> Path:
    path = tmp_path / "event.json"
    body = {
        "info": "Test event",
        "threat_level_id": "2",
        "Orgc": {"name": "ACME CERT"},
        "Attribute": attributes,
    }
    path.write_text(json.dumps({"Event": {**body, **event}}), encoding="utf-8")
    return path


def _attr(kind: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "value": value, "to_ids": True, "uuid": f"uuid-{kind}-{value[:8]}", **extra}


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.name)
def test_every_event_parses_into_records_from_its_org(path: Path) -> None:
    result = parse_feed(path)

    assert result.format == "misp" and result.records
    assert all(r.source.endswith("(MISP)") for r in result.records)
    assert all(r.reason.startswith("MISP event '") and r.first_seen and r.last_seen for r in result.records)
    assert all(r.verdict in ("malicious", "suspicious") for r in result.records)
    # What MISP marks "not for detection" is context: never malicious, and the reason says why.
    event = json.loads(path.read_text("utf-8"))["Event"]
    attributes = [*event.get("Attribute", []), *(a for o in event.get("Object", []) for a in o["Attribute"])]
    for_detection = {a["uuid"]: bool(a.get("to_ids")) for a in attributes}
    for record in result.records:
        if for_detection[(record.reference or "").removeprefix("misp:")]:
            assert "to_ids false" not in record.reason, record
        else:
            assert record.verdict == "suspicious" and "; to_ids false: context" in record.reason, record


def test_cerber_convicts_payment_site_and_sample_but_only_notes_the_geo_lookup_services() -> None:
    records = load_feed(FIXTURES / "misp" / "cerber-ransomware-event.json")

    assert {(r.type, r.value) for r in records if r.verdict == "malicious"} == {
        ("domain", "decrypttozxybarc.onion"),  # a "url" attribute without a scheme is a host
        ("md5", "2f7059d7b1dda3080e391d99788fff18"),
        ("sha1", "0af6bde11eaa699604aa92cce9a6210dfce70f42"),
        ("sha256", "a5ff5f861bbb1ac7c6fd44f303f735fac01273ce2ae43a8acb683076192fcfcc"),
    }
    # The services the sample asks for its location (to_ids false) are known, never convicted.
    geo = {r.value: r for r in records if r.verdict == "suspicious"}
    assert set(geo) == {
        "http://ipinfo.io/json",
        "http://freegeoip.net/json/",
        "http://ip-api.com/json",
        "http://maxcdn.bootstrapcdn.com/bootstrap/3.3.5/css/bootstrap.min.css",
    }
    assert geo["http://ipinfo.io/json"].reason.startswith(
        "MISP event 'Cerber Ransomware'; to_ids false: context the event gives, not for detection"
    )
    sample = next(r for r in records if r.type == "md5")
    assert sample.verdict == "malicious" and sample.source == "CIRCL (MISP)"
    assert sample.reason == (
        "MISP event 'Cerber Ransomware'; Cerber executable (created: Fri Feb 26 10:28:56 2016); "
        "file a5ff5f.exe; incident-classification malware; malware-category Ransomware; threat level low"
    )
    assert sample.first_seen == "2016-03-10"


def test_an_eset_event_with_no_detection_attribute_still_says_what_it_knows() -> None:
    """ESET publishes its MISP events with every to_ids false: they used to give nothing at all."""
    result = parse_feed(FIXTURES / "misp" / "eset-sshdoor-kessel-event.json")

    assert {(r.type, r.value, r.verdict) for r in result.records} == {
        ("domain", "dc0.cc", "suspicious"),
        ("sha1", "f5ac779c8fd506e7d4b72b70331623042a807a6b", "suspicious"),
        ("sha1", "3e0c142d6b656c490c28e0910628db5886dfc143", "suspicious"),
    }
    domain = next(r for r in result.records if r.type == "domain")
    assert domain.source == "ESET (MISP)"
    assert domain.reason == (
        "MISP event 'SSHDoor : Kessel'; to_ids false: context the event gives, not for detection; "
        "SSHDoor; threat level undefined; event not published"
    )
    assert domain.reference == "misp:5bbe5f8d-8d10-4d91-89ff-79240a016219"
    # The detection name, ports and the dropped path are no intel indicators.
    assert sorted(s.reason for s in result.skipped) == [
        "MISP type 'filename' is not a network or file indicator",
        *["MISP type 'port' is not a network or file indicator"] * 3,
        "MISP type 'text' is not a network or file indicator",
    ]


def test_to_ids_false_is_context_even_in_a_high_threat_event(tmp_path: Path) -> None:
    attributes = [
        _attr("ip-dst", "45.83.66.9"),
        _attr("domain", "api.ipify.org", to_ids=False, comment="the sample asks for its public address"),
        _attr("ip-dst", "45.83.66.10", to_ids="0"),
    ]

    records = {r.value: r for r in load_feed(_event(tmp_path, attributes, threat_level_id="1"))}

    assert records["45.83.66.9"].verdict == "malicious" and "to_ids" not in records["45.83.66.9"].reason
    assert records["api.ipify.org"].verdict == records["45.83.66.10"].verdict == "suspicious"
    assert records["api.ipify.org"].reason == (
        "MISP event 'Test event'; to_ids false: context the event gives, not for detection; "
        "the sample asks for its public address; threat level high"
    )


def test_qakbot_objects_give_their_ips_with_ports_and_galaxies() -> None:
    result = parse_feed(FIXTURES / "misp" / "osint-qakbot-event.json")

    from_objects = [r for r in result.records if "ip-port object" in r.reason]
    assert len(from_objects) == 24
    ip = next(r for r in from_objects if r.value == "64.183.173.170")
    assert ip.type == "ipv4" and "port 995" in ip.reason
    assert "tool Emotet; banker Qakbot" in ip.reason and "event not published" in ip.reason
    assert "tlp" not in ip.reason and "OSINT" not in ip.reason.removeprefix("MISP event 'OSINT")


def test_ursnif_sightings_set_last_seen_and_false_positives_make_it_gray() -> None:
    records = {r.value: r for r in load_feed(FIXTURES / "misp" / "ursnif-event-with-sightings.json")}

    seen = records["ooiasjdnqjwbeasdasd.com"]
    assert seen.verdict == "malicious" and seen.last_seen == "2019-02-27T07:52:30Z"
    assert "sighted 1 time" in seen.reason and "banker Gozi" in seen.reason
    disputed = records["eqowiesajenqweasd.com"]
    assert disputed.verdict == "suspicious" and "reported as false positive 1 time" in disputed.reason
    assert records["http://sistemait.it/softaculous/backup/client.rar"].type == "url"


def test_xorist_and_sunorcal_hashes_and_hosts() -> None:
    xorist = load_feed(FIXTURES / "misp" / "xorist-ransomware-event.json")
    sunorcal = parse_feed(FIXTURES / "misp" / "osint-sunorcal-event.json")

    assert sorted(r.type for r in xorist) == ["md5", "sha1", "sha256"]
    assert "malware-type Ransom" in xorist[0].reason
    assert "Imported via" not in xorist[0].reason  # freetext-import boilerplate is no reason
    hosts = [r for r in sunorcal.records if r.type == "domain"]
    assert {r.value for r in hosts} >= {"www.fyoutside.com", "www.olinaodi.com"}
    assert any("regkey" in s.reason for s in sunorcal.skipped)


def test_composite_types_threat_levels_tags_and_expiry(tmp_path: Path) -> None:
    attributes = [
        _attr("domain|ip", "update-service.example.net|45.83.66.1"),
        _attr("ip-dst|port", "45.83.66.2|8443"),
        _attr("filename|sha256", "evil.dll|" + "AB" * 32),
        _attr("x509-fingerprint-sha1", "5A:3F:0D:8F:5E:1C:2B:4D:6A:7B:8C:9D:0E:1F:2A:3B:4C:5D:6E:7F"),
        _attr("url", "evil.example.net/gate.php"),
        _attr("hostname", "fp.example.net", Tag=[{"name": 'false-positive:risk="high"'}]),
        _attr("ip-src", "45.83.66.3", Sighting=[{"type": "2", "date_sighting": "1767225600"}]),
        _attr("domain", "deleted.example.net", deleted=True),
    ]

    records = {r.value: r for r in load_feed(_event(tmp_path, attributes))}

    assert {r.type for r in records.values()} == {"domain", "ipv4", "sha256", "x509_sha1", "url"}
    assert (
        "port 8443" in records["45.83.66.2"].reason and "threat level medium" in records["45.83.66.2"].reason
    )
    assert "file evil.dll" in records["ab" * 32].reason
    assert "http://evil.example.net/gate.php" in records
    assert records["fp.example.net"].verdict == "suspicious"
    assert records["45.83.66.3"].valid_until == "2026-01-01T00:00:00Z"
    assert "deleted.example.net" not in records
    assert all(r.source == "ACME CERT (MISP)" for r in records.values())


def test_undefined_threat_level_is_gray(tmp_path: Path) -> None:
    [record] = load_feed(_event(tmp_path, [_attr("domain", "c2.example.net")], threat_level_id="4"))

    assert record.verdict == "suspicious" and "threat level undefined" in record.reason


@pytest.mark.parametrize(
    "doc",
    [
        {"response": [{"Event": {"info": "a", "Attribute": [_attr("domain", "c2.example.net")]}}]},
        [{"Event": {"info": "a", "Attribute": [_attr("domain", "c2.example.net")]}}],
        {"info": "a", "Attribute": [_attr("domain", "c2.example.net")]},
        {"response": {"Attribute": [{**_attr("domain", "c2.example.net"), "Event": {"info": "a"}}]}},
    ],
    ids=["events-restsearch", "event-list", "bare-event", "attributes-restsearch"],
)
def test_every_misp_json_shape_is_read(tmp_path: Path, doc: Any) -> None:
    path = tmp_path / "misp.json"
    path.write_text(json.dumps(doc), encoding="utf-8")

    [record] = load_feed(path)

    assert (record.value, record.reason) == ("c2.example.net", "MISP event 'a'")


def test_a_malformed_event_names_the_file_and_item(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(
        json.dumps([{"Event": {"info": "x", "Attribute": []}}, {"Event": "nope"}]), encoding="utf-8"
    )

    with pytest.raises(FeedError, match=r"broken\.json: item 1 is not a MISP event"):
        load_feed(path)
