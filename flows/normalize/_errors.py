"""What normalizing can refuse: a document Garrison cannot read, or one naming another tenant."""

from __future__ import annotations


class NormalizeError(ValueError):
    """The document is not an alert Garrison can read; ``field`` says where (a JSON path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TenantMismatch(PermissionError):
    """An OCSF alert names another tenant than the one that sent it."""
