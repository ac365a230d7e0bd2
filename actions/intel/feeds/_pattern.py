"""The comparisons inside a STIX 2.1 pattern, read without evaluating it.

A pattern such as ``[domain-name:value = 'x.org' OR ipv4-addr:value = '198.51.100.1']`` names the exact
observables an indicator stands for. Garrison matches indicators by value, so it only needs every
``<object-path> = '<value>'`` (and ``IN (…)``, ``ISSUBSET '<cidr>'``) comparison that is not negated; the
boolean structure, qualifiers (WITHIN, REPEATS) and observation operators (FOLLOWEDBY) do not change
which values are listed. Anything unreadable raises ``PatternError`` and the indicator is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PATTERN = 65_536


class PatternError(ValueError):
    """The pattern cannot be read."""


@dataclass(frozen=True)
class Comparison:
    object_type: str  # "ipv4-addr"
    path: str  # "value", "hashes.SHA-256", "dst_ref.value"
    operator: str  # "=", "IN", "ISSUBSET", "MATCHES", …
    values: tuple[str, ...]
    negated: bool = False

    @property
    def text(self) -> str:
        return f"{self.object_type}:{self.path} {'NOT ' if self.negated else ''}{self.operator}"


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<path>[A-Za-z0-9_-]+:(?:[A-Za-z0-9_$-]+|'(?:[^'\\]|\\.)*'|\[(?:\*|\d+)\]|\.)+)
    |(?P<str>[bht]?'(?:[^'\\]|\\.)*')
    |(?P<num>-?\d+(?:\.\d+)?)
    |(?P<op>!=|<=|>=|=|<|>)
    |(?P<punct>[\[\]\(\),])
    |(?P<word>[A-Za-z_]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_WORD_OPERATORS = {"LIKE", "MATCHES", "IN", "ISSUBSET", "ISSUPERSET"}


def comparisons(pattern: str) -> list[Comparison]:
    """Every comparison in ``pattern``.

    >>> [c.values for c in comparisons("[file:hashes.'SHA-256' = 'ab' AND file:name = 'x.exe']")]
    [('ab',), ('x.exe',)]
    """
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"pattern of {len(pattern)} characters is too long")
    tokens = _tokens(pattern)
    _check_shape(tokens)
    found: list[Comparison] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        i += 1
        if kind != "path":
            continue
        negated = False
        if i < len(tokens) and tokens[i] == ("word", "NOT"):
            negated, i = True, i + 1
        if i >= len(tokens):
            raise PatternError(f"{text} is not compared with anything")
        kind, operator = tokens[i]
        if kind == "word":
            operator = operator.upper()
        if not (kind == "op" or (kind == "word" and operator in _WORD_OPERATORS)):
            raise PatternError(f"{text} is followed by {operator!r}, not a comparison operator")
        i += 1
        values, i = _operand(tokens, i, text)
        object_type, _, path = text.partition(":")
        found.append(Comparison(object_type.lower(), _path(path), operator, values, negated))
    return found


def _tokens(pattern: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(pattern):
        match = _TOKEN.match(pattern, position)
        if match is None:
            raise PatternError(f"unexpected character {pattern[position]!r} at position {position}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


def _check_shape(tokens: list[tuple[str, str]]) -> None:
    # Not a full grammar: enough to refuse a truncated or unbalanced pattern instead of guessing.
    if not tokens or tokens[0] not in (("punct", "["), ("punct", "(")):
        raise PatternError("a pattern starts with '[' or '('")
    depth = {"[": 0, "(": 0}
    for kind, text in tokens:
        if kind == "punct" and text in "[(":
            depth[text] += 1
        elif kind == "punct" and text in "])":
            depth["[" if text == "]" else "("] -= 1
            if min(depth.values()) < 0:
                raise PatternError(f"unbalanced {text!r}")
    if any(depth.values()):
        raise PatternError("unbalanced brackets: the pattern is incomplete")
    if tokens[-1][0] == "word" and tokens[-1][1].upper() in ("AND", "OR", "NOT", "FOLLOWEDBY"):
        raise PatternError(f"the pattern ends with {tokens[-1][1]!r}: it is incomplete")


def _operand(tokens: list[tuple[str, str]], i: int, path: str) -> tuple[tuple[str, ...], int]:
    if i < len(tokens) and tokens[i][0] in ("str", "num"):
        return (_literal(tokens[i][1]),), i + 1
    if i < len(tokens) and tokens[i] == ("punct", "("):
        values: list[str] = []
        i += 1
        while i < len(tokens) and tokens[i] != ("punct", ")"):
            if tokens[i][0] in ("str", "num"):
                values.append(_literal(tokens[i][1]))
            elif tokens[i] != ("punct", ","):
                raise PatternError(f"unexpected {tokens[i][1]!r} in the value set of {path}")
            i += 1
        if i >= len(tokens):
            raise PatternError(f"unclosed value set after {path}")
        return tuple(values), i + 1
    raise PatternError(f"{path} is compared with no value")


def _literal(token: str) -> str:
    if token[0] in "bht":
        token = token[1:]
    if token.startswith("'"):
        body = token[1:-1]
        return re.sub(r"\\(.)", r"\1", body, flags=re.DOTALL)
    return token


def _path(path: str) -> str:
    # hashes.'SHA-256' → hashes.SHA-256 (quotes only protect the dash).
    return re.sub(r"'((?:[^'\\]|\\.)*)'", r"\1", path)
