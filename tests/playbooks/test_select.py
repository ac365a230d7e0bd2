"""Choosing a playbook by its match rules, without Prefect or a store: each condition on its own, the order
among playbooks that all match (priority, then conditions, then the tenant's own first), the fallback, and
which shipped playbook each kind of case gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from playbooks import DEFAULT, Facts, Match, Playbook, candidates, choose, holds, resolve

MYKINGS = "MyKings botnet: scriptlet download and Run-key persistence"
PCASTLE = "Scheduled task runs encoded PowerShell that downloads code"
DUOBEAN = "Periodic HTTPS from msiexec.exe to a rarely seen address"
MIMIKATZ = "HackTool:Win32/Mimikatz quarantined"
ADWARE = "PUA:Win32/BrowserAssistant adware"
STEPS = [{"id": "report", "kind": "notify", "event": "incident_report"}]


def _facts(**given: Any) -> Facts:
    given.setdefault("tenant", "demo")
    for name in ("techniques", "findings"):
        if name in given:
            given[name] = frozenset(given[name])
    if "titles" in given:
        given["titles"] = tuple(given["titles"])
    return Facts(**given)


def _playbook(playbook_id: str, match: dict[str, Any] | None) -> Playbook:
    return Playbook.model_validate({"id": playbook_id, "name": playbook_id, "match": match, "steps": STEPS})


# -- holds: one condition at a time ---------------------------------------------------------------------

HOLDS: dict[str, tuple[dict[str, Any], dict[str, Any], bool]] = {
    # A verdict condition needs a verdict: before triage it does not hold.
    "verdict-before-triage": ({"verdict": ["malicious"]}, {}, False),
    "verdict-same": ({"verdict": ["malicious"]}, {"verdict": "malicious"}, True),
    "verdict-other": ({"verdict": ["malicious"]}, {"verdict": "suspicious"}, False),
    "verdict-any-of": ({"verdict": ["malicious", "suspicious"]}, {"verdict": "suspicious"}, True),
    # A technique matches its sub-techniques, never the other way round, and never a mere prefix.
    "technique-parent-matches-sub": ({"techniques": ["T1547"]}, {"techniques": ["T1547.001"]}, True),
    "technique-sub-not-parent": ({"techniques": ["T1547.001"]}, {"techniques": ["T1547"]}, False),
    "technique-exact": ({"techniques": ["T1547.001"]}, {"techniques": ["T1547.001"]}, True),
    "technique-sibling": ({"techniques": ["T1547.001"]}, {"techniques": ["T1547.009"]}, False),
    "technique-other": ({"techniques": ["T1547"]}, {"techniques": ["T1548.002", "T1059"]}, False),
    "technique-not-a-prefix": ({"techniques": ["T1547"]}, {"techniques": ["T15470"]}, False),
    "technique-any-of": ({"techniques": ["T1053", "T1059"]}, {"techniques": ["T1059.001"]}, True),
    "technique-none-present": ({"techniques": ["T1547"]}, {}, False),
    # Words in a title, case-insensitive, any word in any title.
    "title-case-insensitive": ({"title_contains": ["PowerShell"]}, {"titles": [PCASTLE.upper()]}, True),
    "title-any-word": ({"title_contains": ["xmrig", "powershell"]}, {"titles": [PCASTLE]}, True),
    "title-any-title": ({"title_contains": ["mimikatz"]}, {"titles": [ADWARE, MIMIKATZ]}, True),
    "title-no-word": ({"title_contains": ["mimikatz", "rubeus"]}, {"titles": [MYKINGS, ADWARE]}, False),
    "title-no-title": ({"title_contains": ["mimikatz"]}, {}, False),
    "severity-equal": ({"min_severity": 4}, {"severity": 4}, True),
    "severity-above": ({"min_severity": 4}, {"severity": 5}, True),
    "severity-below": ({"min_severity": 4}, {"severity": 3}, False),
    "severity-zero": ({"min_severity": 0}, {"severity": 0}, True),
    "findings-any-of": ({"findings": ["side_loading", "volume"]}, {"findings": ["volume", "rhythm"]}, True),
    "findings-other": ({"findings": ["side_loading", "volume"]}, {"findings": ["rhythm"]}, False),
    "findings-none-yet": ({"findings": ["hacktool"]}, {}, False),
    "tenant-listed": ({"tenants": ["acme", "globex"]}, {"tenant": "globex"}, True),
    "tenant-not-listed": ({"tenants": ["acme"]}, {"tenant": "demo"}, False),
    "no-conditions": ({}, {}, True),
    # Every condition given must hold: one that fails is enough.
    "all-hold": (
        {"verdict": ["malicious"], "findings": ["rhythm"], "min_severity": 3, "tenants": ["demo"]},
        {"verdict": "malicious", "findings": ["rhythm"], "severity": 4},
        True,
    ),
    "one-fails": (
        {"verdict": ["malicious"], "findings": ["rhythm"], "min_severity": 3, "tenants": ["acme"]},
        {"verdict": "malicious", "findings": ["rhythm"], "severity": 4},
        False,
    ),
}


@pytest.mark.parametrize(("match", "facts", "expected"), HOLDS.values(), ids=list(HOLDS))
def test_holds(match: dict[str, Any], facts: dict[str, Any], expected: bool) -> None:
    assert holds(Match.model_validate(match), _facts(**facts)) is expected


def test_conditions_count_the_given_fields_but_not_the_priority() -> None:
    assert Match().conditions() == 0
    assert Match(priority=50).conditions() == 0
    assert Match.model_validate({"verdict": ["malicious"], "findings": ["rhythm"]}).conditions() == 2
    assert Match(min_severity=0).conditions() == 1  # 0 is a condition, not an absent one


# -- choose: the order among playbooks that all match --------------------------------------------------

MALICIOUS = _facts(verdict="malicious", findings=["rhythm"], severity=4)
FALLBACK = _playbook("fallback", None)


def test_the_highest_priority_wins_over_more_conditions_and_over_order() -> None:
    many = _playbook("many", {"verdict": ["malicious"], "findings": ["rhythm"], "min_severity": 2})
    urgent = _playbook("urgent", {"verdict": ["malicious"], "priority": 5})

    assert choose([many, urgent], MALICIOUS, FALLBACK).id == "urgent"
    assert choose([urgent, many], MALICIOUS, FALLBACK).id == "urgent"


def test_with_equal_priority_the_most_conditions_win_whatever_the_order() -> None:
    broad = _playbook("broad", {"verdict": ["malicious"]})
    narrow = _playbook("narrow", {"verdict": ["malicious"], "findings": ["rhythm"]})

    assert choose([broad, narrow], MALICIOUS, FALLBACK).id == "narrow"
    assert choose([narrow, broad], MALICIOUS, FALLBACK).id == "narrow"


def test_with_equal_priority_and_conditions_the_first_given_wins() -> None:
    one = _playbook("one", {"verdict": ["malicious"]})
    two = _playbook("two", {"findings": ["rhythm"]})

    assert choose([one, two], MALICIOUS, FALLBACK).id == "one"
    assert choose([two, one], MALICIOUS, FALLBACK).id == "two"


def test_a_playbook_whose_match_fails_is_not_chosen_however_high_its_priority() -> None:
    loud = _playbook("loud", {"verdict": ["benign"], "priority": 1000})
    quiet = _playbook("quiet", {"verdict": ["malicious"], "priority": -1000})

    assert choose([loud, quiet], MALICIOUS, FALLBACK).id == "quiet"


def test_the_fallback_when_no_match_holds_and_a_playbook_without_match_is_never_chosen() -> None:
    unmatched = _playbook("unmatched", None)  # only ever run when asked for by name
    other = _playbook("other", {"verdict": ["benign"]})

    assert choose([unmatched, other], MALICIOUS, FALLBACK) is FALLBACK
    assert choose([], MALICIOUS, FALLBACK) is FALLBACK


# -- the shipped playbooks ------------------------------------------------------------------------------

SHIPPED: dict[str, tuple[dict[str, Any], str]] = {
    "mykings": (
        {
            "verdict": "malicious",
            "titles": [MYKINGS],
            "findings": ["persistence_long_lived", "known_malicious"],
            "techniques": ["T1547.001", "T1218.010"],
            "severity": 4,
        },
        "persistence-malware",
    ),
    "pcastle": (
        {"verdict": "malicious", "titles": [PCASTLE], "findings": ["rhythm"], "severity": 4},
        "fileless-miner",
    ),
    # The miner is persistent too: its higher priority takes it from persistence-malware.
    "pcastle-persistent": (
        {"verdict": "malicious", "titles": [PCASTLE], "findings": ["rhythm", "persistence"]},
        "fileless-miner",
    ),
    "duobean": (
        {"verdict": "malicious", "titles": [DUOBEAN], "findings": ["side_loading"], "severity": 3},
        "c2-beacon",
    ),
    "duobean-persistent": (
        {"verdict": "malicious", "titles": [DUOBEAN], "findings": ["side_loading", "persistence_near"]},
        "c2-beacon",
    ),
    "mimikatz-gray": (
        {"verdict": "suspicious", "titles": [MIMIKATZ], "findings": ["hacktool"], "severity": 2},
        "attack-tool-precursor",
    ),
    "mimikatz-malicious": (
        {"verdict": "malicious", "titles": [MIMIKATZ], "findings": ["hacktool", "persistence"]},
        "attack-tool-precursor",
    ),
    # The finding alone is not enough: the alert must name an attack tool.
    "hacktool-unnamed": (
        {"verdict": "suspicious", "titles": [ADWARE], "findings": ["hacktool"]},
        "gray-default",
    ),
    "adware-gray": (
        {"verdict": "suspicious", "titles": [ADWARE], "findings": ["pua"], "severity": 2},
        "gray-default",
    ),
    "malicious-plain": (
        {"verdict": "malicious", "titles": ["Ransomware deletes shadow copies"], "findings": ["ransomware"]},
        "default",
    ),
    "powershell-without-findings": ({"verdict": "malicious", "titles": [PCASTLE]}, "default"),
    "before-triage": (
        {"titles": [MIMIKATZ, PCASTLE], "techniques": ["T1547.001"], "severity": 5},
        "default",
    ),
    "benign": ({"verdict": "benign", "titles": [MYKINGS], "findings": ["persistence"]}, "default"),
}


@pytest.mark.parametrize(("facts", "expected"), SHIPPED.values(), ids=list(SHIPPED))
def test_the_shipped_playbook_each_case_gets(facts: dict[str, Any], expected: str) -> None:
    chosen = choose(candidates(), _facts(**facts), resolve(DEFAULT))

    assert chosen.id == expected


def test_the_candidates_are_every_shipped_playbook_once() -> None:
    found = [playbook.id for playbook in candidates(["gray-default", "default"])]

    assert sorted(found) == sorted(set(found))
    assert found[:2] == ["gray-default", "default"]  # the tenant's list first, even when built-in
    assert set(found) == {
        "attack-tool-precursor",
        "c2-beacon",
        "default",
        "fileless-miner",
        "gray-default",
        "persistence-malware",
    }


# -- a tenant's own playbooks ---------------------------------------------------------------------------


def _tenant_file(tmp_path: Path, playbook_id: str, match: dict[str, Any] | None) -> str:
    path = tmp_path / f"{playbook_id}.yaml"
    path.write_text(
        yaml.safe_dump({"id": playbook_id, "name": playbook_id, "match": match, "steps": STEPS}),
        encoding="utf-8",
    )
    return str(path)


def test_a_tenants_playbook_with_a_higher_priority_wins_for_that_tenant_only(tmp_path: Path) -> None:
    own = _tenant_file(
        tmp_path, "acme-persistence", {"verdict": ["malicious"], "tenants": ["acme"], "priority": 15}
    )
    mykings = SHIPPED["mykings"][0]

    # Listed by both tenants (a shared file): the match's tenants keep it to acme.
    assert choose(candidates([own]), _facts(**mykings, tenant="acme"), resolve(DEFAULT)).id == (
        "acme-persistence"
    )
    assert choose(candidates([own]), _facts(**mykings), resolve(DEFAULT)).id == "persistence-malware"
    # Below a built-in's priority it loses there, and takes what no built-in matches.
    mimikatz = _facts(**SHIPPED["mimikatz-malicious"][0], tenant="acme")
    assert choose(candidates([own]), mimikatz, resolve(DEFAULT)).id == "attack-tool-precursor"
    plain = _facts(**SHIPPED["malicious-plain"][0], tenant="acme")
    assert choose(candidates([own]), plain, resolve(DEFAULT)).id == "acme-persistence"


def test_a_tenants_playbook_matching_like_a_builtin_one_comes_first(tmp_path: Path) -> None:
    # Same priority and as many conditions as gray-default: the tenant's own is the first candidate.
    own = _tenant_file(tmp_path, "acme-gray", {"verdict": ["suspicious"]})
    adware = _facts(**SHIPPED["adware-gray"][0], tenant="acme")

    assert [p.id for p in candidates([own])][0] == "acme-gray"
    assert choose(candidates([own]), adware, resolve(DEFAULT)).id == "acme-gray"
    assert choose(candidates(), adware, resolve(DEFAULT)).id == "gray-default"


def test_a_tenants_playbook_without_match_runs_only_when_asked_for_by_its_id(tmp_path: Path) -> None:
    own = _tenant_file(tmp_path, "acme-manual", None)
    plain = _facts(**SHIPPED["malicious-plain"][0], tenant="acme")

    assert choose(candidates([own]), plain, resolve(DEFAULT)).id == "default"
    assert resolve("acme-manual", [own]).id == "acme-manual"
    with pytest.raises(ValueError, match="no playbook 'acme-manual'"):
        resolve("acme-manual")  # another tenant does not have it
