"""``garrison rules list | test | stats``: the rules triage runs, which events a rule matches, and the rules
that could not be converted, with the reason."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from flows.sigma import CORPUS

runner = CliRunner()
CASE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "sigma"
    / "regression_data"
    / "rules"
    / "windows"
    / "process_creation"
    / "proc_creation_win_bitsadmin_download"
)
RULE = CORPUS / "rules" / "windows" / "process_creation" / "proc_creation_win_bitsadmin_download.yml"


def test_list_shows_the_rules_of_a_level_and_above() -> None:
    critical = runner.invoke(app, ["rules", "list", "--level", "critical", "--json"])
    high = runner.invoke(app, ["rules", "list", "--level", "high", "--json"])
    shown = runner.invoke(app, ["rules", "list", "--level", "critical"], env={"COLUMNS": "200"})

    assert critical.exit_code == high.exit_code == shown.exit_code == 0, critical.output
    listed = json.loads(critical.stdout)
    assert len(listed) > 100 and {r["level"] for r in listed} == {"critical"}
    assert {r["level"] for r in json.loads(high.stdout)} == {"critical", "high"}
    assert all(r["author"] and r["id"] and r["title"] for r in listed)
    assert f"{len(listed)} Sigma rules" in shown.stdout and "Detection Rule License 1.1" in shown.stdout


def test_list_refuses_a_level_sigma_does_not_have() -> None:
    result = runner.invoke(app, ["rules", "list", "--level", "severe"])

    assert result.exit_code == 1 and "--level must be one of" in str(result.exception)


def test_test_names_the_events_a_rule_matches_in_every_form() -> None:
    [as_json] = CASE.glob("*.json")
    [as_evtx] = CASE.glob("*.evtx")

    result = runner.invoke(app, ["rules", "test", str(RULE), str(as_json), str(as_evtx), "--json"])
    shown = runner.invoke(app, ["rules", "test", str(RULE), str(as_evtx)], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    [match] = report["matches"]
    assert match["id"] == RULE.read_text().split("id: ")[1].split()[0]
    assert {e["file"] for e in match["events"]} == {str(as_json), str(as_evtx)}
    assert all(e["fields"]["Image"].lower().endswith("bitsadmin.exe") for e in match["events"])
    assert shown.exit_code == 0 and match["title"] in shown.stdout and "by " in shown.stdout


def test_test_exits_1_when_no_rule_matches(tmp_path: Path) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text(json.dumps({"class_uid": 1007, "time": 1, "process": {"file": {"path": "C:\\x.exe"}}}))

    result = runner.invoke(app, ["rules", "test", str(RULE), str(events), "--json"])

    assert result.exit_code == 1 and json.loads(result.stdout)["matches"] == []


def test_stats_count_the_rules_and_list_the_ones_not_converted() -> None:
    result = runner.invoke(app, ["rules", "stats", "--json"])
    shown = runner.invoke(app, ["rules", "stats"], env={"COLUMNS": "200"})

    assert result.exit_code == shown.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["loaded"] == figures["converted"] + figures["failed"] and figures["converted"] > 2800
    assert sum(figures["levels"].values()) == figures["converted"]
    assert [f["reason"].split(" needs")[0] for f in figures["failures"]] == ["placeholder %known_cdcs%"] * 2
    assert "not converted:" in shown.stdout and "%known_cdcs%" in shown.stdout
