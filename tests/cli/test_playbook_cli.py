"""`garrison playbook list | show | validate | import-cacao | export-cacao`, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.cli._output import CliError
from playbooks import candidates, import_cacao, load_playbook, validate_cacao

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cacao"
NARROW = {"COLUMNS": "80"}


def _error(args: list[str]) -> str:
    """The one-line error a command fails with (main() prints it as `error: …`, status 1)."""
    done = runner.invoke(app, args, env=NARROW)
    assert done.exit_code == 1 and isinstance(done.exception, CliError), done.output
    message = str(done.exception)
    assert "\n" not in message
    return message


def _write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_list_as_json_gives_each_playbooks_id_version_match_and_description() -> None:
    done = runner.invoke(app, ["playbook", "list", "--json"])

    assert done.exit_code == 0, done.output
    listed = {row["id"]: row for row in json.loads(done.stdout)["playbooks"]}
    assert list(listed) == [playbook.id for playbook in candidates()]
    assert listed["default"]["match"] is None and listed["default"]["version"] == "2"
    assert listed["c2-beacon"]["match"]["findings"] == ["side_loading", "volume"]
    assert all(row["description"] and row["steps"] for row in listed.values())


def test_list_fits_80_columns() -> None:
    done = runner.invoke(app, ["playbook", "list"], env=NARROW)

    assert done.exit_code == 0, done.output
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    assert all(playbook.id in done.stdout for playbook in candidates())
    assert "the fallback" in done.stdout  # the default runs when no other playbook matches


def test_show_gives_one_line_per_step() -> None:
    playbook = load_playbook("default")

    done = runner.invoke(app, ["playbook", "show", "default"], env=NARROW)

    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    steps = [line for line in lines if line[:3].strip().rstrip(".").isdigit()]
    assert [line.split()[1] for line in steps] == [step.id for step in playbook.steps]
    contain = next(line for line in steps if " contain " in line)
    assert "act" in contain and "if malicious" in contain and "isolate_host" in contain


def test_show_as_json_is_the_playbook() -> None:
    done = runner.invoke(app, ["playbook", "show", "c2-beacon", "--json"])

    assert done.exit_code == 0, done.output
    assert load_playbook("c2-beacon").model_validate(json.loads(done.stdout)) == load_playbook("c2-beacon")


def test_show_an_unknown_playbook_is_one_line_naming_the_known_ones() -> None:
    assert _error(["playbook", "show", "nope"]).startswith("no playbook 'nope' (known: attack-tool-precursor")


def test_playbook_text_is_not_markup(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: x\ndescription: '[bold red]fake[/] \\x1b]52;c;Y2F0\\x07'\n"
        "steps:\n  - {id: ask, kind: escalate, reason: '[link=https://evil.example]click[/link]'}\n",
    )

    done = runner.invoke(app, ["playbook", "show", str(path)], env={"COLUMNS": "200"})

    assert done.exit_code == 0, done.output
    assert "[bold red]fake[/]" in done.stdout and "[link=https://evil.example]click[/link]" in done.stdout
    assert "\x1b" not in done.stdout and "\\x1b]52" in done.stdout


def test_validate_a_good_file(tmp_path: Path) -> None:
    path = _write(tmp_path, (Path("playbooks") / "default.yaml").read_text(encoding="utf-8"))

    done = runner.invoke(app, ["playbook", "validate", str(path)])

    assert done.exit_code == 0, done.output
    assert "valid" in done.stdout and "default" in done.stdout


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "name: x\nsteps:\n  - {id: enrich, kind: enrich}\n"
            "  - {id: contain, kind: act, capabilities: [nuke]}\n",
            "steps.1.act.capabilities.0: Value error, unknown capability 'nuke'",
        ),
        (
            "name: x\nsteps:\n  - {id: tell, kind: notify, event: no_such_event}\n",
            "steps.0.event: no template",
        ),
        (
            "name: x\nsteps:\n  - {id: contain, kind: act, actions: [acme.isolate_host]}\n",
            "steps.0.actions: no installed action acme.isolate_host (step contain)",
        ),
    ],
    ids=["schema", "template", "action"],
)
def test_validate_names_the_step_and_field(tmp_path: Path, text: str, words: str) -> None:
    path = _write(tmp_path, text)

    message = _error(["playbook", "validate", str(path)])

    assert message.startswith(f"{path}: ") and words in message
    assert "(step " in message


def test_validate_a_missing_file() -> None:
    assert _error(["playbook", "validate", "nowhere.yaml"]) == "nowhere.yaml: no such file"


def test_export_to_stdout_is_schema_valid_cacao() -> None:
    done = runner.invoke(app, ["playbook", "export-cacao", "persistence-malware"])

    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    validate_cacao(document)
    assert import_cacao(document) == load_playbook("persistence-malware")


def test_export_then_import_through_files_gives_the_playbook_back(tmp_path: Path) -> None:
    exported, imported = tmp_path / "c2.json", tmp_path / "c2.yaml"

    first = runner.invoke(app, ["playbook", "export-cacao", "c2-beacon", "-o", str(exported)])
    second = runner.invoke(app, ["playbook", "import-cacao", str(exported), "-o", str(imported)])
    checked = runner.invoke(app, ["playbook", "validate", str(imported)])

    assert (first.exit_code, second.exit_code, checked.exit_code) == (0, 0, 0), second.output
    assert load_playbook(str(imported)) == load_playbook("c2-beacon")
    assert imported.read_text(encoding="utf-8").startswith("# Imported from CACAO playbook playbook--")


def test_an_output_file_is_not_replaced_without_force(tmp_path: Path) -> None:
    out = _write(tmp_path, "mine\n", "out.json")

    assert (
        _error(["playbook", "export-cacao", "default", "-o", str(out)])
        == f"{out}: exists (give --force to replace it)"
    )
    assert out.read_text(encoding="utf-8") == "mine\n"
    assert (
        runner.invoke(app, ["playbook", "export-cacao", "default", "-o", str(out), "--force"]).exit_code == 0
    )
    assert json.loads(out.read_text(encoding="utf-8"))["spec_version"] == "cacao-2.0"


def test_import_a_partners_playbook_to_stdout() -> None:
    done = runner.invoke(app, ["playbook", "import-cacao", str(FIXTURES / "partner-containment.json")])

    assert done.exit_code == 0, done.output
    assert "kind: act" in done.stdout and "- isolate_host" in done.stdout and "kind: escalate" in done.stdout


def test_import_refuses_an_unmappable_command_in_one_line() -> None:
    path = FIXTURES / "soarca" / "ssh-playbook.json"

    message = _error(["playbook", "import-cacao", str(path)])

    assert message.startswith(
        f"{path}: CACAO step action--eb9372d4-d524-49fc-bf24-be26ea084779: commands[0]: "
    )
    assert "'ssh' commands cannot be mapped" in message


def test_import_refuses_what_is_not_json(tmp_path: Path) -> None:
    path = _write(tmp_path, "{not json", "broken.json")

    assert _error(["playbook", "import-cacao", str(path)]) == f"{path}: not a JSON document (JSONDecodeError)"


def test_the_garrison_command_prints_a_refusal_as_one_line_on_stderr() -> None:
    path = FIXTURES / "soarca" / "openc2-playbook.json"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "COLUMNS": "400"}

    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "playbook", "import-cacao", str(path)],
        env={**env, "GARRISON_HOME": os.environ["GARRISON_HOME"]},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: {path}: CACAO step action--eb9372d4")
    assert "OpenC2 deny ipv4_connection has no Garrison capability" in done.stderr
