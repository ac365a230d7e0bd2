"""The normalizers' shared readers: fields nested or flattened (Elastic, Wazuh and generic sources mix
both), and times in every form sensors write them. The per-format tests live with the intake API
(tests/intake/test_formats.py, test_sensor_evidence.py), which is how users send them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.normalize import get, text
from flows.normalize._ocsf_build import FindingBuilder, epoch_ms, is_internal

MS_2026 = int(datetime(2026, 11, 15, 9, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        ({"host": {"name": "ws1"}}, "host.name", "ws1"),
        ({"host.name": "ws1"}, "host.name", "ws1"),
        ({"host": {"os.name": "Windows"}}, "host.os.name", "Windows"),  # flattened below a nested level
        ({"host.name": "flat", "host": {"name": "nested"}}, "host.name", "flat"),  # flattened wins
        ({"host": "not an object"}, "host.name", None),
        ("not a document", "host.name", None),
    ],
)
def test_a_field_is_read_nested_or_flattened(document: object, path: str, expected: object) -> None:
    assert get(document, path) == expected


def test_text_takes_the_first_non_empty_value_and_skips_booleans() -> None:
    document = {"a": "", "b": True, "c": ["", "from a list"], "d": 42}

    assert text(document, "a", "b", "c") == "from a list"
    assert text(document, "a", "d") == "42"
    assert text(document, "missing") is None


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-15T09:00:00Z",
        "2026-11-15T09:00:00+00:00",
        "2026-11-15T09:00:00.000000+0000",  # Suricata writes +0000
        "2026-11-15 09:00:00",  # no zone: UTC
        MS_2026,
        MS_2026 / 1000,  # epoch seconds
    ],
)
def test_sensor_times_become_epoch_milliseconds(value: object) -> None:
    assert epoch_ms(value) == MS_2026


@pytest.mark.parametrize("value", [None, True, "yesterday", "", [], {}])
def test_unreadable_times_are_none_not_errors(value: object) -> None:
    assert epoch_ms(value) is None


@pytest.mark.parametrize(("ip", "internal"), [("10.1.2.3", True), ("127.0.0.1", True), ("8.8.8.8", False)])
def test_internal_addresses_are_recognised(ip: str, internal: bool) -> None:
    assert is_internal(ip) is internal
    assert is_internal("not an ip") is False and is_internal(None) is False


def test_the_builder_writes_a_detection_finding_and_lists_each_observable_once() -> None:
    finding = FindingBuilder(tenant="acme", product="EDR", vendor="V", uid="u-1", title="")
    finding.observe_value("https://evil.example/x", "url")
    finding.observe_value("https://evil.example/x", "url.again")
    finding.set("device.hostname", "WS-1")
    finding.set("device.ip", "")  # empty values are not written

    document = finding.build()

    assert document["class_uid"] == 2004 and document["metadata"]["tenant_uid"] == "acme"
    assert document["finding_info"]["title"] == "(untitled)"
    assert document["device"] == {"hostname": "WS-1"}
    assert [o["value"] for o in document["observables"]] == ["https://evil.example/x"]
