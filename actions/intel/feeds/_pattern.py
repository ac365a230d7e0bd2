"""The comparisons inside a STIX pattern, read without evaluating it.

A pattern such as ``[domain-name:value = 'x.org' OR ipv4-addr:value = '198.51.100.1']`` names the exact
observables an indicator stands for. Garrison matches indicators by value, so it only needs every
``<object-path> = '<value>'`` (and ``IN (…)``, ``ISSUBSET '<cidr>'``) comparison that is not negated; the
boolean structure, qualifiers (WITHIN, REPEATS) and observation operators (FOLLOWEDBY) do not change
which values are listed.

The OASIS pattern library (``stix2patterns``, the reference grammar) parses and validates the pattern;
its inspection lists the comparisons. Comparisons with no text value (``file:size = 5``,
``x_flag = true``) carry no values and are left to the caller to skip. Anything unreadable raises
``PatternError`` and the indicator is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stix2patterns.exceptions import ParseException  # type: ignore[import-untyped]
from stix2patterns.inspector import INDEX_STAR  # type: ignore[import-untyped]
from stix2patterns.v20.pattern import Pattern as Pattern20  # type: ignore[import-untyped]
from stix2patterns.v21.pattern import Pattern  # type: ignore[import-untyped]

MAX_PATTERN = 65_536


class PatternError(ValueError):
    """The pattern cannot be read."""


@dataclass(frozen=True)
class Comparison:
    object_type: str  # "ipv4-addr"; "" for a constant-only comparison ("true = true")
    path: str  # "value", "hashes.SHA-256", "dst_ref.value"; the comparison itself when constant
    operator: str  # "=", "IN", "ISSUBSET", "MATCHES", …
    values: tuple[str, ...]  # text values only: a number, boolean or timestamp lists nothing
    negated: bool = False

    @property
    def text(self) -> str:
        if not self.object_type:
            return f"constant comparison {self.path}"
        return f"{self.object_type}:{self.path} {'NOT ' if self.negated else ''}{self.operator}"


def comparisons(pattern: str) -> list[Comparison]:
    """Every comparison in ``pattern``.

    >>> [c.values for c in comparisons("[file:hashes.'SHA-256' = 'ab' AND file:name = 'x.exe']")]
    [('ab',), ('x.exe',)]
    """
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"pattern of {len(pattern)} characters is too long")
    inspected = _inspect(pattern)
    if inspected is not None:
        return inspected
    # The grammar has no comparison without an object path, yet producers write "… AND true = true" as an
    # always-true filler. The library refuses the whole pattern for it, so our tokenizer lifts such
    # comparisons out and the library must then accept what is left: nothing else is read by our own code.
    tokens = _tokens(pattern)
    _check_shape(tokens)
    remainder, constants = _without_constants(tokens)
    if not constants:
        raise PatternError(_library_error(pattern))
    if not remainder:
        return constants
    inspected = _inspect(remainder)
    if inspected is None:
        raise PatternError(_library_error(remainder))
    return inspected + constants


def _inspect(pattern: str) -> list[Comparison] | None:
    # A 2.0 bundle's pattern gets the 2.0 grammar when 2.1's refuses it.
    for grammar in (Pattern, Pattern20):
        try:
            data = grammar(pattern).inspect()
        except ParseException:
            continue
        except RecursionError:
            raise PatternError("pattern nested too deeply") from None
        return [
            _comparison(object_type, steps, operator, literal)
            for object_type, tests in data.comparisons.items()
            for steps, operator, literal in tests
        ]
    return None


def _library_error(pattern: str) -> str:
    try:
        Pattern(pattern)
    except ParseException as error:
        return f"not a STIX pattern ({str(error).strip()[:200]})"
    except RecursionError:
        return "pattern nested too deeply"
    return "not a STIX pattern"


def _comparison(object_type: str, steps: list[Any], operator: str, literal: str) -> Comparison:
    negated = operator.startswith("NOT ")
    operator = operator.removeprefix("NOT ")
    if literal.startswith("("):  # a set: ('a','b')
        values = tuple(
            v for kind, text in _tokens(literal) if kind == "str" and (v := _text(text)) is not None
        )
    else:
        value = _text(literal)
        values = () if value is None else (value,)
    return Comparison(object_type.lower(), _path(steps), operator, values, negated)


def _path(steps: list[Any]) -> str:
    path = ""
    for step in steps:
        if step is INDEX_STAR:
            path += "[*]"
        elif isinstance(step, int):
            path += f"[{step}]"
        else:
            path += f".{step}" if path else str(step)
    return path


def _text(literal: str) -> str | None:
    """A string or hex literal's text; None for numbers, booleans, binary and timestamps."""
    if literal.startswith("h'"):
        return literal[2:-1]
    if literal.startswith("'"):
        return re.sub(r"\\(.)", r"\1", literal[1:-1], flags=re.DOTALL)
    return None


