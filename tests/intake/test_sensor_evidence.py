"""What each sensor says about its own finding reaches OCSF: ATT&CK in ``finding_info.attacks``, confidence,
risk score and disposition — and hostile values in those fields are dropped, not carried."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flows.models import MAX_ATTACKS
from flows.normalize import normalize
from flows.store import Store

from .conftest import key_headers

ALERTS = Path(__file__).parents[1] / "fixtures" / "alerts"


def _load(name: str) -> dict[str, Any]:
    return json.loads((ALERTS / name).read_text(encoding="utf-8"))


def _ocsf(raw: dict[str, Any]) -> dict[str, Any]:
    return normalize(raw, "demo").document


# -- Elastic ------------------------------------------------------------------------------------------------


def test_elastic_rule_threat_becomes_ocsf_attacks_with_sub_techniques() -> None:
    normalized = normalize(_load("elastic-threat-nested.json"), "demo")

    assert normalized.document["finding_info"]["attacks"] == [
        {
            "technique": {"uid": "T1059", "name": "Command and Scripting Interpreter"},
            "sub_technique": {"uid": "T1059.001", "name": "PowerShell"},
            "tactic": {"uid": "TA0002", "name": "Execution"},
        },
        {
            "technique": {"uid": "T1566", "name": "Phishing"},
            "sub_technique": {"uid": "T1566.001", "name": "Spearphishing Attachment"},
            "tactic": {"uid": "TA0001", "name": "Initial Access"},
        },
    ]
    assert normalized.alert.techniques() == ["T1059", "T1059.001", "T1566", "T1566.001"]
    assert normalized.alert.tactics() == ["TA0002", "Execution", "TA0001", "Initial Access"]


def test_elastic_keeps_tactic_names_in_finding_info_types() -> None:
    document = _ocsf(_load("elastic-threat-nested.json"))

    assert document["finding_info"]["types"] == ["Execution", "Initial Access"]


def test_elastic_risk_score_is_the_ocsf_risk_score_and_not_a_confidence() -> None:
    alert = normalize(_load("elastic-threat-nested.json"), "demo").alert

    assert alert.model_dump()["risk_score"] == 73
    assert alert.confidence() is None and alert.disposition() is None


def test_the_flattened_fields_form_gives_the_same_attack() -> None:
    normalized = normalize(_load("elastic-threat-fields-api.json"), "demo")

    assert normalized.document["finding_info"]["attacks"] == [
        {
            "technique": {"uid": "T1490", "name": "Inhibit System Recovery"},
            "tactic": {"uid": "TA0040", "name": "Impact"},
        }
    ]
    assert normalized.document["risk_score"] == 99
    assert normalized.alert.hostname == "FS-02" and normalized.alert.severity_id == 5


def test_ecs_threat_fields_of_an_elastic_defend_alert_are_read_too() -> None:
    raw = _load("elastic-awk-breakout.json")  # its rule has "threat": []
    raw["threat"] = {
        "framework": "MITRE ATT&CK",
        "tactic": {"id": ["TA0005"], "name": ["Defense Evasion"]},
        "technique": {"id": ["T1036"], "name": ["Masquerading"], "subtechnique": {"id": ["T1036.005"]}},
    }

    alert = normalize(raw, "demo").alert

    assert alert.techniques() == ["T1036", "T1036.005"]
    assert alert.tactics() == ["TA0005", "Defense Evasion"]


def test_an_elastic_rule_without_threat_has_no_attacks() -> None:
    document = _ocsf(_load("elastic-awk-breakout.json"))

    assert "attacks" not in document["finding_info"] and document["risk_score"] == 47


@pytest.mark.parametrize(
    ("event_type", "outcome", "disposition"),
    [
        # Elastic's "… - Prevented - Elastic Defend" rules: event.type : denied and event.outcome : success;
        # "… - Detected -": event.type : allowed or (event.type : denied and event.outcome : failure).
        (["info", "denied"], "success", 2),
        (["info", "denied"], "failure", 1),
        (["info", "allowed"], "success", 1),
        (["start"], None, None),
    ],
)
def test_elastic_disposition_follows_the_ecs_event_type(
    event_type: list[str], outcome: str | None, disposition: int | None
) -> None:
    raw = _load("elastic-threat-nested.json")
    raw["kibana.alert.original_event.type"] = event_type
    if outcome:
        raw["kibana.alert.original_event.outcome"] = outcome

    normalized = normalize(raw, "demo")

    assert normalized.alert.disposition() == disposition
    if disposition:
        assert normalized.document["disposition"] == {1: "Allowed", 2: "Blocked"}[disposition]
        assert normalized.document["metadata"]["profiles"] == ["security_control"]


# -- Wazuh --------------------------------------------------------------------------------------------------


def test_wazuh_rule_mitre_pairs_its_one_technique_with_each_tactic() -> None:
    normalized = normalize(_load("wazuh-sysmon-run-key.json"), "demo")

    technique = {
        "technique": {"uid": "T1547"},
        "sub_technique": {"uid": "T1547.001", "name": "Registry Run Keys / Startup Folder"},
    }
    assert normalized.document["finding_info"]["attacks"] == [
        {**technique, "tactic": {"uid": "TA0003", "name": "Persistence"}},
        {**technique, "tactic": {"uid": "TA0004", "name": "Privilege Escalation"}},
    ]
    assert normalized.alert.techniques() == ["T1547", "T1547.001"]
    assert normalized.alert.tactics() == ["TA0003", "Persistence", "TA0004", "Privilege Escalation"]
    assert normalized.alert.confidence() is None and normalized.alert.disposition() is None


def test_wazuh_with_several_techniques_does_not_guess_which_tactic_goes_with_which() -> None:
    raw = _load("wazuh-ssh-bruteforce.json")
    raw["rule"]["mitre"] = {
        "id": ["T1110.001", "T1021.004"],
        "tactic": ["Credential Access", "Lateral Movement"],
        "technique": ["Password Guessing", "SSH"],
    }

    attacks = _ocsf(raw)["finding_info"]["attacks"]

    assert attacks == [
        {"technique": {"uid": "T1110"}, "sub_technique": {"uid": "T1110.001", "name": "Password Guessing"}},
        {"technique": {"uid": "T1021"}, "sub_technique": {"uid": "T1021.004", "name": "SSH"}},
        {"tactic": {"uid": "TA0006", "name": "Credential Access"}},
        {"tactic": {"uid": "TA0008", "name": "Lateral Movement"}},
    ]


def test_wazuh_names_are_not_trusted_to_ids_when_the_counts_differ() -> None:
    raw = _load("wazuh-ssh-bruteforce.json")
    raw["rule"]["mitre"] = {"id": ["T1110", "T1078"], "technique": ["Brute Force"]}

    assert _ocsf(raw)["finding_info"]["attacks"] == [
        {"technique": {"uid": "T1110"}},
        {"technique": {"uid": "T1078"}},
    ]


# -- Suricata -----------------------------------------------------------------------------------------------


def test_emerging_threats_metadata_gives_attack_confidence_and_the_block() -> None:
    normalized = normalize(_load("suricata-eve-et-metadata-blocked.json"), "demo")
    document = normalized.document

    assert document["finding_info"]["attacks"] == [
        {
            "technique": {"uid": "T1071", "name": "Application Layer Protocol"},
            "tactic": {"uid": "TA0011", "name": "Command And Control"},
        }
    ]
    assert (document["confidence_id"], document["confidence"]) == (3, "High")
    assert (document["disposition_id"], document["disposition"]) == (2, "Blocked")
    assert normalized.alert.confidence() == 90 and normalized.alert.disposition() == 2
    assert normalized.alert.techniques() == ["T1071"]


def test_an_ids_alert_without_rule_metadata_is_allowed_with_no_attacks() -> None:
    normalized = normalize(_load("suricata-eve-docs-example.json"), "demo")

    assert normalized.alert.disposition() == 1 and normalized.document["disposition"] == "Allowed"
    assert normalized.alert.techniques() == [] and normalized.alert.confidence() is None


def test_suricata_sub_techniques_and_mitre_attack_tags_fold_into_one_technique() -> None:
    raw = _load("suricata-eve-alert.json")
    raw["alert"]["metadata"] = {
        "mitre_tactic_id": ["TA0011"],
        "mitre_tactic_name": ["Command_And_Control"],
        "mitre_technique_id": ["T1071"],
        "mitre_technique_name": ["Application_Layer_Protocol"],
        "mitre_subtechnique_id": ["T1071.001"],
        "mitre_subtechnique_name": ["Web_Protocols"],
        "mitre_attack": ["T1071.001", "TA0011"],
        "confidence": ["Medium"],
    }

    document = _ocsf(raw)

    assert document["finding_info"]["attacks"] == [
        {
            "technique": {"uid": "T1071", "name": "Application Layer Protocol"},
            "sub_technique": {"uid": "T1071.001", "name": "Web Protocols"},
            "tactic": {"uid": "TA0011", "name": "Command And Control"},
        }
    ]
    assert document["confidence_id"] == 2


# -- hostile values -----------------------------------------------------------------------------------------


def test_values_that_are_not_attack_ids_are_dropped() -> None:
    raw = _load("suricata-eve-alert.json")
    raw["alert"]["metadata"] = {
        "mitre_technique_id": ["T1059'; DROP TABLE alerts;--", "TA0002", "t1059.001 ", 1059, None, ["T1"]],
        "mitre_tactic_id": ["TA00011", "<script>alert(1)</script>", "TA0002"],
        "mitre_tactic_name": "x" * 5000,
        "confidence": ["Absolutely"],
    }
    raw["alert"]["action"] = "pwned"

    document = _ocsf(raw)

    assert document["finding_info"]["attacks"] == [
        {
            "technique": {"uid": "T1059"},
            "sub_technique": {"uid": "T1059.001"},
            "tactic": {"uid": "TA0002", "name": "Execution"},
        }
    ]
    assert "confidence_id" not in document and "disposition_id" not in document


def test_a_flood_of_techniques_is_capped() -> None:
    raw = _load("wazuh-ssh-bruteforce.json")
    raw["rule"]["mitre"] = {"id": [f"T{n:04d}" for n in range(1000, 3000)], "tactic": ["Impact"] * 500}

    attacks = _ocsf(raw)["finding_info"]["attacks"]

    assert len(attacks) == MAX_ATTACKS


def test_elastic_threat_of_another_framework_or_with_garbage_is_dropped() -> None:
    raw = _load("elastic-threat-nested.json")
    raw["kibana.alert.rule.threat"] = [
        {"framework": "MITRE ATLAS", "tactic": {"id": "AML.TA0000"}, "technique": [{"id": "AML.T0040"}]},
        {"framework": "MITRE ATT&CK", "tactic": "Execution", "technique": "T1059"},
        {"framework": "ATT&CK", "tactic": {"id": 7}, "technique": [{"id": "T1059", "subtechnique": [1]}]},
        "T1059",
    ]
    raw["kibana.alert.risk_score"] = 1e9
    raw["kibana.alert.rule.risk_score"] = True

    document = _ocsf(raw)

    assert document["finding_info"]["attacks"] == [{"technique": {"uid": "T1059"}}]
    assert "risk_score" not in document


def test_hostile_nesting_of_empty_shells_gives_nothing() -> None:
    raw = _load("elastic-threat-nested.json")
    shell = {"framework": "MITRE ATT&CK", "technique": [{"subtechnique": [{"id": "x"}] * 128}] * 128}
    raw["kibana.alert.rule.threat"] = [shell] * 32

    assert "attacks" not in _ocsf(raw)["finding_info"]


def test_normalizing_does_not_change_what_the_sensor_sent() -> None:
    raw = _load("elastic-threat-nested.json")
    sent = copy.deepcopy(raw)

    normalize(raw, "demo")

    assert raw == sent


# -- through the API ----------------------------------------------------------------------------------------


def test_the_stored_alert_keeps_the_attacks_and_the_disposition(client: TestClient, store: Store) -> None:
    raw = _load("suricata-eve-et-metadata-blocked.json")

    response = client.post("/v1/alerts", headers=key_headers(), json=raw)

    assert response.status_code == 202, response.text
    [stored] = store.alert_documents(response.json()["incident_id"])
    assert stored["finding_info"]["attacks"][0]["technique"]["uid"] == "T1071"
    assert (stored["disposition_id"], stored["confidence_id"]) == (2, 3)
