"""Read fields from sensor JSON whether it is nested (``{"host": {"name": …}}``) or flattened
(``{"host.name": …}``), as Elastic, Wazuh and generic sources mix both."""

from __future__ import annotations

from typing import Any


def get(document: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path; a flattened key wins over nesting at every level.

    >>> get({"kibana.alert.rule.name": "x"}, "kibana.alert.rule.name")
    'x'
    >>> get({"host": {"name": "ws1"}}, "host.name")
    'ws1'
    """
    if not isinstance(document, dict):
        return default
    if path in document:
        return document[path]
    head, _, rest = path.partition(".")
    while rest:
        if head in document:
            found = get(document[head], rest, _MISSING)
            if found is not _MISSING:
                return found
        next_head, _, rest = rest.partition(".")
        head = f"{head}.{next_head}"
    return document.get(head, default)


def text(document: Any, *paths: str) -> str | None:
    """The first non-empty string (or number) among ``paths``, as a string."""
    for path in paths:
        value = get(document, path)
        if isinstance(value, list):
            value = next((v for v in value if isinstance(v, str | int | float) and str(v).strip()), None)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
            return str(value)
    return None


_MISSING = object()
