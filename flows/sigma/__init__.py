"""The SigmaHQ rule corpus, run over Garrison's events: rules converted once with pySigma (cached), then
matched in Python (``_match``) against events shown under Sigma's field names (``flows.winlog``).

The vendored rules (``corpus/``) are SigmaHQ's, under the Detection Rule License 1.1: whatever shows a match
names the rule's title, id, author and references (``credit``).

>>> rules = RuleSet([Rule(id="r1", title="Whoami", level="low", status="test", path="x.yml",
...     requires=("product:windows", "category:process_creation"),
...     tree=["leaf", "Image", "ew", "\\\\whoami.exe", False])])
>>> event = (frozenset({"product:windows", "category:process_creation"}),
...     {"Image": "C:\\\\Windows\\\\System32\\\\WHOAMI.EXE"})
>>> [(m.rule.title, m.events) for m in rules.match([event])]
[('Whoami', (0,))]
"""

from ._rule import LEVELS, Rule, Unconverted
from ._ruleset import CORPUS, Event, Match, RuleSet, load_rules
from ._tenant import RuleChoice, rules_for

CREDIT = "SigmaHQ (https://github.com/SigmaHQ/sigma), Detection Rule License 1.1"


def credit(rule: Rule) -> str:
    """The attribution a shown match carries (DRL 1.1: the rule's author; the rule set and its licence).
    A tenant's own rule is the tenant's: SigmaHQ is not credited for it."""
    author = f" by {rule.author}" if rule.author else ""
    if rule.owner:
        return f"Sigma rule {rule.id}{author}; a rule of tenant {rule.owner}"
    return f"Sigma rule {rule.id}{author}; {CREDIT}"


__all__ = [
    "CORPUS",
    "CREDIT",
    "LEVELS",
    "Event",
    "Match",
    "Rule",
    "RuleChoice",
    "RuleSet",
    "Unconverted",
    "credit",
    "load_rules",
    "rules_for",
]
