"""Local intel feeds as enrichment reads them (the one feed reader, ``actions.intel.feeds``): what they
know and why, and a broken feed says file and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actions.intel import FeedError, parse_feed
from flows.models import Indicator, IndicatorType, Provenance
from flows.settings import Settings
from flows.tenants import IntelConfig
from flows.triage import enrich, local_index

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


class Feeds:
    """The feeds of one test, asked the way the respond flow asks them."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        local_index(paths)  # parse now: a broken feed fails here, naming file and line

    def lookup(self, indicator: Indicator) -> list[Provenance]:
        [found] = self.enrich([indicator])
        return found.provenance

    @property
    def entries(self) -> set[tuple[str, str]]:
        return {(r.type, r.value) for path in self.paths for r in parse_feed(path).records}

    def enrich(self, indicators: list[Indicator]) -> list[Indicator]:
        return enrich(indicators, tenant="t", feeds=self.paths, intel=IntelConfig()).indicators


@pytest.fixture(scope="module")
def default_feeds() -> Feeds:
    return Feeds([DEFAULT_FEED])


def test_the_settings_use_the_default_feed(settings: Settings) -> None:
    assert [path.resolve() for path in settings.intel_feeds] == [DEFAULT_FEED]


def test_the_default_feed_knows_the_mykings_domain(default_feeds: Feeds) -> None:
    [provenance] = default_feeds.lookup(_indicator("js.mykings.top"))

    assert provenance == Provenance(
        source="garrison-demo-feed",
        verdict="malicious",
        reason="MyKings botnet C2 and payload host",
        first_seen="2017-03-01",
        last_seen="2026-11-01",
    )


def test_defanged_feed_values_are_refanged(default_feeds: Feeds) -> None:
    assert ("url", "http://js.mykings.top:280/v.sct") in default_feeds.entries
    assert default_feeds.lookup(_indicator("http://js.mykings.top:280/v.sct"))[0].reason == (
        "MyKings scriptlet download (v.sct)"
    )
    assert not any("[.]" in value or value.startswith("hxxp") for _, value in default_feeds.entries)


def test_lookups_are_normalized_like_the_feed(default_feeds: Feeds) -> None:
    assert default_feeds.lookup(_indicator("JS[.]MyKings[.]top"))


def test_an_unknown_indicator_has_no_provenance(default_feeds: Feeds) -> None:
    assert default_feeds.lookup(_indicator("example.com")) == []


def test_the_type_must_match_too(default_feeds: Feeds) -> None:
    as_url = Indicator(type=IndicatorType.URL, value="js.mykings.top")

    assert default_feeds.lookup(as_url) == []


def test_enrich_attaches_provenance_without_duplicating_it(default_feeds: Feeds) -> None:
    indicators = [_indicator("js.mykings.top"), _indicator("example.com")]

    once = default_feeds.enrich(indicators)
    twice = default_feeds.enrich(once)

    assert [len(i.provenance) for i in once] == [1, 0]
    assert [len(i.provenance) for i in twice] == [1, 0]
    assert indicators[0].provenance == []  # the input is not modified


def test_several_feeds_add_up(tmp_path: Path) -> None:
    second = _feed(tmp_path, "domain,js.mykings.top,suspicious,seen in a sandbox,,sandbox\n")

    feeds = Feeds([DEFAULT_FEED, second])

    assert [p.source for p in feeds.lookup(_indicator("js.mykings.top"))] == ["garrison-demo-feed", "sandbox"]


def test_a_bad_row_is_skipped_and_the_rest_still_enriches(tmp_path: Path) -> None:
    # The reader's own tests (tests/actions/intel) cover every error message; here: one broken row of a
    # feed never costs the incident the feed's other answers.
    path = _feed(tmp_path, "ipv4,js.mykings.top,malicious,,,\ndomain,ok.example,malicious,C2,,feed\n")

    assert [p.reason for p in Feeds([path]).lookup(_indicator("ok.example"))] == ["C2"]
    assert [str(s) for s in parse_feed(path).skipped] == ["feed.csv:2: 'js.mykings.top' is no IP address"]


def test_an_unreadable_feed_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="absent.csv"):
        Feeds([tmp_path / "absent.csv"])


def test_a_changed_feed_is_read_again(tmp_path: Path) -> None:
    path = _feed(tmp_path, "domain,one.example,malicious,,,\n")
    assert Feeds([path]).lookup(_indicator("one.example"))

    path.write_text(HEADER + "domain,two.example,malicious,,,\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    reloaded = Feeds([path])
    assert reloaded.lookup(_indicator("two.example"))
    assert not reloaded.lookup(_indicator("one.example"))
