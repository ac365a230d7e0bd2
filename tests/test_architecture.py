"""The house rules, enforced: layers (import-linter contracts in pyproject.toml, run by `make check`) and,
here, that no package reaches into another package's private modules."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "actions", "playbooks", "templates")


def _private_imports() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            is_package = path.name == "__init__.py"
            home = module.removesuffix(".__init__") if is_package else module.rsplit(".", 1)[0]
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                    continue
                parts = node.module.split(".")
                for depth, part in enumerate(parts):
                    if part.startswith("_") and not part.startswith("__"):
                        owner = ".".join(parts[:depth])
                        # A package's own modules (and its subpackages') may import its private ones.
                        if owner != home and not home.startswith(owner + "."):
                            found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}")
                        break
    return found


def test_no_package_imports_another_packages_private_modules() -> None:
    assert _private_imports() == []


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--config", str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


def test_the_import_contracts_hold_and_breaking_one_fails(tmp_path: Path) -> None:
    for name in (*PACKAGES, "pyproject.toml"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)

    kept = _lint_imports(tmp_path)
    leak = tmp_path / "actions" / "_leak.py"
    leak.write_text("import flows.store  # an adapter reaching into the engine\n")
    broken = _lint_imports(tmp_path)

    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert broken.returncode != 0 and "actions._leak -> flows.store" in broken.stdout
