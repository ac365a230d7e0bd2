"""The labelled scenarios (DESIGN §1 and benign look-alikes) through `garrison triage`, as analysts use it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.triage._evaluate import evaluate

CORPUS = Path(__file__).parent / "corpus"
runner = CliRunner()


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    return {case.name: case for case in evaluate(CORPUS).cases}


def test_every_case_gets_its_expected_verdict(results: dict) -> None:
    failures = {name: (c.expected, c.got, c.missing_answers) for name, c in results.items() if not c.passed}

    assert failures == {}


@pytest.mark.parametrize("case", ["mykings", "pcastle", "attack-tool-precursor"])
def test_the_design_cases_are_never_benign(results: dict, case: str) -> None:
    assert results[case].got != "benign"


@pytest.mark.parametrize("case", ["cdn-lookalike", "update-beacon-lookalike", "stale-ip-lookalike"])
def test_the_look_alikes_are_benign(results: dict, case: str) -> None:
    assert results[case].got == "benign"


def test_the_adware_is_gray(results: dict) -> None:
    assert results["adware-gray"].got == "suspicious"


def test_duobean_is_malicious_for_the_analysts_reasons(results: dict) -> None:
    case = results["duobean"]
    findings = {r["question"]: r["finding"] for r in case.reasons}

    assert case.got == "malicious"
    assert "6 hosts of this one customer" in findings["How prevalent is it?"]
    assert "every 15 min" in findings["How often, in what rhythm?"]
    assert "bytes" in findings["How much data, which direction?"]
    process = " ".join(
        r["finding"] for r in case.reasons if r["question"] == "Which process talks, from where?"
    )
    assert "msiexec.exe" in process and "AppData" in process and "MSVCR110.dll".lower() in process.lower()
    assert "203[.]0[.]113[.]45" in findings["Why are we watching this indicator?"]


def test_mykings_shows_its_two_year_dwell(results: dict) -> None:
    findings = " ".join(str(r["finding"]) for r in results["mykings"].reasons)

    assert "730 days before detection" in findings


def test_evaluate_prints_a_confusion_matrix_and_exits_0_when_all_pass() -> None:
    shown = runner.invoke(app, ["triage", "--evaluate", str(CORPUS)], env={"COLUMNS": "200"})
    as_json = runner.invoke(app, ["triage", "--evaluate", str(CORPUS), "--json"])

    assert shown.exit_code == 0, shown.output
    assert "Confusion matrix" in shown.stdout and "duobean" in shown.stdout
    report = json.loads(as_json.stdout)
    assert report["passed"] is True
    assert sum(sum(row.values()) for row in report["matrix"].values()) == len(report["cases"]) == 8
    assert report["matrix"]["benign"]["benign"] == 3


def test_evaluate_fails_when_a_case_is_wrong(tmp_path: Path) -> None:
    case = tmp_path / "flipped"
    case.mkdir()
    for name in ("alert.json", "events.ndjson"):
        (case / name).write_text((CORPUS / "cdn-lookalike" / name).read_text())
    (case / "expected.yaml").write_text("verdict: malicious\nnow: '2026-11-15T09:00:00+00:00'\n")

    result = runner.invoke(app, ["triage", "--evaluate", str(tmp_path), "--json"])

    assert result.exit_code == 1
    assert json.loads(result.stdout)["cases"][0]["passed"] is False


def test_triage_one_alert_offline_as_json() -> None:
    folder = CORPUS / "pcastle"
    result = runner.invoke(
        app, ["triage", str(folder / "alert.json"), "--events", str(folder / "events.ndjson"), "--json"]
    )

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"verdict", "score", "reasons", "indicators", "features"}
    assert report["verdict"] == "malicious"
    assert report["features"]["network"]["beacons"][0]["period_seconds"] in range(3500, 3700)
    assert report["indicators"][0]["defanged"] == "198[.]51[.]100[.]23"
    assert all({"question", "finding", "effect", "code", "params"} == set(r) for r in report["reasons"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json"], "cannot read the alert"),
        ([], "give an ALERT file"),
        (["flows/demo/mykings-alert.json", "--events", "flows/demo/mykings-alert.json"], "not JSON"),
        (["flows/demo/mykings-alert.json", "--tenant", "nobody"], "unknown tenant"),
    ],
)
def test_triage_input_errors_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["triage", *args])

    assert result.exit_code == 1
    assert message in str(result.exception) or message in result.output