# -- the tokenizer: value sets, and patterns with constant-only comparisons --------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
    |(?P<path>[A-Za-z0-9_-]+:(?:[A-Za-z0-9_$-]+|'(?:[^'\\]|\\.)*'|\[(?:\*|\d+)\]|\.)+)
    |(?P<str>[bht]?'(?:[^'\\]|\\.)*')
    |(?P<num>[-+]?\d+(?:\.\d+)?)
    |(?P<op>!=|<=|>=|=|<|>)
    |(?P<punct>[\[\]\(\),])
    |(?P<word>[A-Za-z_]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_CONSTANT = {"str", "num"}
_BOOLEANS = {"true", "false"}
_WORD_OPERATORS = {"LIKE", "MATCHES", "IN", "ISSUBSET", "ISSUPERSET", "NOT"}


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
    # Clear messages for the commonest breakage (a truncated pattern) before the library's parser message.
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


def _is_constant(token: tuple[str, str]) -> bool:
    kind, text = token
    return kind in _CONSTANT or (kind == "word" and text.lower() in _BOOLEANS)


def _takes_operand(token: tuple[str, str]) -> bool:
    kind, text = token
    return kind in ("op", "path") or (kind == "word" and text.upper() in _WORD_OPERATORS)


def _joins(token: tuple[str, str]) -> bool:
    return token[0] == "word" and token[1].upper() in ("AND", "OR", "FOLLOWEDBY")


def _without_constants(tokens: list[tuple[str, str]]) -> tuple[str, list[Comparison]]:
    """The pattern without its ``<literal> <op> <literal>`` comparisons (and the AND/OR joining each)."""
    kept: list[tuple[str, str]] = []
    constants: list[Comparison] = []
    i = 0
    while i < len(tokens):
        if (
            i + 2 < len(tokens)
            and _is_constant(tokens[i])
            and tokens[i + 1][0] == "op"
            and _is_constant(tokens[i + 2])
            and not (kept and _takes_operand(kept[-1]))
        ):
            text = " ".join(t for _, t in tokens[i : i + 3])
            constants.append(Comparison("", text, tokens[i + 1][1], ()))
            if kept and _joins(kept[-1]):
                kept.pop()
            elif i + 3 < len(tokens) and _joins(tokens[i + 3]):
                i += 1
            i += 3
            continue
        kept.append(tokens[i])
        i += 1
    # A bracket left empty ("[true = true]") says nothing: drop it with the operator joining it.
    # (Token by token: a regular expression over hostile text could backtrack for minutes.)
    cleaned: list[tuple[str, str]] = []
    j = 0
    while j < len(kept):
        if kept[j] == ("punct", "[") and j + 1 < len(kept) and kept[j + 1] == ("punct", "]"):
            j += 2
            if j < len(kept) and _joins(kept[j]):
                j += 1
            elif cleaned and _joins(cleaned[-1]):
                cleaned.pop()
            continue
        cleaned.append(kept[j])
        j += 1
    text = " ".join(t for _, t in cleaned)
    return text, constants
