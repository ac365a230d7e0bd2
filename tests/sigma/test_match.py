"""Sigma's semantics, as the matcher runs them: values and modifiers, conditions, log sources; conversion
failures listed with the reason; the converted set cached on disk by its hash."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from flows.sigma import CORPUS, RuleSet, load_rules
from flows.sigma import _cache as cache

PROCESS = frozenset({"product:windows", "category:process_creation"})
NETWORK = frozenset({"product:windows", "category:network_connection"})


def _rules(tmp_path: Path, detection: str, logsource: str = "category: process_creation") -> RuleSet:
    """One rule in a folder of its own; its title is the test's (no two tests share a converted set)."""
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "rule.yml").write_text(
        textwrap.dedent(
            f"""\
            title: Test rule {tmp_path.name}
            id: 5a1e2d3c-0000-4000-8000-000000000001
            status: test
            author: Garrison tests
            level: high
            tags: [attack.execution, attack.t1059.001]
            logsource:
                product: windows
                {logsource}
            detection:
            """
        )
        + textwrap.indent(textwrap.dedent(detection), "    "),
        encoding="utf-8",
    )
    return load_rules([folder], cache_dir=tmp_path / "cache")


def _matched(rules: RuleSet, *events: dict[str, Any], sources: frozenset[str] = PROCESS) -> list[int]:
    found = rules.match([(sources, event) for event in events])
    return list(found[0].events) if found else []


def _detection(*lines: str) -> str:
    return "\n".join(lines)


CASES = [
    # (detection, an event that matches, one that must not)
    (
        _detection("sel:", "    Image|endswith: '\\powershell.exe'", "condition: sel"),
        {"Image": "C:\\X\\POWERSHELL.EXE"},
        {"Image": "C:\\X\\powershell.exe.bak"},
    ),
    (
        _detection("sel:", "    Image: '*\\System32\\c?d.exe'", "condition: sel"),
        {"Image": "c:\\windows\\system32\\CMD.exe"},
        {"Image": "C:\\Windows\\System32\\cmdd.exe"},
    ),
    (
        _detection("sel:", "    CommandLine|contains|all: ['-nop', 'iex']", "condition: sel"),
        {"CommandLine": "ps -NoP; IEX x -nop"},
        {"CommandLine": "ps -nop"},
    ),
    (
        _detection("sel:", "    CommandLine|contains|windash: ' -enc '", "condition: sel"),
        {"CommandLine": "x /enc abc"},
        {"CommandLine": "x enc abc"},
    ),
    (
        _detection("sel:", "    CommandLine|base64offset|contains: 'http://'", "condition: sel"),
        {"CommandLine": "x aHR0cDovL"},
        {"CommandLine": "x http://"},
    ),
    (
        _detection("sel:", "    CommandLine|re: '\\s-[eE]nc\\s[A-Za-z0-9+/=]{8,}'", "condition: sel"),
        {"CommandLine": "p -Enc SQBFAFgAIAA="},
        {"CommandLine": "p -ENC SQBFAFgAIAA="},  # a regex is case-sensitive unless it says |i
    ),
    (
        _detection("sel:", "    CommandLine|re|i: 'invoke-(mimikatz|kerberoast)'", "condition: sel"),
        {"CommandLine": "INVOKE-Mimikatz"},
        {"CommandLine": "invoke-thing"},
    ),
    (
        _detection("sel:", "    CommandLine|cased: 'IEX'", "condition: sel"),
        {"CommandLine": "IEX"},
        {"CommandLine": "iex"},
    ),
    (
        _detection(
            "sel:",
            "    Image|startswith: 'C:\\Users\\'",
            "filter:",
            "    Image|contains: '\\AppData\\Local\\Microsoft\\'",
            "condition: sel and not filter",
        ),
        {"Image": "C:\\Users\\a\\x.exe"},
        {"Image": "C:\\Users\\a\\AppData\\Local\\Microsoft\\t.exe"},
    ),
    (
        _detection(
            "sel_a:",
            "    Image|endswith: '\\a.exe'",
            "sel_b:",
            "    Image|endswith: '\\b.exe'",
            "condition: 1 of sel_*",
        ),
        {"Image": "C:\\b.exe"},
        {"Image": "C:\\c.exe"},
    ),
    (
        _detection(
            "sel_a:",
            "    Image|endswith: '\\a.exe'",
            "sel_b:",
            "    CommandLine|contains: 'go'",
            "condition: all of sel_*",
        ),
        {"Image": "C:\\a.exe", "CommandLine": "go"},
        {"Image": "C:\\a.exe"},
    ),
    (
        _detection("sel:", "    Image|endswith: '\\a.exe'", "    OriginalFileName: null", "condition: sel"),
        {"Image": "C:\\a.exe"},
        {"Image": "C:\\a.exe", "OriginalFileName": "a.exe"},
    ),
    (
        _detection(
            "sel:", "    Image|endswith: '\\a.exe'", "    OriginalFileName|exists: true", "condition: sel"
        ),
        {"Image": "C:\\a.exe", "OriginalFileName": ""},
        {"Image": "C:\\a.exe"},
    ),
    (
        _detection("keywords:", "    - 'perfc.dat'", "condition: keywords"),
        {"CommandLine": "rundll32 C:\\perfc.dat,#1"},
        {"CommandLine": "rundll32 C:\\x.dat"},
    ),
    (_detection("sel:", "    ProcessId: 4", "condition: sel"), {"ProcessId": 4}, {"ProcessId": 40}),
    (
        _detection("sel:", "    ParentImage|fieldref: Image", "condition: sel"),
        {"Image": "C:\\A.exe", "ParentImage": "c:\\a.exe"},
        {"Image": "C:\\a.exe", "ParentImage": "C:\\b.exe"},
    ),
]


