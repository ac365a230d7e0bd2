"""SigmaHQ's own regression cases, through Garrison: a bland EDR alert on the capture's host, with the capture
as telemetry in its native form (evtx_dump JSON, and the binary .evtx), makes triage name the case's rule —
its id and its title as published — and the verdict is not benign.

The cases are SigmaHQ's (tests/fixtures/sigma/ORIGIN.txt): real Sysmon events their rule must match. A
case's info.yml names the rule by id; its title there is as it was when the case was recorded (four rules
have been renamed since), so the title expected is the rule's own, from the vendored corpus.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.sigma import load_rules
from flows.tenants import Policy
from flows.triage import triage_files

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "sigma" / "regression_data"


def _cases() -> list[Any]:
    found = []
    for info in sorted(CASES.rglob("info.yml")):
        meta = yaml.safe_load(info.read_text(encoding="utf-8"))
        [rule] = meta["rule_metadata"]
        for form in ("json", "evtx"):
            [capture] = info.parent.glob(f"*.{form}")
            found.append(pytest.param(capture, rule["id"], id=f"{info.parent.name}-{form}"))
    return found


def _host_and_time(capture: Path) -> tuple[str, str]:
    """The capture's host and its last event's time, read from the JSON twin of the capture."""
    text = capture.with_suffix(".json").read_text(encoding="utf-8")
    decoder, position, last = json.JSONDecoder(), 0, None
    while position < len(text.rstrip()):
        while text[position].isspace():
            position += 1
        last, position = decoder.raw_decode(text, position)
    assert last is not None
    system = last["Event"]["System"]
    return system["Computer"], system["TimeCreated"]["#attributes"]["SystemTime"]


def _bland_alert(tmp_path: Path, host: str, when: str) -> Path:
    stamp = int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1000)
    alert = {
        "class_uid": 2004,
        "severity_id": 3,  # medium
        "time": stamp,
        "metadata": {"tenant_uid": "acme", "product": {"name": "Some EDR"}, "uid": "bland-1"},
        "finding_info": {"uid": "bland-1", "title": f"Suspicious activity on {host}"},
        "device": {"hostname": host},
    }
    path = tmp_path / "alert.json"
    path.write_text(json.dumps(alert), encoding="utf-8")
    return path


@pytest.mark.parametrize(("capture", "rule_id"), _cases())
def test_triage_names_the_case_rule(tmp_path: Path, capture: Path, rule_id: str) -> None:
    host, when = _host_and_time(capture)
    [title] = [rule.title for rule in load_rules().rules if rule.id == rule_id]

    result = triage_files(_bland_alert(tmp_path, host, when), events=[capture], policy=Policy())

    named = {r.params.get("rule"): r for r in result.verdict.reasons if r.code == "sigma"}
    assert rule_id in named, [r.finding for r in result.verdict.reasons]
    assert named[rule_id].params["title"] == title and f'"{title}"' in named[rule_id].finding
    assert f"sigma:{rule_id}" in named[rule_id].sources
    assert result.verdict.verdict.value != "benign"
    assert result.features["telemetry"] == {"given": True, "skipped": 0}


def test_every_case_is_here() -> None:
    # 90 SigmaHQ cases, each as JSON and as .evtx: the count the closing note of issue 15 quotes.
    assert len(_cases()) == 180
