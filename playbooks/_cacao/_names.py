"""The names export and import share: Garrison's extension id and the verdict a condition tests."""

from __future__ import annotations

import uuid

# Garrison's own UUIDv5 namespace: CACAO reserves its namespace for ids derived from name+playbook_types.
NAMESPACE = uuid.UUID("5b0b4c55-8a63-5e0f-9d57-3f0c1f4a6e21")
EXTENSION_ID = f"extension-definition--{uuid.uuid5(NAMESPACE, 'extension/garrison')}"
VERDICTS = ("malicious", "suspicious", "benign")
VERDICT_VARIABLE = "__verdict__"