@pytest.mark.parametrize(
    ("detection", "hit", "miss"), CASES, ids=[c[0].split("\n")[1].strip()[:40] for c in CASES]
)
def test_values_modifiers_and_conditions(
    tmp_path: Path, detection: str, hit: dict[str, Any], miss: dict[str, Any]
) -> None:
    rules = _rules(tmp_path, detection)

    assert not rules.failed, rules.failed
    assert _matched(rules, miss, hit) == [1]


def test_cidr_and_numbers_compare_as_addresses_and_numbers(tmp_path: Path) -> None:
    rules = _rules(
        tmp_path,
        _detection(
            "sel:",
            "    DestinationIp|cidr: ['10.0.0.0/8', 'fd00::/8']",
            "    DestinationPort|gte: 4444",
            "condition: sel",
        ),
        "category: network_connection",
    )
    events = [
        {"DestinationIp": "10.1.2.3", "DestinationPort": 4444},
        {"DestinationIp": "fd12::1", "DestinationPort": "8080"},
        {"DestinationIp": "11.1.2.3", "DestinationPort": 4444},
        {"DestinationIp": "10.1.2.3", "DestinationPort": 80},
        {"DestinationIp": "not an address", "DestinationPort": 9999},
    ]

    assert _matched(rules, *events, sources=NETWORK) == [0, 1]


def test_a_rule_applies_only_to_its_log_source(tmp_path: Path) -> None:
    rules = _rules(tmp_path, "sel:\n    Image|endswith: '\\a.exe'\ncondition: sel")
    event = {"Image": "C:\\a.exe"}

    assert _matched(rules, event, sources=NETWORK) == []
    assert _matched(rules, event, sources=frozenset({"category:process_creation"})) == []  # not Windows
    assert _matched(rules, event) == [0]


def test_what_a_match_says_of_the_rule(tmp_path: Path) -> None:
    rules = _rules(tmp_path, "sel:\n    Image|endswith: '\\a.exe'\ncondition: sel")

    [rule] = rules.rules

    assert (rule.title, rule.level, rule.author) == (f"Test rule {tmp_path.name}", "high", "Garrison tests")
    assert rule.techniques == ["T1059.001"]
    assert rule.requires == ("product:windows", "category:process_creation")


def test_rules_that_cannot_be_converted_are_listed_with_the_reason(tmp_path: Path) -> None:
    rules = _rules(tmp_path, "sel:\n    Image|expand: '%admin_tools%'\ncondition: sel")
    broken = tmp_path / "rules" / "broken.yml"
    broken.write_text("title: [unclosed\n", encoding="utf-8")
    again = load_rules([tmp_path / "rules"], cache_dir=tmp_path / "cache")

    assert rules.rules == [] and "placeholder %admin_tools%" in rules.failed[0].reason
    assert {f.path for f in again.failed} == {"rule.yml", "broken.yml"}
    assert again.stats()["failed"] == 2 and again.stats()["converted"] == 0


def test_the_converted_set_is_cached_by_its_hash_and_read_back_without_pysigma(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = _rules(tmp_path, "sel:\n    Image|endswith: '\\a.exe'\ncondition: sel")
    cached = tmp_path / "cache" / f"{rules.key}.json"
    monkeypatch.setattr(cache, "_memory", {})  # a new process: nothing in memory

    import flows.sigma._compile as compile_module

    def no_pysigma(*_: Any) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(compile_module, "convert", no_pysigma)
    key, again = cache.converted([tmp_path / "rules"], tmp_path / "cache")

    assert cached.is_file() and key == rules.key
    assert [r.as_dict() for r in again.rules] == [r.as_dict() for r in rules.rules]
    (tmp_path / "rules" / "rule.yml").write_text(
        (tmp_path / "rules" / "rule.yml").read_text() + "\n# changed\n"
    )
    assert cache.fingerprint(cache.rule_files([tmp_path / "rules"])) != key


def test_the_vendored_corpus_converts_but_for_the_rules_needing_value_lists() -> None:
    rules = load_rules()

    assert len(rules.rules) >= 2800 and all(r.requires[0] == "product:windows" for r in rules.rules)
    assert [f.reason.split(" needs")[0] for f in rules.failed] == ["placeholder %known_cdcs%"] * 2
    assert (CORPUS / "LICENSE").is_file() and (CORPUS / "ORIGIN.txt").is_file()
    assert all(r.author for r in rules.rules if r.level in ("critical", "high"))  # DRL 1.1: credited
