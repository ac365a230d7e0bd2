"""Running thousands of rules over thousands of events in well under a second.

Rules are grouped by log source (``category:process_creation`` …). For one group, the events are read
column by column: each field's distinct values are tested once against every rule's tests of that field —
equality by dictionary lookup, ``contains`` / ``startswith`` / ``endswith`` and the literal part of
wildcards by one Aho-Corasick scan of the value (pyahocorasick), regular expressions with RE2 (linear
time: event text is hostile). A test's result is the set of events whose value passed, as a bitmask (a
Python int), so a rule's condition is a few integer ANDs, ORs and NOTs over all events at once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from re import _constants, _parser  # type: ignore[attr-defined]
from typing import Any

import ahocorasick  # type: ignore[import-not-found]
import re2  # type: ignore[import-untyped]

from ._rule import Rule, Tree

KEYWORDS = "\x00keywords"  # the pseudo-field a keyword (field-less) test reads
# Where a keyword is looked for, besides the fields the group's tests read: the fields that carry text.
TEXT_FIELDS = (
    "CommandLine", "ParentCommandLine", "Image", "ParentImage", "OriginalFileName", "TargetFilename",
    "TargetObject", "Details", "ImageLoaded", "PipeName", "QueryName", "ScriptBlockText", "ServiceName",
    "ServiceFileName", "ImagePath", "TaskName", "TaskContent", "Payload", "Message",
)  # fmt: skip
Node = Any  # a compiled tree: an int (test id), or ("and" | "or", (nodes…)), or ("not", node)


@dataclass(frozen=True)
class _Test:
    field: str
    op: str
    value: Any
    cased: bool


@dataclass
class _Field:
    """The tests of one field, arranged for a single pass over its distinct values."""

    equal: dict[str, list[int]] = field(default_factory=dict)  # lower-cased value → tests
    equal_cased: dict[str, list[int]] = field(default_factory=dict)
    # lower-cased literal → (test, op): contains / starts / ends with it, or a regex that needs it
    needles: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    networks: list[tuple[int, int, int, int]] = field(default_factory=list)  # (version, first, last, test)
    slow: list[int] = field(default_factory=list)  # tests run on every value: cmp, any
    regexes: list[int] = field(default_factory=list)  # patterns with no literal to scan for: one RE2 set
    automaton: Any = None
    regex_set: Any = None


class Group:
    """The rules of one log source, compiled for matching."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = list(rules)
        self.tests: list[_Test] = []
        self._ids: dict[_Test, int] = {}
        self.trees: list[Node] = [self._compile(rule.tree) for rule in self.rules]
        self.fields: dict[str, _Field] = {}
        self.presence: dict[int, str] = {}  # null / exists tests: decided by whether the field has a value
        self.references: list[int] = []  # field-to-field tests: decided per event
        self.patterns: dict[int, Any] = {}
        for test_id, test in enumerate(self.tests):
            self._arrange(test_id, test)
        if KEYWORDS in self.fields:
            for name in TEXT_FIELDS:
                self.fields.setdefault(name, _Field())
        for holder in self.fields.values():
            if holder.needles:
                holder.automaton = ahocorasick.Automaton()
                for needle, entries in holder.needles.items():
                    holder.automaton.add_word(needle, (len(needle), tuple(entries)))
                holder.automaton.make_automaton()
            if holder.regexes:
                holder.regex_set = _regex_set([self.patterns[t] for t in holder.regexes])

    def _compile(self, tree: Tree) -> Node:
        kind = tree[0]
        if kind == "leaf":
            _, name, op, value, cased = tree
            test = _Test(KEYWORDS if name is None else name, op, _frozen(value), bool(cased))
            if test not in self._ids:
                self._ids[test] = len(self.tests)
                self.tests.append(test)
            return self._ids[test]
        if kind == "not":
            return ("not", self._compile(tree[1]))
        return (kind, tuple(self._compile(child) for child in tree[1]))

    def _arrange(self, test_id: int, test: _Test) -> None:
        holder = self.fields.setdefault(test.field, _Field())
        if test.field == KEYWORDS and test.op in ("eq", "sw", "ew"):
            # A keyword is searched for in the event's text, as every Sigma backend does.
            holder.needles.setdefault(test.value.lower(), []).append((test_id, "in"))
        elif test.op in ("null", "exists"):
            self.presence[test_id] = test.field
        elif test.op == "ref":
            self.references.append(test_id)
        elif test.op == "eq":
            table = holder.equal_cased if test.cased else holder.equal
            table.setdefault(test.value if test.cased else test.value.lower(), []).append(test_id)
        elif test.op in ("sw", "ew", "in"):
            holder.needles.setdefault(test.value.lower(), []).append((test_id, test.op))
        elif test.op == "cidr":
            network = ipaddress.ip_network(test.value, strict=False)
            first, last = int(network.network_address), int(network.broadcast_address)
            holder.networks.append((network.version, first, last, test_id))
        elif test.op in ("glob", "re"):
            pattern, flags = (test.value[0], "" if test.cased else "i") if test.op == "glob" else test.value
            self.patterns[test_id] = _regex(pattern, flags)
            # A literal every match contains: the regex runs only on values the scan finds it in.
            literal = test.value[1] if test.op == "glob" else _required_literal(pattern, flags)
            if len(literal) >= 3:
                holder.needles.setdefault(literal.lower(), []).append((test_id, "regex"))
            else:
                holder.regexes.append(test_id)
        else:
            holder.slow.append(test_id)

    def match(self, events: Sequence[Mapping[str, Any]], allowed: Sequence[int]) -> list[tuple[int, int]]:
        """(rule index, event bitmask) for every rule that matches; ``allowed[i]``: the bitmask of events
        that rule ``i``'s log source admits."""
        everything = (1 << len(events)) - 1
        results = self._test_results(events, everything)
        matches = []
        for index, tree in enumerate(self.trees):
            if allowed[index]:
                hit = _evaluate(tree, results, allowed[index])
                if hit:
                    matches.append((index, hit))
        return matches

    def _test_results(self, events: Sequence[Mapping[str, Any]], everything: int) -> dict[int, int]:
        columns = _columns(events, self.fields)
        keywords = self.fields.get(KEYWORDS)
        results: dict[int, int] = {}
        for name, values in columns.items():
            holder = self.fields[name]
            for value, rows in values.items():
                passed = self._passed(holder, value)
                if keywords is not None:
                    passed |= self._passed(keywords, value)
                if passed:
                    mask = _mask(rows)
                    for test_id in passed:
                        results[test_id] = results.get(test_id, 0) | mask
        presence: dict[tuple[str, bool], int] = {}
        for test_id, name in self.presence.items():
            exists = self.tests[test_id].op == "exists"
            if (name, exists) not in presence:  # "exists" counts an empty value; "null" takes it for none
                rows = [r for value, rs in columns.get(name, {}).items() if exists or value != "" for r in rs]
                presence[name, exists] = _mask(sorted(rows)) if rows else 0
            present = presence[name, exists]
            results[test_id] = present if exists else everything & ~present
        for test_id in self.references:
            results[test_id] = _references(self.tests[test_id], events)
        return results

    def _passed(self, holder: _Field, value: str) -> set[int]:
        lower = value.lower()
        passed = set(holder.equal.get(lower, ()))
        if holder.equal_cased:
            passed.update(holder.equal_cased.get(value, ()))
        if holder.automaton is not None:
            last = len(lower) - 1
            tried: set[int] = set()  # a regex runs once per value, however often its literal occurs
            for end, (length, entries) in holder.automaton.iter(lower):
                start = end - length + 1
                for test_id, op in entries:
                    if test_id in passed or test_id in tried:
                        continue
                    if op == "in":
                        if self.tests[test_id].cased and value[start : end + 1] != self.tests[test_id].value:
                            continue
                    elif op == "regex":
                        tried.add(test_id)
                        if not self.patterns[test_id].search(value):
                            continue
                    elif (start if op == "sw" else last - end) != 0:
                        continue
                    elif self.tests[test_id].cased and value[start : end + 1] != self.tests[test_id].value:
                        continue
                    passed.add(test_id)
        if holder.networks:
            passed.update(_in_networks(value, holder.networks))
        if holder.regex_set is not None:
            passed.update(holder.regexes[i] for i in holder.regex_set.Match(value) or ())
        for test_id in holder.slow:
            test = self.tests[test_id]
            if value if test.op == "any" else _compare(value, *test.value):
                passed.add(test_id)
        return passed


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _regex(pattern: str, flags: str) -> Any:
    return re2.compile(f"(?{flags}){pattern}" if flags else pattern)


