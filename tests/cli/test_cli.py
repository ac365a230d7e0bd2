"""The CLI as people and scripts use it: JSON that parses, tables that show, errors in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from actions.lab import LabFleet
from flows.cli import app
from flows.demo import DEMO_HOST, mykings_alert, mykings_host
from flows.models import Alert
from flows.settings import Settings
from flows.store import Store

runner = CliRunner()


@pytest.fixture
def incident_id(store: Store) -> str:
    document = mykings_alert()
    return store.record_alert(Alert.model_validate(document), document).incident_id


def test_incidents_list_and_show_as_json(settings: Settings, incident_id: str) -> None:
    listed = runner.invoke(app, ["incidents", "list", "--json"])
    shown = runner.invoke(app, ["incidents", "show", incident_id, "--json"])

    assert listed.exit_code == 0 and shown.exit_code == 0
    assert [row["id"] for row in json.loads(listed.stdout)] == [incident_id]
    incident = json.loads(shown.stdout)
    assert {"id", "tenant", "status", "verdict", "actions"} <= incident.keys()
    assert incident["tenant"] == "demo" and incident["status"] == "new"


def test_incidents_show_as_a_table_defangs_indicators(settings: Settings, incident_id: str) -> None:
    shown = runner.invoke(app, ["incidents", "show", incident_id], env={"COLUMNS": "200"})

    assert shown.exit_code == 0
    assert "js[.]mykings[.]top" in shown.stdout
    assert "MyKings botnet" in shown.stdout


def test_the_list_fits_80_columns_and_its_short_ids_work_everywhere(
    settings: Settings, incident_id: str
) -> None:
    listed = runner.invoke(app, ["incidents", "list"], env={"COLUMNS": "80"})
    shown = runner.invoke(app, ["incidents", "show", incident_id[:8], "--json"])
    report = runner.invoke(app, ["incidents", "report", incident_id[:8], "--format", "txt"])

    assert listed.exit_code == 0
    assert all(len(line) <= 80 for line in listed.stdout.splitlines())
    assert incident_id[:8] in listed.stdout and "MyKings" in listed.stdout  # the title still has room
    assert json.loads(shown.stdout)["id"] == incident_id
    assert report.exit_code == 0 and incident_id in report.stdout


def test_a_prefix_too_short_or_matching_nothing_is_one_clear_error(
    settings: Settings, incident_id: str
) -> None:
    for given in (incident_id[:3], "0000000000"):
        result = runner.invoke(app, ["incidents", "show", given])

        assert result.exit_code != 0
        assert str(result.exception) == f"no incident {given}" or f"no incident {given}" in result.output


def test_incidents_list_filters(settings: Settings, incident_id: str) -> None:
    closed = runner.invoke(app, ["incidents", "list", "--status", "closed", "--json"])
    other = runner.invoke(app, ["incidents", "list", "--tenant", "other", "--json"])

    assert json.loads(closed.stdout) == [] and json.loads(other.stdout) == []


def test_lab_seed_and_show(settings: Settings, store: Store) -> None:
    seeded = runner.invoke(app, ["lab", "seed-demo"])
    shown = runner.invoke(app, ["lab", "show", DEMO_HOST.lower(), "--json"])

    assert seeded.exit_code == 0
    host = json.loads(shown.stdout)
    assert host["hostname"] == DEMO_HOST and host["isolated"] is False
    assert {"start", "start1"} <= {v["name"] for v in host["registry_values"]}


def test_lab_show_table_shows_state(settings: Settings, store: Store) -> None:
    LabFleet(store.engine).seed(mykings_host())
    shown = runner.invoke(app, ["lab", "show", DEMO_HOST], env={"COLUMNS": "200"})

    assert shown.exit_code == 0
    assert "on the network" in shown.stdout and "js[.]mykings[.]top" in shown.stdout


def test_alert_data_is_not_rich_markup(settings: Settings, store: Store) -> None:
    document = mykings_alert()
    document["finding_info"]["title"] = "[bold red]fake[/] [link=https://evil]click[/link]"
    incident = store.record_alert(Alert.model_validate(document), document).incident_id

    listed = runner.invoke(app, ["incidents", "show", incident], env={"COLUMNS": "200"})

    assert "[bold red]fake[/]" in listed.stdout


def _garrison(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"GARRISON_HOME": str(settings.home), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_errors_are_one_line_with_status_1(settings: Settings) -> None:
    missing = _garrison(settings, "incidents", "show", "no-such-id")
    no_host = _garrison(settings, "lab", "show", "nowhere")

    for done, words in ((missing, "no incident no-such-id"), (no_host, "no lab host named nowhere")):
        assert done.returncode == 1
        assert done.stderr.strip() == f"error: {words}"
        assert "Traceback" not in done.stderr


def test_usage_errors_do_not_trace(settings: Settings) -> None:
    done = _garrison(settings, "incidents", "list", "--limit", "zero")

    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "--limit" in done.stderr
