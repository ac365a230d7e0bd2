"""The Garrison store holds no simulator tables: the lab creates its own, where it is used."""

from __future__ import annotations

from sqlalchemy import inspect

from actions.lab import LabFleet
from flows.store import Store


def test_the_store_creates_no_lab_tables_until_the_lab_is_used(store: Store) -> None:
    before = set(inspect(store.engine).get_table_names())

    LabFleet(store.engine)
    after = set(inspect(store.engine).get_table_names())

    assert "incidents" in before and not any(name.startswith("lab_") for name in before)
    assert {"lab_hosts", "lab_accounts"} <= after
