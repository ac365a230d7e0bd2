"""Find and parse playbooks: built-in ones by name, others by path."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ._schema import Playbook

BUILTIN_DIR = Path(__file__).resolve().parent


class PlaybookError(ValueError):
    """A playbook cannot be found or does not validate; the message names the file and the field."""


def builtin_playbooks() -> list[Path]:
    return sorted(BUILTIN_DIR.glob("*.yaml"))


def load_playbook(name_or_path: str) -> Playbook:
    """``default`` loads the built-in ``playbooks/default.yaml``; a name with a slash or suffix is a path."""
    if "/" in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        path = Path(name_or_path)
    else:
        path = BUILTIN_DIR / f"{name_or_path}.yaml"
    try:
        stat = path.stat()
    except FileNotFoundError:
        known = ", ".join(p.stem for p in builtin_playbooks())
        raise PlaybookError(f"no playbook {name_or_path!r} (built-in: {known})") from None
    # Every respond run chooses among all playbooks: each file is parsed once until it changes.
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _parsed(path: Path, mtime_ns: int, size: int) -> Playbook:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlaybookError(f"no playbook {str(path)!r}") from None
    except yaml.YAMLError as error:
        raise PlaybookError(f"{path}: not valid YAML: {error}") from None
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise PlaybookError(f"{path}: {where}: {first['msg']}{_step_named(data, first['loc'])}") from None
    ids = [step.id for step in playbook.steps]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise PlaybookError(f"{path}: steps: duplicate step ids {', '.join(repeated)}")
    return playbook


def _step_named(data: Any, loc: tuple[int | str, ...]) -> str:
    """`` (step contain)`` when the error is inside a step that has an id: people know steps by name."""
    if len(loc) < 2 or loc[0] != "steps" or not isinstance(loc[1], int) or not isinstance(data, dict):
        return ""
    steps = data.get("steps")
    step = steps[loc[1]] if isinstance(steps, list) and loc[1] < len(steps) else None
    name = step.get("id") if isinstance(step, dict) else None
    return f" (step {name})" if isinstance(name, str) and name else ""
