"""Sigma rule files → ``Rule`` trees, with pySigma.

pySigma parses the YAML, applies the value modifiers (``contains``, ``windash``, ``base64offset``, ``re``,
``cidr``, ``all`` …) and resolves the condition (``1 of selection_*``, ``not filter``) into a tree of
field/value tests; this module writes that tree down as plain data (``_rule.Tree``). Nothing is renamed:
the rules keep Sigma's (Windows) field names, and events are shown to them under those names
(``flows.winlog.sigma_view``). A rule pySigma rejects, or that needs what Garrison cannot give (a
placeholder's value list, a correlation), is listed with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from sigma import types as st
from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from ._rule import LEVELS, Conversion, Rule, Tree, Unconverted

PRODUCTS = ("windows",)  # telemetry Garrison maps; rules for other products are not loaded
MAX_DESCRIPTION = 1000


class _Unsupported(Exception):
    pass


def convert(files: Iterable[tuple[Path, str]]) -> Conversion:
    """Convert rule files, each given with the name it is listed under (its path in the rule set)."""
    result = Conversion()
    for path, name in files:
        try:
            collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), collect_errors=True)
        except (OSError, UnicodeDecodeError, SigmaError, ValueError, yaml.YAMLError) as error:
            result.failed.append(Unconverted(name, f"cannot read: {_short(error)}"))
            continue
        if collection.errors:
            result.failed.append(Unconverted(name, _short(collection.errors[0])))
            continue
        for rule in collection.rules:
            _add(result, rule, name)
    return result


def _add(result: Conversion, rule: Any, name: str) -> None:
    if not isinstance(rule, SigmaRule):
        title = getattr(rule, "title", "") or ""
        result.failed.append(Unconverted(name, "correlation and filter rules are not run", _id(rule), title))
        return
    if rule.errors:
        result.failed.append(Unconverted(name, _short(rule.errors[0]), _id(rule), rule.title))
        return
    source = rule.logsource
    if source.product not in PRODUCTS:
        result.skipped += 1
        return
    try:
        trees = [_node(condition.parsed) for condition in rule.detection.parsed_condition]
    except (_Unsupported, SigmaError) as error:
        result.failed.append(Unconverted(name, _short(error), _id(rule), rule.title))
        return
    requires = [f"product:{source.product}"]
    requires += [f"category:{source.category}"] if source.category else []
    requires += [f"service:{source.service}"] if source.service else []
    level = rule.level.name.lower() if rule.level is not None else "medium"
    result.rules.append(
        Rule(
            id=_id(rule),
            title=rule.title,
            level=level if level in LEVELS else "medium",
            status=rule.status.name.lower() if rule.status is not None else "",
            path=name,
            requires=tuple(requires),
            tree=trees[0] if len(trees) == 1 else ["or", trees],
            author=rule.author or "",
            date=rule.date.isoformat() if rule.date else "",
            description=(rule.description or "")[:MAX_DESCRIPTION],
            references=tuple(str(r) for r in rule.references or ()),
            tags=tuple(str(t) for t in rule.tags or ()),
            falsepositives=tuple(str(f) for f in rule.falsepositives or ()),
        )
    )


def _id(rule: Any) -> str:
    return str(getattr(rule, "id", "") or "")


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]


def _node(condition: Any) -> Tree:
    if isinstance(condition, ConditionAND):
        return ["and", [_node(arg) for arg in condition.args]]
    if isinstance(condition, ConditionOR):
        return ["or", [_node(arg) for arg in condition.args]]
    if isinstance(condition, ConditionNOT):
        return ["not", _node(condition.args[0])]
    if isinstance(condition, ConditionFieldEqualsValueExpression):
        return _value(condition.field, condition.value)
    if isinstance(condition, ConditionValueExpression):
        return _value(None, condition.value)
    raise _Unsupported(f"condition {type(condition).__name__} is not supported")


def _value(name: str | None, value: Any) -> Tree:
    if isinstance(value, st.SigmaExpansion):  # windash, base64offset: the variants, any of them
        return ["or", [_value(name, variant) for variant in value.values]]
    if isinstance(value, st.SigmaString):
        return _string(name, value)
    if isinstance(value, st.SigmaRegularExpression):
        flags = "".join(sorted(st.SigmaRegularExpression.sigma_to_re_flag[f] for f in value.flags))
        return ["leaf", name, "re", [str(value.regexp), flags], True]
    if isinstance(value, st.SigmaBool):
        return ["leaf", name, "eq", "true" if value.boolean else "false", False]
    if isinstance(value, st.SigmaNumber):
        return ["leaf", name, "eq", str(value.number), False]
    if isinstance(value, st.SigmaNull):
        return ["leaf", name, "null", None, False]
    if isinstance(value, st.SigmaExists):
        return ["leaf", name, "exists" if value.exists else "null", None, False]
    if isinstance(value, st.SigmaCIDRExpression):
        return ["leaf", name, "cidr", str(value.network), False]
    if isinstance(value, st.SigmaCompareExpression):
        return ["leaf", name, "cmp", [value.op.name, value.number.number], False]
    if isinstance(value, st.SigmaFieldReference):
        return ["leaf", name, "ref", value.field, False]
    raise _Unsupported(f"value type {type(value).__name__} is not supported")


_OPS = {(False, False): "eq", (True, False): "ew", (False, True): "sw", (True, True): "in"}


def _string(name: str | None, value: st.SigmaString) -> Tree:
    cased = isinstance(value, st.SigmaCasedString)
    parts = list(value.s)
    for part in parts:
        if isinstance(part, st.Placeholder):
            raise _Unsupported(f"placeholder %{part.name}% needs a value list Garrison does not have")
    many = st.SpecialChars.WILDCARD_MULTI
    lead = bool(parts) and parts[0] == many
    trail = len(parts) > int(lead) and parts[-1] == many
    inner = parts[int(lead) : len(parts) - int(trail)]
    words = [part for part in inner if isinstance(part, str)]
    if len(words) == len(inner):
        text = "".join(words)
        op = _OPS[(lead, trail)]
        if op != "eq" and not text:
            return ["leaf", name, "any", None, cased]
        return ["leaf", name, op, text, cased]
    pattern = "".join(
        re.escape(part) if isinstance(part, str) else (".*" if part == many else ".") for part in parts
    )
    literal = max((part for part in parts if isinstance(part, str)), key=len, default="")
    return ["leaf", name, "glob", [f"^{pattern}$", literal], cased]
