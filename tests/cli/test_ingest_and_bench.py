"""`garrison ingest`, `garrison dead-letters` and `garrison bench intake` as an operator runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.demo import mykings_alert
from flows.settings import Settings
from flows.store import Store

runner = CliRunner()
ALERTS = Path(__file__).parents[1] / "fixtures" / "alerts"


def _json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ingest_each_format_from_files(settings: Settings, store: Store, tmp_path: Path) -> None:
    files = [
        str(ALERTS / n)
        for n in ("suricata-eve-alert.json", "wazuh-ssh-bruteforce.json", "elastic-awk-breakout.json")
    ]

    summary = _json("ingest", *files, "--tenant", "demo")

    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (3, 0, 0)
    assert summary["runs_started"] == 0  # Garrison is not up: the incidents wait for its sweeper
    assert {i.status for i in store.incidents()} == {"new"}
    assert _json("ingest", *files, "--tenant", "demo")["duplicates"] == 3


def test_ingest_ndjson_storm_collapses_and_names_bad_lines(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    lines = []
    for n in range(3000):
        alert = mykings_alert()
        alert["finding_info"]["uid"] = f"storm-{n}"
        lines.append(json.dumps(alert))
    lines.insert(10, "{this is not json")
    lines.insert(20, json.dumps({"class_uid": 2004, "metadata": {"tenant_uid": "demo"}}))
    path = tmp_path / "storm.ndjson"
    path.write_text("\n".join(lines) + "\n")

    summary = _json("ingest", str(path))

    assert (summary["accepted"], summary["rejected"], summary["new_incidents"]) == (3000, 2, 1)
    assert any(reason.startswith("finding_info") for reason in summary["rejections"])
    [incident] = store.incidents()
    assert incident.alert_count == 3000


def test_ingest_generic_json_with_a_source_mapping(settings: Settings, store: Store) -> None:
    sysmon = str(ALERTS / "sysmon-reg-add-run-key.json")

    unmapped = runner.invoke(app, ["ingest", sysmon, "--tenant", "demo", "--json"])
    mapped = _json("ingest", sysmon, "--tenant", "demo", "--source", "sysmon")

    assert unmapped.exit_code == 1  # nothing accepted: the command fails
    assert json.loads(unmapped.stdout)["rejected"] == 1 and mapped["accepted"] == 1
    [incident] = store.incidents()
    assert incident.title == "Sysmon detection"


def test_ingest_a_json_array_without_tenant_uses_the_ocsf_tenant(settings: Settings, tmp_path: Path) -> None:
    other = mykings_alert()
    other["finding_info"]["uid"] = "second"
    path = tmp_path / "alerts.json"
    path.write_text(json.dumps([mykings_alert(), other, json.load(open(ALERTS / "suricata-eve-alert.json"))]))

    summary = _json("ingest", str(path))

    assert (summary["accepted"], summary["rejected"]) == (2, 1)
    assert "metadata.tenant_uid: no tenant: pass --tenant" in summary["rejections"]


def test_ingest_errors_are_one_line(settings: Settings, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope.json")])
    unknown = runner.invoke(app, ["ingest", str(ALERTS / "suricata-eve-alert.json"), "--tenant", "nobody"])

    assert missing.exit_code == 1 and unknown.exit_code == 1


def test_dead_letters_lists_what_was_refused(settings: Settings, store: Store) -> None:
    store.dead_letter(
        endpoint="/v1/alerts", status=422, reason="finding_info: Field required", body=b"{}", tenant="demo"
    )

    [row] = _json("dead-letters")

    assert (row["status"], row["tenant"], row["reason"]) == (422, "demo", "finding_info: Field required")
    assert "finding_info" in runner.invoke(app, ["dead-letters"], env={"COLUMNS": "200"}).stdout


@pytest.mark.skipif(shutil.which("true") is None, reason="needs a POSIX userland")
def test_the_intake_benchmark_runs_and_reports_its_figures(settings: Settings) -> None:
    figures = _json(
        "bench", "intake", "--single", "20", "--batch", "200", "--batch-size", "100", "--storm", "300"
    )

    assert figures["single_alerts"] == 20 and figures["batch_alerts"] == 200
    assert figures["storm_incidents"] == 1
    for key in (
        "single_per_second",
        "batch_per_second",
        "baseline_per_second",
        "batch_vs_baseline",
        "single_p99_ms",
    ):
        assert figures[key] > 0
