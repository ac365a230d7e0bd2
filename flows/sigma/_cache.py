"""Converting ~3,000 rules with pySigma takes seconds; a CLI start must not. The converted set is written
once as JSON under the Garrison home (``cache/sigma/<hash>.json``), keyed by a hash of every rule file's
name and bytes and of this converter's version, and held in memory for the life of the process."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from threading import Lock
from typing import Any

from ._rule import Conversion, Rule, Unconverted

FORMAT = 1  # bump when the converter's output changes: old cache files are then ignored
_log = logging.getLogger(__name__)
_memory: dict[str, Conversion] = {}
_lock = Lock()


def rule_files(roots: Sequence[Path]) -> list[tuple[Path, str]]:
    """Every ``.yml`` file under ``roots`` (a root may be one file), with the name it is listed under."""
    found = []
    for root in roots:
        if root.is_file():
            found.append((root, root.name))
            continue
        for path in sorted(root.rglob("*.yml")):
            found.append((path, path.relative_to(root).as_posix()))
    return found


def fingerprint(files: Sequence[tuple[Path, str]]) -> str:
    digest = hashlib.sha256(f"garrison-sigma/{FORMAT}/{_pysigma_version()}".encode())
    for path, name in files:
        data = path.read_bytes()
        digest.update(f"\0{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:32]


def _pysigma_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pysigma")
    except PackageNotFoundError:
        return "?"


def converted(roots: Sequence[Path], cache_dir: Path | None) -> tuple[str, Conversion]:
    """The converted rule set under ``roots``: from memory, else the disk cache, else pySigma (and then
    written to the cache). Returns the rule-set hash too."""
    files = rule_files(roots)
    key = fingerprint(files)
    with _lock:
        if key in _memory:
            return key, _memory[key]
        conversion = _read(cache_dir, key) if cache_dir is not None else None
        if conversion is None:
            from ._compile import convert  # pySigma is imported only when something must be converted

            conversion = convert(files)
            if cache_dir is not None:
                _write(cache_dir, key, conversion)
        _memory[key] = conversion
        return key, conversion


def _read(cache_dir: Path, key: str) -> Conversion | None:
    path = cache_dir / f"{key}.json"
    try:
        data = json.loads(path.read_bytes())
        return Conversion(
            rules=[Rule.from_dict(r) for r in data["rules"]],
            failed=[Unconverted(**f) for f in data["failed"]],
            skipped=int(data.get("skipped", 0)),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:  # a damaged cache costs one conversion
        _log.warning("%s: unusable rule cache (%s): converting again", path, error)
        return None


def _write(cache_dir: Path, key: str, conversion: Conversion) -> None:
    data: dict[str, Any] = {
        "format": FORMAT,
        "rules": [r.as_dict() for r in conversion.rules],
        "failed": [f.__dict__ for f in conversion.failed],
        "skipped": conversion.skipped,
    }
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a file, two writers never mix theirs.
        handle, temporary = tempfile.mkstemp(dir=cache_dir, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, separators=(",", ":"))
        os.replace(temporary, cache_dir / f"{key}.json")
    except OSError as error:  # a read-only home still triages; it converts again next start
        _log.warning("cannot write the rule cache under %s: %s", cache_dir, error)
