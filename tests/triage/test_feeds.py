"""Local intel feeds: what they know and why, and a broken feed says file and line."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from flows.models import Indicator, IndicatorType, Provenance
from flows.settings import Settings
from flows.triage import FeedError, LocalFeeds, feeds_from

DEFAULT_FEED = Path(__file__).resolve().parents[2] / "flows" / "defaults" / "intel-feed.csv"
HEADER = "type,value,verdict,reason,first_seen,source\n"


def _feed(tmp_path: Path, rows: str, header: str = HEADER, name: str = "feed.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + rows, encoding="utf-8")
    return path


def _indicator(raw: str) -> Indicator:
    indicator = Indicator.parse(raw)
    assert indicator is not None
    return indicator


@pytest.fixture(scope="module")
def default_feeds() -> LocalFeeds:
    return LocalFeeds.load([DEFAULT_FEED])


def test_the_settings_use_the_default_feed(settings: Settings) -> None:
    assert [path.resolve() for path in settings.intel_feeds] == [DEFAULT_FEED]


def test_the_default_feed_knows_the_mykings_domain(default_feeds: LocalFeeds) -> None:
    [provenance] = default_feeds.lookup(_indicator("js.mykings.top"))

    assert provenance == Provenance(
        source="garrison-demo-feed",
        verdict="malicious",
        reason="MyKings botnet C2 and payload host",
        first_seen="2017-03-01",
        last_seen="2026-11-01",
    )


def test_defanged_feed_values_are_refanged(default_feeds: LocalFeeds) -> None:
    assert (IndicatorType.URL, "http://js.mykings.top:280/v.sct") in default_feeds.entries
    assert default_feeds.lookup(_indicator("http://js.mykings.top:280/v.sct"))[0].reason == (
        "MyKings scriptlet download (v.sct)"
    )
    assert not any("[.]" in value or value.startswith("hxxp") for _, value in default_feeds.entries)


def test_lookups_are_normalized_like_the_feed(default_feeds: LocalFeeds) -> None:
    assert default_feeds.lookup(_indicator("JS[.]MyKings[.]top"))


def test_an_unknown_indicator_has_no_provenance(default_feeds: LocalFeeds) -> None:
    assert default_feeds.lookup(_indicator("example.com")) == []


def test_the_type_must_match_too(default_feeds: LocalFeeds) -> None:
    as_url = Indicator(type=IndicatorType.URL, value="js.mykings.top")

    assert default_feeds.lookup(as_url) == []


def test_enrich_attaches_provenance_without_duplicating_it(default_feeds: LocalFeeds) -> None:
    indicators = [_indicator("js.mykings.top"), _indicator("example.com")]

    once = default_feeds.enrich(indicators)
    twice = default_feeds.enrich(once)

    assert [len(i.provenance) for i in once] == [1, 0]
    assert [len(i.provenance) for i in twice] == [1, 0]
    assert indicators[0].provenance == []  # the input is not modified


def test_several_feeds_add_up(tmp_path: Path) -> None:
    second = _feed(tmp_path, "domain,js.mykings.top,suspicious,seen in a sandbox,,sandbox\n")

    feeds = LocalFeeds.load([DEFAULT_FEED, second])

    assert [p.source for p in feeds.lookup(_indicator("js.mykings.top"))] == ["garrison-demo-feed", "sandbox"]


def test_optional_columns_may_be_missing(tmp_path: Path) -> None:
    path = _feed(tmp_path, "ipv4,203.0.113.7,MALICIOUS\n", header="type,value,verdict\n", name="mini.csv")

    [provenance] = LocalFeeds.load([path]).lookup(_indicator("203.0.113.7"))

    assert provenance == Provenance(source="mini", verdict="malicious", reason="", first_seen=None)


def test_a_bad_verdict_names_file_and_line(tmp_path: Path) -> None:
    path = _feed(tmp_path, "domain,ok.example,malicious,,,\ndomain,bad.example,evil,,,\n")

    with pytest.raises(FeedError, match="verdict must be one of") as caught:
        LocalFeeds.load([path])

    assert str(caught.value).startswith(f"{path}:3:")


def test_a_bad_type_names_file_and_line(tmp_path: Path) -> None:
    path = _feed(tmp_path, "hostname,evil.example,malicious,,,\n")

    with pytest.raises(FeedError, match="unknown indicator type 'hostname'") as caught:
        LocalFeeds.load([path])

    assert str(caught.value).startswith(f"{path}:2:")


def test_an_invalid_value_names_file_and_line(tmp_path: Path) -> None:
    path = _feed(tmp_path, "ipv4,js.mykings.top,malicious,,,\n")

    with pytest.raises(FeedError, match="is not a valid ipv4") as caught:
        LocalFeeds.load([path])

    assert str(caught.value).startswith(f"{path}:2:")


@pytest.mark.parametrize("missing", ["type", "value", "verdict"])
def test_a_missing_column_names_the_file_and_column(tmp_path: Path, missing: str) -> None:
    header = ",".join(c for c in HEADER.strip().split(",") if c != missing) + "\n"
    path = _feed(tmp_path, "", header=header)

    with pytest.raises(FeedError) as caught:
        LocalFeeds.load([path])

    assert str(caught.value) == f"{path}: missing columns {missing}"


def test_an_unreadable_feed_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"

    with pytest.raises(FeedError, match="cannot read") as caught:
        LocalFeeds.load([path])

    assert str(path) in str(caught.value)


def test_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    path = _feed(tmp_path, 'domain,ok.example,malicious,"two\nlines",,\ndomain,bad.example,evil,,,\n')

    with pytest.raises(FeedError) as caught:
        LocalFeeds.load([path])

    assert str(caught.value).startswith(f"{path}:4:")


@pytest.mark.parametrize(
    "row", ["md5,js.mykings.top,malicious,,,", "domain,,malicious,,,", "domain,not a domain,malicious,,,"]
)
def test_a_value_that_is_not_of_its_declared_type_is_refused(tmp_path: Path, row: str) -> None:
    path = _feed(tmp_path, row + "\n")

    with pytest.raises(FeedError, match=re.escape(f"{path}:2:")):
        LocalFeeds.load([path])


def test_feeds_from_rereads_a_changed_feed(tmp_path: Path) -> None:
    path = _feed(tmp_path, "domain,one.example,malicious,,,\n")
    assert feeds_from([path]).lookup(_indicator("one.example"))

    path.write_text(HEADER + "domain,two.example,malicious,,,\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    reloaded = feeds_from([path])
    assert reloaded.lookup(_indicator("two.example"))
    assert not reloaded.lookup(_indicator("one.example"))
