"""The mapping table as a document (``MAPPING.md``): what each Windows event becomes, field by field."""

from __future__ import annotations

from ._mapping import TABLE, Mapping

_HEAD = """# Windows events → OCSF: the mapping table

Generated from `flows/winlog/_mapping.py` by `flows.winlog.mapping_markdown()` (a test keeps it in step).
Every stored event also keeps the Windows event itself under `unmapped.windows` (provider, channel, event id,
computer, record id, time, every `EventData` field under its native name, the rest of `System`), so nothing
is lost; Sigma rules read those native names. An event that arrived as OCSF is read back through the same
pairs. `a|b`: a registry path split at its last `\\\\`, the key to `a`, the value name to `b`.
Events of other ids are refused (HTTP) or skipped and counted (files), naming the event.
"""


def mapping_markdown() -> str:
    """The table in Markdown: one section per event, its OCSF class and activity, Sigma categories and
    field pairs."""
    parts = [
        _HEAD,
        "| source | event | what | OCSF class / activity | Sigma categories |",
        "|---|---|---|---|---|",
    ]
    parts += [_summary(m) for m in TABLE]
    for found in TABLE:
        ids = ", ".join(map(str, found.event_ids))
        kind = f" (EventType {found.event_type})" if found.event_type else ""
        parts += [
            "",
            f"## {found.source} {ids}{kind}: {found.what}",
            "",
            "| Windows field | OCSF path |",
            "|---|---|",
        ]
        parts += [f"| `{name}` | `{path}` |" for name, path in found.fields]
        parts += [f"| (always) | `{path}` = `{value}` |" for path, value in found.constants]
        if found.sigma:
            aliases = ", ".join(f"`{alias}` ← `{name}`" for alias, name in found.sigma)
            parts += ["", f"Sigma names: {aliases}."]
    return "\n".join(parts) + "\n"


def _summary(found: Mapping) -> str:
    ids = ", ".join(map(str, found.event_ids)) + (f" ({found.event_type})" if found.event_type else "")
    categories = ", ".join(found.categories) or "—"
    return (
        f"| {found.source} | {ids} | {found.what} | {found.class_uid} / {found.activity_id} | {categories} |"
    )
