"""Playbooks as YAML data, with their pydantic schema: steps name capabilities that tenants bind."""

from ._cacao import export_cacao, import_cacao, validate_cacao
from ._load import BUILTIN_DIR, PlaybookError, builtin_playbooks, load_playbook
from ._schema import (
    ActStep,
    ClassifyStep,
    CloseStep,
    EnrichStep,
    EscalateStep,
    Match,
    NotifyStep,
    Playbook,
    Step,
    When,
)
from ._select import DEFAULT, Facts, candidates, choose, holds, resolve

__all__ = [
    "BUILTIN_DIR",
    "DEFAULT",
    "ActStep",
    "ClassifyStep",
    "CloseStep",
    "EnrichStep",
    "EscalateStep",
    "Facts",
    "Match",
    "NotifyStep",
    "Playbook",
    "PlaybookError",
    "Step",
    "When",
    "builtin_playbooks",
    "candidates",
    "choose",
    "export_cacao",
    "holds",
    "import_cacao",
    "load_playbook",
    "resolve",
    "validate_cacao",
]
