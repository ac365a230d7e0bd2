"""The labelled scenarios (DESIGN §1, issue 9's single alerts, benign look-alikes and twins) through
`garrison triage`, as analysts use it; and the corpus data itself (consistent, regenerated unchanged)."""

from __future__ import annotations

import importlib.util
import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flows.cli import app
from flows.triage import _findings
from flows.triage._evaluate import evaluate

CORPUS = Path(__file__).parent / "corpus"
runner = CliRunner()
# Issue 9: single EDR alerts with no telemetry and no intel; their own evidence must keep them from benign.
ALERT_ONLY = [
    "ransomware-shadow-delete",
    "office-encoded-powershell",
    "task-hidden-cradle",
    "unanswered-gray",
]
# Benign twins of those: cleared only by positive evidence (a routine baseline, an everyday destination).
TWINS = ["backup-shadow-cleanup-benign", "it-script-encoded-benign", "office-help-link-benign"]


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    return {case.name: case for case in evaluate(CORPUS).cases}


def test_every_case_gets_its_expected_verdict(results: dict) -> None:
    failures = {name: (c.expected, c.got, c.missing_answers) for name, c in results.items() if not c.passed}

    assert failures == {}


@pytest.mark.parametrize("case", ["mykings", "pcastle", "attack-tool-precursor", *ALERT_ONLY])
def test_the_design_cases_are_never_benign(results: dict, case: str) -> None:
    assert results[case].got != "benign"


@pytest.mark.parametrize("case", ["cdn-lookalike", "update-beacon-lookalike", "stale-ip-lookalike", *TWINS])
def test_the_look_alikes_are_benign(results: dict, case: str) -> None:
    assert results[case].got == "benign"


def test_the_adware_is_gray(results: dict) -> None:
    assert results["adware-gray"].got == "suspicious"


def test_no_malicious_case_is_benign_and_no_benign_case_is_malicious(results: dict) -> None:
    # The confusion matrix's two corners that hurt: an attack closed, or a customer's routine blocked.
    missed = sorted(n for n, c in results.items() if c.expected == "malicious" and c.got == "benign")
    alarmed = sorted(n for n, c in results.items() if c.expected == "benign" and c.got == "malicious")

    assert (missed, alarmed) == ([], [])


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
    assert sum(sum(row.values()) for row in report["matrix"].values()) == len(report["cases"]) == 15
    assert report["matrix"]["benign"]["benign"] == 6


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
    assert all({"question", "finding", "effect", "code", "params"} <= set(r) for r in report["reasons"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json"], "cannot read the alert"),
        ([], "give an ALERT file"),
        (["flows/demo/mykings-alert.json", "--events", "missing.ndjson"], "missing.ndjson: cannot read"),
        (["flows/demo/mykings-alert.json", "--tenant", "nobody"], "unknown tenant"),
    ],
)
def test_triage_input_errors_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["triage", *args])

    assert result.exit_code == 1
    assert message in str(result.exception) or message in result.output


def _cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if (p / "expected.yaml").is_file())


@pytest.mark.parametrize("folder", _cases(), ids=lambda p: p.name)
def test_every_case_is_consistent_data(folder: Path) -> None:
    expected = yaml.safe_load((folder / "expected.yaml").read_text(encoding="utf-8"))
    alert = json.loads((folder / "alert.json").read_text(encoding="utf-8"))
    now = int(datetime.fromisoformat(expected["now"]).timestamp() * 1000)
    questions = {
        v for k, v in vars(_findings).items() if k.isupper() and isinstance(v, str) and v.endswith("?")
    }
    lines = (folder / "events.ndjson").read_text().splitlines() if (folder / "events.ndjson").exists() else []
    events = [json.loads(line) for line in lines]
    tenant = alert["metadata"]["tenant_uid"]

    assert expected["verdict"] in {"malicious", "suspicious", "benign"} and expected["description"]
    assert set(expected.get("must_answer", [])) <= questions
    assert alert["class_uid"] == 2004 and alert["time"] == now and tenant
    assert all(type(e["time"]) is int and 10**12 < e["time"] <= now for e in events)  # ms, none after `now`
    assert all(e["metadata"]["tenant_uid"] for e in events)  # other customers' events name their tenant
    if events:
        hosts = {e["device"]["hostname"] for e in events if e["metadata"]["tenant_uid"] == tenant}
        assert alert["device"]["hostname"] in hosts  # the alerted host's own telemetry is there


@pytest.mark.parametrize("case", ALERT_ONLY)
def test_the_alert_only_cases_carry_no_telemetry_and_no_intel(case: str) -> None:
    assert sorted(p.name for p in (CORPUS / case).iterdir()) == ["alert.json", "expected.yaml"]


def test_make_corpus_regenerates_the_corpus_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("make_corpus", Path(__file__).parent / "make_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)

    module.main()

    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    stored = sorted(p.relative_to(CORPUS) for p in CORPUS.rglob("*") if p.is_file())
    assert written == stored
    assert [f for f in written if (tmp_path / f).read_bytes() != (CORPUS / f).read_bytes()] == []