class _OneByOne:
    """Patterns RE2 cannot run as one set (its memory budget): run in turn, with the set's answer."""

    def __init__(self, patterns: list[Any]) -> None:
        self.patterns = patterns

    def Match(self, value: str) -> list[int]:  # noqa: N802 - the name of re2.Set's method
        return [i for i, pattern in enumerate(self.patterns) if pattern.search(value)]


def _regex_set(patterns: list[Any]) -> Any:
    regex_set = re2.Set.SearchSet()
    try:
        for pattern in patterns:
            regex_set.Add(pattern.pattern)
        regex_set.Compile()
    except (re2.error, ValueError):
        return _OneByOne(patterns)
    return regex_set


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, list):
        for item in value[:256]:
            yield from _strings(item)
    elif isinstance(value, bool):
        yield "true" if value else "false"
    elif isinstance(value, str):
        yield value
    elif isinstance(value, int | float):
        yield str(value)


def _columns(
    events: Sequence[Mapping[str, Any]], wanted: Mapping[str, Any]
) -> dict[str, dict[str, list[int]]]:
    """field → distinct value → the events (indexes) that have it, for the fields some test reads. A keyword
    (a test of no field) is looked for in those same fields: the ones that carry the event's text."""
    columns: dict[str, dict[str, list[int]]] = {name: {} for name in wanted if name != KEYWORDS}
    names = list(columns)
    for row, event in enumerate(events):
        # The shorter of the two lists is walked: a group that reads two fields skips the other twenty.
        pairs = ((n, event.get(n)) for n in names) if len(names) < len(event) else event.items()
        for name, value in pairs:
            column = columns.get(name)
            if column is None or value is None:
                continue
            if type(value) is str:
                found = column.get(value)
                if found is None:
                    column[value] = [row]
                else:
                    found.append(row)
            else:
                for text in _strings(value):
                    column.setdefault(text, []).append(row)
    return columns


