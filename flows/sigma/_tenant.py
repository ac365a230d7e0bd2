"""One tenant's rule set: the SigmaHQ corpus without the rules the tenant disabled, plus the tenant's own
rule folders, converted by the same code and cached the same way (by a hash of the files' content).

A tenant's own rules are its own: they carry the tenant as ``owner``, so a match on one is never credited
to SigmaHQ. What the tenant's folders could not give (a rule pySigma rejects) is listed with the reason,
as the corpus's failures are, and costs that rule only.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from threading import Lock

from ._cache import converted
from ._rule import Conversion
from ._ruleset import RuleSet, default_cache_dir, load_rules


@dataclass(frozen=True)
class RuleChoice:
    """What a tenant changes in the rules triage runs for it (``rules:`` in the tenants file).

    >>> RuleChoice.of("acme", ["c4b890e5-8d8c-4496-8c66-c805753817cd"], [Path("acme-rules")]).folders
    (PosixPath('acme-rules'),)
    """

    owner: str
    disable: frozenset[str] = frozenset()  # lower-case ids
    folders: tuple[Path, ...] = ()

    @classmethod
    def of(cls, owner: str, disable: Collection[str], folders: Sequence[Path]) -> RuleChoice:
        return cls(owner, frozenset(i.lower() for i in disable), tuple(folders))


_KEEP = 32  # tenant rule sets held in memory (each compiles its matching groups on first use)
_sets: OrderedDict[str, RuleSet] = OrderedDict()
_lock = Lock()


def rules_for(choice: RuleChoice | None, cache_dir: Path | None = None) -> RuleSet:
    """The rules that run for a tenant: the corpus as is when it changes nothing, else the corpus less
    the disabled ids plus its own folders' rules. Folders are hashed on every call, so an edited or new
    rule file is converted again; an unchanged set is the same object (its compiled groups reused)."""
    if cache_dir is None:
        cache_dir = default_cache_dir()
    corpus = load_rules(cache_dir=cache_dir)
    if choice is None or not (choice.disable or choice.folders):
        return corpus
    for folder in choice.folders:
        if not folder.exists():  # gone since the tenants file loaded: said, not read as "no rules"
            raise FileNotFoundError(f"no such rule folder: {folder}")
    own_key, own = converted(list(choice.folders), cache_dir) if choice.folders else ("", Conversion())
    digest = hashlib.sha256(f"{corpus.key}\0{own_key}\0{choice.owner}".encode())
    for rule_id in sorted(choice.disable):
        digest.update(f"\0{rule_id}".encode())
    key = digest.hexdigest()[:32]
    with _lock:
        if key in _sets:
            _sets.move_to_end(key)
            return _sets[key]
    mine = [replace(rule, owner=choice.owner) for rule in own.rules]
    every = [*corpus.rules, *mine]
    known = {rule.id.lower() for rule in every}
    rule_set = RuleSet(
        [rule for rule in every if rule.id.lower() not in choice.disable],
        [*corpus.failed, *(replace(failure, owner=choice.owner) for failure in own.failed)],
        corpus.skipped + own.skipped,
        key,
        owner=choice.owner,
        disabled=sorted(choice.disable & known),
        unknown_disabled=sorted(choice.disable - known),
    )
    with _lock:
        _sets[key] = rule_set
        while len(_sets) > _KEEP:
            _sets.popitem(last=False)
    return rule_set
