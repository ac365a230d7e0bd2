"""The analyst's knowledge as data: behaviours of command lines, suspicious process ancestry, threat names
and ATT&CK techniques (``flows/triage/knowledge/*.yaml``), each with its technique and sources.

Keeping this as data keeps the code a reader of it: a new LOLBin or ransomware family is a reviewed line
in a YAML file with its reference, not another string check somewhere in the classifier.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

_DIR = Path(__file__).parent / "knowledge"
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")

Grade = Literal["malicious", "suspicious"]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Behaviour(_Entry):
    """One thing a command line can do (``behaviours.yaml``)."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    technique: str
    says: str = Field(min_length=1, max_length=200)
    grade: Grade
    weight: int = Field(ge=0, le=60)
    patterns: tuple[re.Pattern[str], ...]
    unless: re.Pattern[str] | None = None
    sources: tuple[str, ...] = Field(min_length=1)

    @field_validator("patterns", mode="before")
    @classmethod
    def _compile_all(cls, value: list[str]) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p, re.I | re.S) for p in value)

    @field_validator("unless", mode="before")
    @classmethod
    def _compile(cls, value: str | None) -> re.Pattern[str] | None:
        return re.compile(value, re.I | re.S) if value else None

    @field_validator("technique")
    @classmethod
    def _technique(cls, value: str) -> str:
        if not _TECHNIQUE.match(value):
            raise ValueError(f"not an ATT&CK technique id: {value}")
        return value

    def found_in(self, command: str) -> bool:
        if self.unless is not None and self.unless.search(command):
            return False
        return any(pattern.search(command) for pattern in self.patterns)


class AncestryGroup(_Entry):
    """Applications that should not start a script interpreter (``ancestry.yaml``)."""

    id: str
    technique: str
    grade: Grade
    weight: int = Field(ge=0, le=60)
    parents: frozenset[str]
    children: frozenset[str]
    sources: tuple[str, ...] = Field(min_length=1)


class ThreatName(_Entry):
    """A kind of threat a detection can name (``threats.yaml``)."""

    category: str
    question: Literal["tool", "threat"]
    weight: int = Field(ge=0, le=60)
    risky: bool
    words: tuple[str, ...]
    sources: tuple[str, ...] = Field(min_length=1)

    def named_in(self, text: str) -> str | None:
        """The first of this category's words found in ``text`` as a whole word, or None."""
        for word in self.words:
            if re.search(rf"(?<![a-z0-9]){re.escape(word.lower())}(?![a-z0-9])", text):
                return word.rstrip(":")
        return None


class TechniqueRow(_Entry):
    category: str
    weight: int = Field(ge=0, le=60)
    risky: bool
    ids: frozenset[str]


class Techniques(_Entry):
    """How much the ATT&CK techniques of a finding add (``techniques.yaml``)."""

    cap: int = Field(ge=0, le=60)
    any_weight: int = Field(ge=0, le=20)
    rows: tuple[TechniqueRow, ...]

    def row_of(self, technique: str) -> TechniqueRow | None:
        parent = technique.split(".", 1)[0]
        return next((r for r in self.rows if technique in r.ids or parent in r.ids), None)


class Knowledge(_Entry):
    behaviours: tuple[Behaviour, ...]
    ancestry: tuple[AncestryGroup, ...]
    threats: tuple[ThreatName, ...]
    techniques: Techniques


def _read(name: str) -> object:
    return yaml.safe_load((_DIR / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def knowledge() -> Knowledge:
    """The tables, read and validated once per process (a broken table fails loudly, naming the row)."""
    ancestry = _read("ancestry.yaml")
    assert isinstance(ancestry, dict)
    return Knowledge.model_validate(
        {
            "behaviours": _read("behaviours.yaml"),
            "ancestry": ancestry["groups"],
            "threats": _read("threats.yaml"),
            "techniques": _read("techniques.yaml"),
        }
    )
