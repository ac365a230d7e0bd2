"""`garrison actions list`: every registered action with its capability, inverse, state reading and doc
link, as a table or as JSON; `garrison actions scripts`: the scripts an adapter runs, written for upload."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from actions import registry
from actions.edr.crowdstrike_rtr import SCRIPTS
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


def test_scripts_writes_an_adapters_upload_library(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["actions", "scripts", "defender_response", "--json"])
    written = runner.invoke(app, ["actions", "scripts", "crowdstrike_rtr", "-o", str(tmp_path), "--json"])

    assert listed.exit_code == 0, listed.output
    assert [s["name"] for s in json.loads(listed.stdout)["scripts"]] == [
        "garrison-reg.ps1",
        "garrison-task.ps1",
        "garrison-svc.ps1",
        "garrison-proc.ps1",
    ]
    assert written.exit_code == 0, written.output
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted(f"{script.name}.ps1" for script in SCRIPTS)
    # Uploaded to Windows hosts: UTF-8 with a BOM and CRLF, the source unchanged otherwise.
    [first] = [s for s in SCRIPTS if s.name == "garrison_service"]
    raw = (tmp_path / "garrison_service.ps1").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.decode("utf-8-sig").replace("\r\n", "\n") == first.source


def test_scripts_of_an_adapter_without_any_is_one_clear_error() -> None:
    done = runner.invoke(app, ["actions", "scripts", "lab"])

    # CliError is what `garrison` prints as one line (exit status 1).
    assert done.exit_code != 0
    assert "'lab' runs no scripts (adapters with scripts: crowdstrike_rtr" in str(done.exception)
