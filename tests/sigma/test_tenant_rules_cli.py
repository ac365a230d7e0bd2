"""``garrison rules list | stats --tenant T``: the rules that run for one tenant — SigmaHQ's less those it
disabled, plus its own (shown as its own) — and its rules that could not be converted, with the reason."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.settings import get_settings

runner = CliRunner()
OWN = Path(__file__).resolve().parents[1] / "fixtures" / "tenant-rules" / "acme"
ACME_RULE = "7d3c1a52-4f0e-4b8e-9a61-2c5e8f90b1d4"
DISABLED = "d059842b-6b9d-4ed1-b5c3-5b89143c6ede"  # File Download Via Bitsadmin
TYPO = "d059842b-6b9d-4ed1-b5c3-5b89143c6edf"


@pytest.fixture(autouse=True)
def tenants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    shutil.copytree(OWN, tmp_path / "acme-rules")
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n"
        "  - id: acme\n    name: Acme\n"
        f"    rules: {{disable: [{DISABLED}, {TYPO}], folders: [acme-rules]}}\n"
        "  - id: globex\n    name: Globex\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_list_for_a_tenant_has_its_own_rules_and_not_those_it_disabled() -> None:
    acme = runner.invoke(app, ["rules", "list", "--tenant", "acme", "--json"])
    globex = runner.invoke(app, ["rules", "list", "--tenant", "globex", "--json"])
    shown = runner.invoke(
        app, ["rules", "list", "--tenant", "acme", "--level", "high"], env={"COLUMNS": "250"}
    )

    assert acme.exit_code == globex.exit_code == shown.exit_code == 0, acme.output
    mine = {r["id"]: r for r in json.loads(acme.stdout)}
    theirs = {r["id"]: r for r in json.loads(globex.stdout)}
    assert mine[ACME_RULE]["owner"] == "acme" and mine[ACME_RULE]["author"] == "Acme SOC"
    assert ACME_RULE not in theirs and DISABLED in theirs and DISABLED not in mine
    assert theirs[DISABLED]["owner"] == "SigmaHQ" and len(mine) == len(theirs)  # one out, one in
    assert "[tenant acme's own]" in shown.stdout


def test_stats_for_a_tenant_lists_its_failed_rules_with_the_reason() -> None:
    figures = runner.invoke(app, ["rules", "stats", "--tenant", "acme", "--json"])
    shown = runner.invoke(app, ["rules", "stats", "--tenant", "acme"], env={"COLUMNS": "250"})

    assert figures.exit_code == 0 and shown.exit_code == 0, figures.output
    data = json.loads(figures.stdout)
    assert data["tenant"] == {
        "id": "acme",
        "own_rules": 1,
        "own_failed": 1,
        "disabled": 1,
        "disabled_ids": [DISABLED],
        "unknown_disabled": [TYPO],
    }
    [failed] = [f for f in data["failures"] if f["owner"] == "acme"]
    assert failed["path"] == "broken_condition.yml" and "filter_missing" in failed["reason"]
    assert (
        "not converted: tenant acme's rule broken_condition.yml: Detection 'filter_missing'" in shown.stdout
    )
    assert "tenant acme: 1 own rule(s) converted, 1 failed; 1 SigmaHQ rule(s) disabled" in shown.stdout
    assert f"tenant acme: disables {TYPO}, which no rule has" in shown.stdout


def test_a_tenant_without_rules_runs_the_corpus_and_an_unknown_one_is_refused() -> None:
    globex = runner.invoke(app, ["rules", "stats", "--tenant", "globex"], env={"COLUMNS": "250"})
    unknown = runner.invoke(app, ["rules", "stats", "--tenant", "initech"])
    both = runner.invoke(app, ["rules", "list", "--tenant", "acme", "--rules", str(OWN)])

    assert globex.exit_code == 0 and "runs the SigmaHQ rules as they are" in globex.stdout
    assert unknown.exit_code == 1 and "unknown tenant 'initech'" in str(unknown.exception)
    assert both.exit_code == 1 and "give --rules or --tenant, not both" in str(both.exception)
