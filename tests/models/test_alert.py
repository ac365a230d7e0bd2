"""The alert as Garrison reads it: the MyKings demo, what it names, and what is refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from flows.demo import mykings_alert
from flows.models import Alert, IndicatorType, RegistryValueRef

RUN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
STARTUPREG = r"HKLM\SOFTWARE\Microsoft\Shared Tools\MSConfig\startupreg"


@pytest.fixture
def document() -> dict[str, Any]:
    return mykings_alert()


def _minimal(**finding: Any) -> dict[str, Any]:
    return {
        "class_uid": 2004,
        "metadata": {"tenant_uid": "demo"},
        "finding_info": {"title": "Something happened", **finding},
    }


def test_the_mykings_demo_alert_validates(document: dict[str, Any]) -> None:
    alert = Alert.model_validate(document)

    assert alert.tenant == "demo"
    assert alert.source == "Demo EDR"
    assert alert.source_uid == "mykings-demo-0001"
    assert alert.hostname == "WS-FINANCE-07"
    assert alert.severity_id == 4


def test_mykings_indicators_are_the_refanged_url_and_its_domain(document: dict[str, Any]) -> None:
    found = {(i.type, i.value) for i in Alert.model_validate(document).indicators()}

    assert (IndicatorType.URL, "http://js.mykings.top:280/v.sct") in found
    assert (IndicatorType.DOMAIN, "js.mykings.top") in found


def test_mykings_indicators_include_the_run_key_values(document: dict[str, Any]) -> None:
    found = {(i.type, i.value) for i in Alert.model_validate(document).indicators()}

    assert {
        (IndicatorType.REGISTRY_VALUE, RUN_KEY + r"\start"),
        (IndicatorType.REGISTRY_VALUE, RUN_KEY + r"\start1"),
        (IndicatorType.REGISTRY_VALUE, STARTUPREG + r"\start"),
    } <= found


def test_the_affected_device_is_not_an_indicator(document: dict[str, Any]) -> None:
    values = [i.value.lower() for i in Alert.model_validate(document).indicators()]

    assert not any("ws-finance-07" in value for value in values)
    assert "10.20.30.47" not in values


def test_indicators_are_deduplicated_by_type_and_value(document: dict[str, Any]) -> None:
    indicators = Alert.model_validate(document).indicators()
    keys = [(i.type, i.value) for i in indicators]

    assert len(keys) == len(set(keys))
    # The domain appears in an observable, an evidence and as the URL's host: still listed once.
    assert keys.count((IndicatorType.DOMAIN, "js.mykings.top")) == 1


def test_no_indicator_value_is_left_defanged(document: dict[str, Any]) -> None:
    for indicator in Alert.model_validate(document).indicators():
        assert "[.]" not in indicator.value
        assert not indicator.value.startswith("hxxp")


def test_private_destination_ips_are_not_indicators_but_public_ones_are() -> None:
    doc = _minimal()
    doc["evidences"] = [
        {"dst_endpoint": {"ip": "10.1.2.3"}},
        {"dst_endpoint": {"ip": "203.0.113.9"}},
        {"dst_endpoint": {"ip": "8.8.4.4"}},
        {"src_endpoint": {"ip": "8.8.8.8"}},
    ]

    values = {i.value for i in Alert.model_validate(doc).indicators()}

    assert "8.8.4.4" in values
    assert "10.1.2.3" not in values
    assert "8.8.8.8" not in values  # the source of a connection is not what it talked to


def test_file_hashes_in_evidence_become_typed_indicators() -> None:
    doc = _minimal()
    doc["evidences"] = [
        {"file": {"hashes": [{"value": "D41D8CD98F00B204E9800998ECF8427E"}]}},
        {"process": {"file": {"hashes": [{"value": "a" * 64}]}}},
    ]

    found = {(i.type, i.value) for i in Alert.model_validate(doc).indicators()}

    assert found == {
        (IndicatorType.MD5, "d41d8cd98f00b204e9800998ecf8427e"),
        (IndicatorType.SHA256, "a" * 64),
    }


def test_registry_values_lists_the_persistence_the_evidence_points_at(document: dict[str, Any]) -> None:
    refs = Alert.model_validate(document).registry_values()

    assert refs == [
        RegistryValueRef(key=RUN_KEY, name="start"),
        RegistryValueRef(key=RUN_KEY, name="start1"),
        RegistryValueRef(key=STARTUPREG, name="start"),
    ]


def test_registry_values_skips_malformed_evidence() -> None:
    doc = _minimal()
    doc["evidences"] = [
        {"reg_value": {"path": RUN_KEY}},  # no name
        {"reg_value": {"name": "x"}},  # no path
        {"reg_value": "HKLM\\Run\\x"},  # not an object
    ]

    assert Alert.model_validate(doc).registry_values() == []


def test_unknown_fields_are_kept(document: dict[str, Any]) -> None:
    document["vendor_specific"] = {"score": 97}
    document["finding_info"]["sensor_note"] = "kept"

    alert = Alert.model_validate(document)

    assert alert.model_extra is not None
    assert alert.model_extra["vendor_specific"] == {"score": 97}
    assert alert.model_extra["category_uid"] == 2
    assert alert.finding_info.model_extra == {"sensor_note": "kept"}
    assert alert.model_dump()["vendor_specific"] == {"score": 97}


@pytest.mark.parametrize("class_uid", [2001, 0, "2004x", None])
def test_a_class_other_than_detection_finding_is_rejected(document: dict[str, Any], class_uid: Any) -> None:
    document["class_uid"] = class_uid

    with pytest.raises(ValidationError) as caught:
        Alert.model_validate(document)

    assert caught.value.errors()[0]["loc"] == ("class_uid",)


@pytest.mark.parametrize(
    ("section", "field"),
    [("metadata", "tenant_uid"), ("finding_info", "title")],
)
def test_a_missing_required_field_is_named_in_the_error(
    document: dict[str, Any], section: str, field: str
) -> None:
    del document[section][field]

    with pytest.raises(ValidationError) as caught:
        Alert.model_validate(document)

    assert (section, field) in [error["loc"] for error in caught.value.errors()]


def test_an_empty_tenant_is_rejected(document: dict[str, Any]) -> None:
    document["metadata"]["tenant_uid"] = ""

    with pytest.raises(ValidationError) as caught:
        Alert.model_validate(document)

    assert caught.value.errors()[0]["loc"] == ("metadata", "tenant_uid")


def test_an_oversized_hostname_is_rejected(document: dict[str, Any]) -> None:
    document["device"]["hostname"] = "h" * 256

    with pytest.raises(ValidationError) as caught:
        Alert.model_validate(document)

    assert caught.value.errors()[0]["loc"] == ("device", "hostname")


def test_source_uid_prefers_the_finding_uid_then_the_metadata_uid(document: dict[str, Any]) -> None:
    assert Alert.model_validate(document).source_uid == "mykings-demo-0001"

    del document["finding_info"]["uid"]
    assert Alert.model_validate(document).source_uid == "demo-edr-7f3a91"


def test_source_uid_falls_back_to_a_stable_content_hash(document: dict[str, Any]) -> None:
    del document["finding_info"]["uid"]
    del document["metadata"]["uid"]
    same = copy.deepcopy(document)
    reordered = dict(reversed(list(document.items())))

    first = Alert.model_validate(document).source_uid

    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64
    assert Alert.model_validate(same).source_uid == first
    assert Alert.model_validate(reordered).source_uid == first


def test_the_content_hash_differs_for_different_alerts(document: dict[str, Any]) -> None:
    del document["finding_info"]["uid"]
    del document["metadata"]["uid"]
    other = copy.deepcopy(document)
    other["time"] = document["time"] + 1

    assert Alert.model_validate(document).source_uid != Alert.model_validate(other).source_uid


def test_source_defaults_to_ocsf_without_a_product_name() -> None:
    alert = Alert.model_validate(_minimal())

    assert alert.source == "ocsf"
    assert alert.hostname is None
    assert alert.indicators() == []
