"""Playbooks as YAML data, with their pydantic schema: steps name capabilities that tenants bind."""

from ._load import BUILTIN_DIR, PlaybookError, builtin_playbooks, load_playbook
from ._schema import (
    ActStep,
    ClassifyStep,
    CloseStep,
    EnrichStep,
    EscalateStep,
    NotifyStep,
    Playbook,
    Step,
    When,
)

__all__ = [
    "BUILTIN_DIR",
    "ActStep",
    "ClassifyStep",
    "CloseStep",
    "EnrichStep",
    "EscalateStep",
    "NotifyStep",
    "Playbook",
    "PlaybookError",
    "Step",
    "When",
    "builtin_playbooks",
    "load_playbook",
]
