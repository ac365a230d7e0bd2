"""A Sigma rule as Garrison keeps it once converted: what it is (for reasons and listings) and its detection
as a small tree of field tests (for ``_match``). Plain data, so the converted set is cached as JSON."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

LEVELS = ("informational", "low", "medium", "high", "critical")
_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$")

# The detection tree: ["and", [nodes]], ["or", [nodes]], ["not", node], or a leaf
# ["leaf", field, op, value, cased]. ``field`` None is a keyword (any field). Ops:
#   eq / sw / ew / in  the value equals / starts with / ends with / contains the string
#   glob               [regex, longest literal]: Sigma wildcards inside the string
#   re                 [regex, flags]          any                the field has a value
#   null               the field is absent or empty          exists   the field is there
#   cidr               the value is an address in the network
#   cmp                [LT|LTE|GT|GTE|NEQ, number]           ref      equals another field's value
Tree = list[Any]


@dataclass(frozen=True)
class Rule:
    """One converted rule. ``requires``: the log source keys an event must have (``product:windows``,
    ``category:process_creation``, ``service:security``)."""

    id: str
    title: str
    level: str
    status: str
    path: str
    requires: tuple[str, ...]
    tree: Tree
    author: str = ""
    date: str = ""
    description: str = ""
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    owner: str = ""  # "": SigmaHQ's (the vendored corpus); else the tenant whose own rule it is

    @property
    def techniques(self) -> list[str]:
        """ATT&CK technique ids from the rule's tags (``attack.t1059.001`` → ``T1059.001``)."""
        return [m.group(1).upper() for tag in self.tags if (m := _TECHNIQUE.match(tag))]

    @property
    def rank(self) -> int:
        return LEVELS.index(self.level) if self.level in LEVELS else 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        tuples = ("requires", "references", "tags", "falsepositives")
        fields: dict[str, Any] = {k: tuple(v) if k in tuples else v for k, v in data.items()}
        return cls(**fields)


@dataclass(frozen=True)
class Unconverted:
    """A rule file that could not be converted, and why (listed, never hidden)."""

    path: str
    reason: str
    id: str = ""
    title: str = ""
    owner: str = ""  # as ``Rule.owner``


@dataclass
class Conversion:
    """What one conversion of rule files gave."""

    rules: list[Rule] = field(default_factory=list)
    failed: list[Unconverted] = field(default_factory=list)
    skipped: int = 0  # rules for other products (Linux, cloud…): no Windows telemetry for them, no failure
