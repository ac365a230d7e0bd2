"""``garrison incidents report``: the incident report from the store, in three languages and three
formats, printed as text (never as rich markup) or written to a file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.demo import mykings_alert
from flows.models import Alert
from flows.settings import Settings
from flows.store import Store

runner = CliRunner()


@pytest.fixture
def incident_id(store: Store) -> str:
    document = mykings_alert()
    return store.record_alert(Alert.model_validate(document), document).incident_id


def test_the_report_prints_as_markdown_in_the_tenants_language_by_default(
    settings: Settings, incident_id: str
) -> None:
    result = runner.invoke(app, ["incidents", "report", incident_id])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"# Incident {incident_id[:8]}: MyKings botnet")
    # Brackets are the report's own text: "[.]" reaches the reader, rich does not eat it as markup.
    assert "hxxp://js\\[.\\]mykings\\[.\\]top:280/v\\[.\\]sct" in result.stdout
    assert "## Recommendations" in result.stdout


@pytest.mark.parametrize(
    ("language", "fmt", "expected"),
    [
        ("zh-TW", "txt", "【建議措施】"),
        ("ja", "txt", "■ 推奨事項"),
        ("en", "txt", "WHAT WE RECOMMEND"),
        ("ja", "html", '<html lang="ja">'),
        ("zh-TW", "md", "## 建議措施"),
    ],
)
def test_the_report_in_each_language_and_format(
    settings: Settings, incident_id: str, language: str, fmt: str, expected: str
) -> None:
    result = runner.invoke(app, ["incidents", "report", incident_id, "--lang", language, "--format", fmt])

    assert result.exit_code == 0, result.output
    assert expected in result.stdout
    assert "js.mykings.top" not in result.stdout and "http://js" not in result.stdout


def test_an_unknown_language_falls_back_to_english_with_a_warning_on_stderr(
    settings: Settings, incident_id: str
) -> None:
    result = runner.invoke(app, ["incidents", "report", incident_id, "--lang", "fr", "--format", "txt"])

    assert result.exit_code == 0
    assert "WHAT WE RECOMMEND" in result.stdout
    assert "warning" in result.stderr and "'fr'" in result.stderr and "using en" in result.stderr
    assert "warning" not in result.stdout


def test_the_report_can_be_written_to_a_file(settings: Settings, incident_id: str, tmp_path: Path) -> None:
    target = tmp_path / "report.html"

    result = runner.invoke(
        app, ["incidents", "report", incident_id, "--format", "html", "--output", str(target)]
    )

    assert result.exit_code == 0 and result.stdout == ""
    written = target.read_text(encoding="utf-8")
    assert written.startswith("<!DOCTYPE html>") and "hxxp://js[.]mykings[.]top:280/v[.]sct" in written
    assert f"wrote {target}" in result.stderr


def test_an_unknown_incident_is_one_line_on_stderr(settings: Settings) -> None:
    result = runner.invoke(app, ["incidents", "report", "no-such-incident"])

    assert result.exit_code != 0
    assert result.stdout == ""
