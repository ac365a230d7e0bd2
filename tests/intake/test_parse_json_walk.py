"""`parse_json` walks the parsed tree only when the text could hold what the walk refuses (nesting past
the limit, half a surrogate pair): the skip must never let either through."""

from __future__ import annotations

import json

import pytest

from flows.intake import parse_json
from flows.intake._service import MAX_JSON_DEPTH


def _nested(depth: int, bracket: str = "[") -> bytes:
    close = "]" if bracket == "[" else "}"
    if bracket == "[":
        return (bracket * depth + close * depth).encode()
    return ('{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)).encode()


@pytest.mark.parametrize("bracket", ["[", "{"])
def test_nesting_at_the_limit_passes_and_one_deeper_is_refused(bracket: str) -> None:
    assert parse_json(_nested(MAX_JSON_DEPTH, bracket)) is not None
    with pytest.raises(ValueError, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        parse_json(_nested(MAX_JSON_DEPTH + 1, bracket))


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "\\ud800"}',  # a lone high surrogate in a value
        '{"\\uDC00": 1}',  # a lone low one, upper case, in a key
        '["ok", {"b": ["x\\udbff"]}]',  # deep inside
    ],
)
def test_half_a_surrogate_pair_is_refused_wherever_it_is(text: str) -> None:
    with pytest.raises(ValueError, match="half a character"):
        parse_json(text.encode())


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "\\ud83d\\ude00"}',  # a whole pair: one character
        '{"a": "\\\\ud800"}',  # an escaped backslash, then the letters ud800: no escape at all
        '{"a": "\\u00e9 [{[{"}',  # brackets inside a string count, and are harmless
    ],
)
def test_what_only_looks_like_it_passes(text: str) -> None:
    assert parse_json(text.encode()) == json.loads(text)
