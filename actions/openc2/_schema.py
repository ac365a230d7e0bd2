"""The SLPF actuator profile's JSON Schema (OASIS, Apache-2.0), shipped as package data."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator

SCHEMA_FILE = "slpf_ap_v2.0.schema.json"


@cache
def slpf_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    )
    return schema


@cache
def slpf_validator() -> Draft7Validator:
    schema = slpf_schema()
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def slpf_errors(view: dict[str, Any]) -> list[str]:
    """Schema errors of an SLPF view (``{action, target, args, results, pairs}`` as the profile sees them)."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(slpf_validator().iter_errors(view), key=lambda e: list(e.absolute_path))
    ]


def slpf_pairs() -> dict[str, frozenset[str]]:
    """The (action → targets) pairs the SLPF profile defines, read from the schema's ``*-Targets`` enums."""
    definitions = slpf_schema()["definitions"]
    pairs: dict[str, frozenset[str]] = {}
    for action in definitions["Action"]["enum"]:
        targets = definitions[f"{action.capitalize()}-Targets"]["enum"]
        pairs[action] = frozenset(
            f"slpf:{t}" if t in definitions["Target"]["properties"] else t for t in targets
        )
    return pairs
