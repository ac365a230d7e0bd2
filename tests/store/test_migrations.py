"""The store's Alembic revisions: they build what the models describe, every start brings a store to the
newest revision once (however many processes start together), and a store from a newer Garrison is refused.

Stores made by older Garrisons, with their data, are in test_schema_upgrade.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, create_engine, inspect, select, table, update
from sqlalchemy.engine import Engine

from actions.lab import LabFleet
from flows.store import Store, engine_for
from flows.store._schema import Base
from flows.store.migrations import HEAD, VERSION_TABLE, SchemaTooNew, alembic_config, head, include_name
from tests._postgres import fresh_database
from tests.store.test_schema_upgrade import _make_49b6c38_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with nothing in it, on each database Garrison runs on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'garrison.db'}"
    return fresh_database(request.getfixturevalue("postgres_url"), "migrations")


def _versions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(select(column("version_num")).select_from(table(VERSION_TABLE))).scalars()
        )


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "include_name": include_name}
        )
        return list(compare_metadata(context, Base.metadata))


def test_head_names_the_newest_revision() -> None:
    # Opening an up-to-date store compares its version with HEAD without loading Alembic.
    assert HEAD == head()


def test_the_revisions_build_what_the_models_describe(empty_url: str) -> None:
    # A new store takes the fast path (create_all, then stamp): it is right only while running the revisions
    # from nothing gives the same schema.
    engine = create_engine(empty_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")

    assert _differences(engine) == []
    assert _versions(engine) == [head()]

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) == {VERSION_TABLE}
    assert _versions(engine) == []
    engine.dispose()


def test_a_new_store_is_made_at_the_newest_revision_and_reopening_changes_nothing(empty_url: str) -> None:
    store = Store.open(empty_url)
    assert _versions(store.engine) == [head()]
    assert _differences(store.engine) == []

    engine_for.cache_clear()  # the next process
    again = Store.open(empty_url)
    assert _versions(again.engine) == [head()]
    assert set(inspect(again.engine).get_table_names()) == {*Base.metadata.tables, VERSION_TABLE}


def test_tables_others_keep_in_the_store_database_are_not_the_migrations_business(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'garrison.db'}")
    LabFleet(store.engine)  # the lab's tables, beside the store's

    with store.engine.connect() as connection:
        unfiltered = compare_metadata(
            MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}), Base.metadata
        )
    assert any(diff[0] == "remove_table" for diff in unfiltered)  # what autogenerate would have written
    assert _differences(store.engine) == []


def test_a_store_upgraded_by_a_newer_garrison_is_refused_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'garrison.db'}"
    engine = Store.open(url).engine
    with engine.begin() as connection:
        connection.execute(update(table(VERSION_TABLE, column("version_num"))).values(version_num="0099"))
    engine_for.cache_clear()

    with pytest.raises(SchemaTooNew) as refused:
        engine_for(url)

    message = str(refused.value)
    assert "\n" not in message
    assert "garrison.db" in message and "revision 0099" in message and f"newest is {head()}" in message
    assert _versions(engine) == ["0099"]  # and nothing was changed


# -- processes starting together -------------------------------------------------------------------------

_STARTER = """
import sys, time
from pathlib import Path
from flows.store import Store
go = Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
Store.open(sys.argv[1])
print("opened", flush=True)
"""


def _start_together(url: str, go: Path, processes: int = 3) -> list[subprocess.CompletedProcess[str]]:
    """``processes`` Garrison processes open the store at the same moment (each imports first, then waits)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _STARTER, url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(processes)
    ]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    return [
        subprocess.CompletedProcess(child.args, child.returncode, out, err)
        for child, (out, err) in zip(children, outputs, strict=True)
    ]


def _new(url: str) -> None:
    """Nothing: the database stays empty."""


def _made_by_49b6c38(url: str) -> None:
    _make_49b6c38_store(url)


@pytest.mark.parametrize("made", [_new, _made_by_49b6c38], ids=["new store", "store made by 49b6c38"])
def test_processes_starting_together_upgrade_the_store_once(
    empty_url: str, made: Callable[[str], None], tmp_path: Path
) -> None:
    made(empty_url)

    started = time.monotonic()
    results = _start_together(empty_url, tmp_path / "go")

    assert [(r.returncode, r.stdout.split(), r.stderr) for r in results] == [(0, ["opened"], "")] * 3
    assert time.monotonic() - started < 120
    engine = create_engine(empty_url)
    assert _versions(engine) == [head()]
    assert _differences(engine) == []
    engine.dispose()


# -- the command line ------------------------------------------------------------------------------------


def _migrations(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GARRISON_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "flows.store.migrations", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_an_operator_upgrades_an_old_store_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'garrison.db'}"
    _make_49b6c38_store(url)

    before = _migrations(url, "current")
    upgraded = _migrations(url, "upgrade", "head")
    after = _migrations(url, "current")

    assert before.returncode == 0 and head() not in before.stdout  # no revision recorded yet
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"Running upgrade  -> {head()}" in upgraded.stderr
    assert after.returncode == 0 and f"{head()} (head)" in after.stdout
    engine = create_engine(url)
    assert _differences(engine) == []
    engine.dispose()
