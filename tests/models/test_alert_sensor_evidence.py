"""The alert's own evidence as the sensor states it: ATT&CK techniques and tactics, confidence, disposition.

OCSF shapes from the schema (objects/attack.json, technique.json, sub_technique.json, tactic.json; dictionary
confidence_id, confidence_score, disposition_id); the OCSF 1.0 form (``technique`` + deprecated ``tactics``
list, ``attacks`` at the top level) as older emitters send it.
"""

from __future__ import annotations

import doctest
import importlib
import math
from typing import Any

import pytest

from flows.models import MAX_ATTACKS, Alert, attack_name, tactic_uid, technique_uid


def _alert_with(finding: dict[str, Any] | None = None, **top: Any) -> Alert:
    return Alert.model_validate(
        {
            "class_uid": 2004,
            "metadata": {"tenant_uid": "demo", "version": "1.3.0"},
            "finding_info": {"title": "Encoded PowerShell spawned by Office", **(finding or {})},
            **top,
        }
    )


POWERSHELL = {
    "technique": {"uid": "T1059", "name": "Command and Scripting Interpreter"},
    "sub_technique": {"uid": "T1059.001", "name": "PowerShell"},
    "tactic": {"uid": "TA0002", "name": "Execution"},
}


# -- techniques() and tactics() -----------------------------------------------------------------------------


def test_ocsf_attacks_give_techniques_and_tactics_in_order() -> None:
    phishing = {"technique": {"uid": "T1566"}, "tactic": {"uid": "TA0001", "name": "Initial Access"}}
    alert = _alert_with({"attacks": [POWERSHELL, phishing]})

    assert alert.techniques() == ["T1059", "T1059.001", "T1566"]
    assert alert.tactics() == ["TA0002", "Execution", "TA0001", "Initial Access"]


def test_a_sub_technique_alone_also_names_its_parent() -> None:
    alert = _alert_with({"attacks": [{"sub_technique": {"uid": "T1003.001", "name": "LSASS Memory"}}]})

    assert alert.techniques() == ["T1003", "T1003.001"]
    assert alert.tactics() == []


def test_ocsf_1_0_technique_and_tactics_list_are_read() -> None:
    attack_1_0 = {
        "technique": {"uid": "T1053.005", "name": "Scheduled Task"},
        "tactics": [{"uid": "TA0003", "name": "Persistence"}, {"uid": "TA0002", "name": "Execution"}],
        "version": "12.1",
    }
    alert = _alert_with({}, attacks=[attack_1_0])  # OCSF 1.0: attacks at the top level

    assert alert.techniques() == ["T1053", "T1053.005"]
    assert alert.tactics() == ["TA0003", "Persistence", "TA0002", "Execution"]


def test_both_places_are_read_and_repeats_counted_once() -> None:
    alert = _alert_with({"attacks": [POWERSHELL]}, attacks=[POWERSHELL, {"tactic": {"name": "execution"}}])

    assert alert.techniques() == ["T1059", "T1059.001"]
    assert alert.tactics() == ["TA0002", "Execution"]


def test_tactic_names_are_tidied() -> None:
    alert = _alert_with({"attacks": [{"tactic": {"uid": "TA0011", "name": "Command_And_Control"}}]})

    assert alert.tactics() == ["TA0011", "Command And Control"]


@pytest.mark.parametrize(
    "attack",
    [
        {"technique": {"uid": "T1059; rm -rf /"}},
        {"technique": {"uid": "AML.T0040"}},  # ATLAS: not an ATT&CK id
        {"technique": {"uid": "T10590"}},
        {"technique": {"uid": 1059}},
        {"technique": "T1059"},
        {"sub_technique": {"uid": "T1059.1"}},
        {"tactic": {"uid": "TA00020", "name": "<img src=x onerror=alert(1)>"}},
        {"tactic": {"uid": ["TA0002"], "name": "x" * 300}},
        {"tactics": "TA0002"},
        "T1059",
    ],
)
def test_what_is_not_an_attack_id_or_name_is_dropped(attack: Any) -> None:
    alert = _alert_with({"attacks": [attack]})

    assert alert.techniques() == [] and alert.tactics() == []


