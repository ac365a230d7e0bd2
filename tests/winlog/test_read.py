"""Event files in every layout they come in are read record by record; a record that cannot be read is
counted with its reason, never fatal; ``garrison ingest --events`` and ``garrison triage --events`` read
Windows event logs as they read OCSF."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from flows.cli import app
from flows.settings import Settings
from flows.store import EventRow, Store
from flows.triage._offline import read_events
from flows.winlog import EventFile, Unreadable

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "sigma" / "regression_data"
# One case with six Sysmon 11 events, as SigmaHQ recorded them (evtx_dump JSON and binary .evtx).
SIX = CASES / "rules" / "windows" / "file" / "file_event" / "file_event_win_cred_dump_tools_dropped_files"
runner = CliRunner()


def _six(suffix: str) -> Path:
    [path] = SIX.glob(f"*.{suffix}")
    return path


def _documents(path: Path) -> list[Any]:
    return [record for _, record in EventFile(path)]


def test_a_pretty_printed_dump_an_ndjson_file_and_the_evtx_give_the_same_events(tmp_path: Path) -> None:
    pretty = _documents(_six("json"))
    ndjson = tmp_path / "events.ndjson"
    ndjson.write_text("\n".join(json.dumps(d) for d in pretty) + "\n")
    with_headers = tmp_path / "dump.txt"  # evtx_dump's own output: "Record N" before each object
    with_headers.write_text(
        "".join(f"Record {n}\n{json.dumps(d, indent=2)}\n" for n, d in enumerate(pretty, 1))
    )
    array = tmp_path / "array.json"
    array.write_text(json.dumps(pretty, indent=2))

    assert len(pretty) == 6
    for path in (ndjson, with_headers, array, _six("evtx")):
        assert _documents(path) == pretty, path


def test_positions_are_lines_of_text_and_records_of_evtx(tmp_path: Path) -> None:
    pretty = [position for position, _ in EventFile(_six("json"))]
    binary = [position for position, _ in EventFile(_six("evtx"))]

    assert pretty[0] == 1 and all(b > a + 10 for a, b in zip(pretty, pretty[1:], strict=False))
    assert binary == [1, 2, 3, 4, 5, 6]


def test_a_damaged_evtx_chunk_and_a_file_that_is_no_evtx_are_counted_not_fatal(tmp_path: Path) -> None:
    data = bytearray(_six("evtx").read_bytes())
    data[0x1200:0x1400] = b"A" * 0x200  # inside the first chunk: its records are lost
    damaged = tmp_path / "damaged.evtx"
    damaged.write_bytes(bytes(data))
    truncated = tmp_path / "truncated.evtx"
    truncated.write_bytes(b"ElfFile\x00" + b"\x00" * 10)

    records = _documents(damaged) + _documents(truncated)

    assert records and all(isinstance(r, Unreadable) for r in records)
    assert "damaged .evtx record" in records[0].reason
    assert records[-1].reason.startswith("not a readable .evtx file")


def test_the_bytes_read_so_far_are_known_for_a_progress_bar() -> None:
    source = EventFile(_six("evtx"))
    seen = []
    for _ in source:
        seen.append(source.consumed)

    assert seen[-1] == _six("evtx").stat().st_size and seen == sorted(seen)


def test_offline_triage_reads_an_evtx_and_counts_what_it_skips(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events = tmp_path / "events.ndjson"
    pretty = _documents(_six("json"))
    unmapped = json.loads(json.dumps(pretty[0]))
    unmapped["Event"]["System"]["EventID"] = 255
    events.write_text("\n".join(json.dumps(d) for d in [*pretty, unmapped]) + "\n{broken\n")
    heard: list[int] = []

    with caplog.at_level(logging.WARNING, logger="flows.triage._offline"):
        binary = read_events(_six("evtx"), "acme", heard.append)
        text = read_events(events, "acme")

    assert (len(binary.rows), binary.skipped) == (6, 0) and heard[-1] == _six("evtx").stat().st_size
    assert (len(text.rows), text.skipped) == (6, 2)
    assert [r["class_uid"] for r in binary.rows] == [1001] * 6 and binary.rows[0]["tenant"] == "acme"
    warned = [r.getMessage() for r in caplog.records]
    assert any("event skipped: EventID: Microsoft-Windows-Sysmon/Operational event 255" in w for w in warned)
    assert any(":8: event skipped: not JSON" in w for w in warned)


def test_garrison_ingest_events_stores_windows_logs_and_counts_the_rest(
    settings: Settings, tmp_path: Path
) -> None:
    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello\n")

    result = runner.invoke(
        app,
        [
            "ingest",
            "--events",
            "--tenant",
            "demo",
            "--json",
            str(_six("evtx")),
            str(_six("json")),
            str(not_json),
        ],
    )
    without_tenant = runner.invoke(app, ["ingest", "--events", str(_six("evtx"))])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["stored"] == 12 and summary["rejected"] == 1
    assert list(summary["rejections"]) == ["(record): not JSON: Expecting value: line 1 column 1 (char 0)"]
    with Store.open(settings.database_url).engine.connect() as conn:
        rows = conn.execute(select(EventRow.class_uid, func.count()).group_by(EventRow.class_uid)).all()
    assert rows == [(1001, 12)]
    assert without_tenant.exit_code == 1 and "needs --tenant" in str(without_tenant.exception)


def test_an_indented_ndjson_line_is_an_event_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "mixed.ndjson"
    path.write_text(
        '{"class_uid": 4001, "time": 1}\n'
        '  {"class_uid": 4001, "time": 2}\n'  # NDJSON, indented
        '{\n  "class_uid": 4001,\n  "time": 3\n}\n'  # pretty-printed
    )

    assert [(n, d["time"]) for n, d in EventFile(path)] == [(1, 1), (2, 2), (3, 3)]
