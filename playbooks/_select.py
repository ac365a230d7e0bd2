"""Which playbook an incident runs: the one whose ``match`` holds, by priority.

The respond flow chooses twice: when the run starts (from the alerts and the tenant; a verdict condition
cannot be judged yet and does not hold), and again once triage has a verdict — so a playbook for
malicious persistence takes over from the default, and ``gray-default`` from whatever the alerts suggested,
for the steps after classification. An incident the tenant's own playbooks match takes one of them first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ._load import PlaybookError, builtin_playbooks, load_playbook
from ._schema import Match, Playbook

DEFAULT = "default"


@dataclass(frozen=True)
class Facts:
    """What match rules look at, taken from the incident (plain data: playbooks do not read the store)."""

    tenant: str
    verdict: str | None = None
    techniques: frozenset[str] = field(default_factory=frozenset)
    titles: tuple[str, ...] = ()
    severity: int = 0  # the most severe alert's OCSF severity_id
    findings: frozenset[str] = field(default_factory=frozenset)  # triage's finding codes


def holds(match: Match, facts: Facts) -> bool:
    """Every condition the match gives holds for these facts (a verdict condition needs a verdict)."""
    if match.verdict is not None and facts.verdict not in match.verdict:
        return False
    if match.tenants is not None and facts.tenant not in match.tenants:
        return False
    if match.techniques is not None and not any(_technique(t, facts.techniques) for t in match.techniques):
        return False
    if match.title_contains is not None:
        titles = [title.casefold() for title in facts.titles]
        if not any(word.casefold() in title for word in match.title_contains for title in titles):
            return False
    if match.findings is not None and not facts.findings.intersection(match.findings):
        return False
    return match.min_severity is None or facts.severity >= match.min_severity


def _technique(wanted: str, present: Iterable[str]) -> bool:
    # A technique matches its own sub-techniques: T1547 is what T1547.001 (Run keys) is an instance of.
    return any(found == wanted or found.startswith(f"{wanted}.") for found in present)


def choose(candidates: Sequence[Playbook], facts: Facts, fallback: Playbook) -> Playbook:
    """The candidate whose match holds with the highest priority, then the most conditions, then the
    first given (the tenant's own come before the built-ins); ``fallback`` when none holds."""
    matching = [
        (playbook.match.priority, playbook.match.conditions(), -order, playbook)
        for order, playbook in enumerate(candidates)
        if playbook.match is not None and holds(playbook.match, facts)
    ]
    if not matching:
        return fallback
    return max(matching, key=lambda found: found[:3])[3]


def candidates(tenant_playbooks: Iterable[str] = ()) -> list[Playbook]:
    """The tenant's own playbooks (ids of built-ins, or paths), then every built-in one, each once."""
    found: dict[str, Playbook] = {}
    for name in [*tenant_playbooks, *(path.stem for path in builtin_playbooks())]:
        playbook = load_playbook(name)
        found.setdefault(playbook.id, playbook)
    return list(found.values())


def resolve(name: str, tenant_playbooks: Iterable[str] = ()) -> Playbook:
    """A playbook asked for by name: a built-in id or a path, or the id of one of the tenant's own."""
    try:
        return load_playbook(name)
    except PlaybookError:
        found = {playbook.id: playbook for playbook in candidates(tenant_playbooks)}
        if name in found:
            return found[name]
        raise PlaybookError(f"no playbook {name!r} (known: {', '.join(sorted(found))})") from None
