"""The vendored OASIS CACAO 2.0 schemas, resolved offline, and validation against them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing import Registry, Resource

from .._load import PlaybookError

# The schemas are package data of `playbooks` (named in pyproject), not of this private package.
SCHEMA_DIR = "cacao/schemas"


def _files(folder: Traversable) -> list[Traversable]:
    found = []
    for item in folder.iterdir():
        if item.is_dir():
            found += _files(item)
        elif item.name.endswith(".json"):
            found.append(item)
    return found


@cache
def _registry() -> Registry[Any]:
    # The schemas name each other by their $id URLs: each resolves to its vendored file, never the network.
    loaded = [
        json.loads(f.read_text(encoding="utf-8")) for f in _files(resources.files("playbooks") / SCHEMA_DIR)
    ]
    return Registry().with_resources((schema["$id"], Resource.from_contents(schema)) for schema in loaded)


@cache
def _validator(name: str) -> Validator:
    uri = f"https://raw.githubusercontent.com/oasis-open/cacao-json-schemas/main/schemas/{name}"
    schema = _registry().contents(uri)
    # The schemas declare draft-07, which ignores their `unevaluatedProperties` (read strictly, it would
    # refuse the `command` of every command): validated as declared, like the OASIS tooling does.
    cls = validators.validator_for(schema)
    return cls(schema, registry=_registry())


def validate_cacao(document: Any, schema: str = "playbook.json") -> None:
    """Check a CACAO document against the official schemas; the first error as a ``PlaybookError`` that
    says where (JSON path, and the workflow step when the error is inside one)."""
    error = best_match(_validator(schema).iter_errors(document))
    if error is None:
        return
    path = list(error.absolute_path)
    step = f" (step {path[1]})" if len(path) > 1 and path[0] == "workflow" else ""
    message = " ".join(error.message.split())
    if error.validator == "pattern":  # the pattern itself says little to a person: name what was expected
        kind = error.schema.get("title", "value") if isinstance(error.schema, dict) else "value"
        message = f"{str(error.instance)[:60]!r} is not a valid {kind}"
    message = message if len(message) <= 200 else message[:197] + "..."
    raise PlaybookError(f"CACAO schema: {error.json_path}: {message}{step}")
