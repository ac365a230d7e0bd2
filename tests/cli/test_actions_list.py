"""`garrison actions list`: every registered action with its capability, inverse, state reading and doc
link, as a table or as JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from actions import registry
from flows.cli import app

runner = CliRunner()


def test_json_lists_every_registered_action_with_what_binding_needs() -> None:
    shown = runner.invoke(app, ["actions", "list", "--json"])

    assert shown.exit_code == 0, shown.output
    listed = json.loads(shown.stdout)
    rows = {row["key"]: row for row in listed["actions"]}
    assert sorted(rows) == registry.keys() and listed["plugin_errors"] == {}
    assert rows["crowdstrike_iocs.block_hash"] == {
        "key": "crowdstrike_iocs.block_hash",
        "vendor": "crowdstrike_iocs",
        "capability": "block_hash",
        "target": "file_hash",
        "inverse": "crowdstrike_iocs.unblock_hash",
        "reads_state": True,
        "idempotent": True,
        "secrets": ["crowdstrike_iocs_client_id", "crowdstrike_iocs_client_secret"],
        "doc_url": "https://www.falconpy.io/Service-Collections/IOC.html#indicator_create_v1",
        "description": "Block the file hash with a CrowdStrike Falcon custom indicator.",
    }
    assert rows["lab.kill_process"]["inverse"] is None  # declared: a killed process cannot come back
    assert all(row["doc_url"] and row["capability"] for row in rows.values())


def test_the_table_can_show_one_vendor() -> None:
    shown = runner.invoke(app, ["actions", "list", "--vendor", "defender_indicators"], env={"COLUMNS": "240"})

    assert shown.exit_code == 0, shown.output
    assert "defender_indicators.block_url" in shown.stdout and "unblock_url" in shown.stdout
    assert "crowdstrike" not in shown.stdout and "lab." not in shown.stdout