def test_attacks_that_are_not_a_list_are_ignored() -> None:
    alert = _alert_with({"attacks": {"technique": {"uid": "T1059"}}}, attacks="T1059")

    assert alert.techniques() == [] and alert.tactics() == []


def test_a_flood_of_attacks_is_read_only_up_to_the_cap() -> None:
    flood = [{"technique": {"uid": f"T{n:04d}"}, "tactic": {"uid": f"TA{n:04d}"}} for n in range(1000, 1500)]
    alert = _alert_with({"attacks": flood})

    assert alert.techniques() == [f"T{n:04d}" for n in range(1000, 1000 + MAX_ATTACKS)]
    assert len(alert.tactics()) == MAX_ATTACKS


def test_an_alert_without_attacks_names_none() -> None:
    alert = _alert_with()

    assert alert.techniques() == [] and alert.tactics() == []


# -- confidence() and disposition() -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"confidence_score": 85}, 85),
        ({"confidence_score": 0}, 0),
        ({"confidence_score": 72.6}, 73),
        ({"confidence_score": 85, "confidence_id": 1}, 85),  # the score is the finer statement
        ({"confidence_id": 1}, 30),
        ({"confidence_id": 2}, 60),
        ({"confidence_id": 3, "confidence": "High"}, 90),
        ({"confidence_score": 250, "confidence_id": 2}, 60),  # out of range: fall back to the id
        ({"confidence_score": True, "confidence_id": 3}, 90),
        ({"confidence_score": math.nan}, None),
        ({"confidence_score": "90"}, None),
        ({"confidence_id": 0}, None),
        ({"confidence_id": 99, "confidence": "Sensor-specific"}, None),
        ({"confidence_id": "3"}, None),
        ({}, None),
    ],
)
def test_confidence_is_a_score_from_the_score_or_the_level(
    fields: dict[str, Any], expected: int | None
) -> None:
    assert _alert_with(**fields).confidence() == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"disposition_id": 2, "disposition": "Blocked"}, 2),
        ({"disposition_id": 1}, 1),
        ({"disposition_id": 3}, 3),
        ({"disposition_id": 19}, 19),
        ({"disposition_id": 99}, 99),
        ({"disposition_id": 0}, None),
        ({"disposition_id": -1}, None),
        ({"disposition_id": 100}, None),
        ({"disposition_id": True}, None),
        ({"disposition_id": "2"}, None),
        ({"disposition": "Blocked"}, None),
        ({}, None),
    ],
)
def test_disposition_is_the_ocsf_id_when_known(fields: dict[str, Any], expected: int | None) -> None:
    assert _alert_with(**fields).disposition() == expected


def test_the_new_reads_change_nothing_else() -> None:
    plain = _alert_with()
    rich = _alert_with({"attacks": [POWERSHELL]}, confidence_id=3, disposition_id=2, risk_score=73)

    assert rich.indicators() == plain.indicators() == [] and rich.registry_values() == []
    assert rich.model_dump()["finding_info"]["attacks"] == [POWERSHELL]
    assert rich.source_uid != plain.source_uid  # the content hash covers the new fields


# -- the id and name checks ---------------------------------------------------------------------------------


def test_ids_and_names_are_checked_strictly() -> None:
    assert technique_uid("T1059") == "T1059" and technique_uid(" t1059.001 ") == "T1059.001"
    assert technique_uid("TA0002") is None and technique_uid("T1059.0001") is None
    assert tactic_uid("ta0040") == "TA0040" and tactic_uid("T1059") is None
    assert attack_name("/etc/passwd and /etc/shadow") == "/etc/passwd and /etc/shadow"
    assert attack_name("Masquerading: Match Legitimate Name or Location") is not None
    assert attack_name("Exploit\nPublic-Facing") == "Exploit Public-Facing"
    assert attack_name("Exploit\x00") is None and attack_name("") is None and attack_name(None) is None


def test_the_docstring_examples_hold() -> None:
    failed, attempted = doctest.testmod(importlib.import_module("flows.models._alert"))

    assert failed == 0 and attempted >= 3
