"""The OpenC2 parser against the OASIS OIF conformance messages: every good one accepted, every bad one
refused — except three "good" ones that no strict LS 1.0 parser can accept (listed with the reason)."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.openc2 import Dialect, OpenC2Invalid, parse_command, parse_response, slpf_pairs
from tests.actions._support import VENDOR_FIXTURES

MESSAGES = VENDOR_FIXTURES / "openc2" / "oif-device-test-messages"
ALL = sorted(MESSAGES.rglob("*.json"))

# Upstream filed these as good, but they break LS 1.0 itself; Garrison refuses them on purpose.
KNOWN_DIVERGENCES = {
    # "lit" is no LS 1.0 target or result: only OIF's permissive "anything" schema accepts any name.
    "good/request/language-anything/create_poetry.json": "refused: 'lit' is not an OpenC2 target",
    "good/response/language-anything/results_poetry.json": "refused: 'lit' is not an OpenC2 result",
    # action "" and target "" next to response fields: a response dressed as a command.
    "good/request/slpf+acme/results_unknown_profile.json": "refused: not a command",
}


def dialect(context: str) -> Dialect:
    """Each conformance folder names what the consumer speaks: the language, SLPF, SLPF + x- extensions."""
    if context.startswith("slpf"):
        pairs = {**slpf_pairs(), "query": frozenset({"features"})}
        return Dialect(profiles=frozenset({"slpf"}), extensions=context == "slpf+acme", pairs=pairs)
    return Dialect()


def _id(path: Path) -> str:
    return path.relative_to(MESSAGES).as_posix()


def test_the_conformance_set_is_all_there() -> None:
    assert len(ALL) == 188
    assert {_id(p).split("/")[0] for p in ALL} == {"good", "bad"}


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_good_messages_are_accepted_and_bad_ones_refused(path: Path) -> None:
    verdict, kind, context = path.relative_to(MESSAGES).parts[:3]
    parse = parse_command if kind == "request" else parse_response
    expect_ok = verdict == "good" and _id(path) not in KNOWN_DIVERGENCES

    if expect_ok:
        parse(path.read_bytes(), dialect(context))
    else:
        with pytest.raises(OpenC2Invalid):
            parse(path.read_bytes(), dialect(context))


def test_a_refusal_says_where() -> None:
    with pytest.raises(OpenC2Invalid, match=r"target\.ipv4_net: '127\.0\.0\.1/64' is not an IPv4"):
        parse_command({"action": "allow", "target": {"ipv4_net": "127.0.0.1/64"}})
    with pytest.raises(OpenC2Invalid, match="status: 5555 is not a status code"):
        parse_response({"status": 5555})
