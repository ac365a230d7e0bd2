"""The fields triage queries, pulled out of one OCSF event: a destination by its name and by its IP."""

from __future__ import annotations

from typing import Any

import pytest

from flows.store import EventError, event_row


def _row(**fields: Any) -> dict[str, Any]:
    return event_row({"class_uid": 4001, "time": 1_794_560_521_000, **fields}, "acme")


@pytest.mark.parametrize(
    ("fields", "dst", "dst_ip"),
    [
        (
            {"dst_endpoint": {"ip": "203.0.113.45", "hostname": "Upd.Example.NET"}},
            "upd.example.net",
            "203.0.113.45",
        ),
        ({"dst_endpoint": {"ip": "203.0.113.45"}}, "203.0.113.45", "203.0.113.45"),  # no name: the IP
        ({"dst_endpoint": {"domain": "upd.example.net"}}, "upd.example.net", None),
        # What the client asked for beats the endpoint's (reverse-DNS) hostname.
        (
            {
                "tls": {"sni": "c2.example.org"},
                "dst_endpoint": {"ip": "203.0.113.45", "hostname": "cdn-7.example"},
            },
            "c2.example.org",
            "203.0.113.45",
        ),
        ({"tls": {"server_name": "c2.example.org"}}, "c2.example.org", None),
        (
            {"http_request": {"url": {"url_string": "https://C2.example.org:8443/gate.php?id=7"}}},
            "c2.example.org",
            None,
        ),
        (
            {"query": {"hostname": "c2.example.org"}, "dst_endpoint": {"ip": "192.0.2.53"}},
            "c2.example.org",
            "192.0.2.53",
        ),
        ({}, None, None),
    ],
)
def test_a_destination_is_kept_by_its_name_and_by_its_ip(
    fields: dict[str, Any], dst: str | None, dst_ip: str | None
) -> None:
    row = _row(**fields)

    assert (row["dst"], row["dst_ip"]) == (dst, dst_ip)


@pytest.mark.parametrize("stamp", [-1, 10**20, "1794560521000", True])
def test_a_time_that_is_no_moment_is_refused_by_field(stamp: object) -> None:
    with pytest.raises(EventError) as refused:
        event_row({"class_uid": 4001, "time": stamp}, "acme")

    assert refused.value.field == "time"
