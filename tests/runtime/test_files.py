"""Garrison's home and SQLite store are the owner's alone: 0700 folders, 0600 files, old ones tightened."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from flows.settings import Settings
from flows.store import engine_for

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_store_is_owner_only_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        database = tmp_path / "home" / "garrison.db"
        engine = engine_for(f"sqlite:///{database}")
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
            connection.execute(text("INSERT INTO probe VALUES (1)"))
    finally:
        os.umask(old)
    assert _mode(database.parent) == 0o700
    assert _mode(database) == 0o600
    assert [_mode(database.with_name(database.name + s)) for s in ("-wal", "-shm")] == [0o600, 0o600]


def test_a_store_left_readable_by_an_older_version_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    folder.chmod(0o755)
    database = folder / "garrison.db"
    database.touch()
    database.chmod(0o644)
    engine_for(f"sqlite:///{database}")
    assert _mode(database) == 0o600
    assert _mode(folder) == 0o755  # an existing folder it did not create keeps its mode


def test_the_home_is_created_0700_and_an_old_home_is_tightened(tmp_path: Path) -> None:
    fresh = Settings(home=tmp_path / "fresh").ensure_home()
    assert _mode(fresh) == 0o700
    old = tmp_path / "old"
    (old / "secrets").mkdir(parents=True)
    old.chmod(0o755)
    Settings(home=old).ensure_home()
    assert _mode(old) == 0o700


def test_a_shared_folder_used_as_home_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    Settings(home=shared).ensure_home()
    assert _mode(shared) == 0o755