def _mask(rows: list[int]) -> int:
    if len(rows) == 1:
        return 1 << rows[0]
    bits = bytearray(rows[-1] // 8 + 1)
    for row in rows:
        bits[row >> 3] |= 1 << (row & 7)
    return int.from_bytes(bits, "little")


def _evaluate(node: Node, results: dict[int, int], everything: int) -> int:
    if isinstance(node, int):
        return results.get(node, 0) & everything
    kind, arguments = node
    if kind == "and":
        value = everything
        for child in arguments:
            value &= _evaluate(child, results, everything)
            if not value:
                return 0
        return value
    if kind == "or":
        value = 0
        for child in arguments:
            value |= _evaluate(child, results, everything)
            if value == everything:
                break
        return value
    return everything & ~_evaluate(arguments, results, everything)


def _references(test: _Test, events: Sequence[Mapping[str, Any]]) -> int:
    mask = 0
    for row, event in enumerate(events):
        mine, other = event.get(test.field), event.get(test.value)
        if mine is not None and other is not None and str(mine).lower() == str(other).lower():
            mask |= 1 << row
    return mask


def _in_networks(value: str, networks: list[tuple[int, int, int, int]]) -> list[int]:
    if not 2 <= len(value) <= 64 or not (value[0].isdigit() or ":" in value):
        return []
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return []
    number, version = int(address), address.version
    return [test for v, first, last, test in networks if v == version and first <= number <= last]


def _required_literal(pattern: str, flags: str) -> str:
    """The longest run of plain characters at the top level of ``pattern``: every match contains it
    ("" when the pattern has no such run, or Python's parser does not read it — RE2 still runs it)."""
    try:
        parsed = _parser.parse(pattern, re.IGNORECASE if "i" in flags else 0)
    except (re.error, ValueError, RecursionError, OverflowError):
        return ""
    best, run = "", ""
    for op, argument in [*parsed, (None, None)]:
        if op is _constants.LITERAL:
            run += chr(argument)
            continue
        best, run = max(best, run, key=len), ""
    return best


def _compare(value: str, op: str, number: float) -> bool:
    try:
        given = float(value)
    except ValueError:
        return False
    return {"LT": given < number, "LTE": given <= number, "GT": given > number, "GTE": given >= number}.get(
        op, given != number
    )
