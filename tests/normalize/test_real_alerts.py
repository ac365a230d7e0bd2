"""Real alerts from real tools (tests/fixtures/alerts/<format>/ORIGIN.txt) are accepted and keep the
evidence an analyst needs: indicators, accounts, hashes, paths, hosts and times."""

from __future__ import annotations

from typing import Any

import pytest

from flows.normalize import Format, normalize

from ._samples import SYSMON, evidence, indicators, sample

# (fixture, line, format, expected): ``expected`` holds ``time`` (ms), ``host``, ``ip`` (device),
# ``indicators`` (a subset), and dotted evidence paths with the values they must hold (a subset).
OCSF: list[tuple[str, int, dict[str, Any]]] = [
    (
        "aws-security-hub-1.0.0-rc.2.json",  # 2001, schema 1.0.0-rc.2, `finding` object
        1,
        {
            "time": 1659636559100,
            "uid": "test",
            "title": "EC2.19 Security groups should not allow unrestricted access to ports with high risk",
            "process.file.path": ["/usr/sbin/syslogd"],
            "file.path": ["/usr/sbin/stringler"],
            "malware.name": ["Stringler"],
        },
    ),
    (
        "aws-guardduty-1.1.0.json",  # 2004, times only as *_dt strings
        1,
        {
            "title": "AWS CloudTrail trail arn:aws:cloudtrail:us-east-2:111111111111:trail/delete-me"
            " was disabled.",
            "indicators": {("ipv4", "52.94.133.131")},
            "src_endpoint.ip": ["52.94.133.131"],
            "api.operation": ["DeleteTrail"],
        },
    ),
    (
        "falco.json",  # 2001, metadata.version 0.1.0
        1,
        {"time": 1672758699558, "title": "Linux Kernel Module Injection Detected", "severity": 3},
    ),
    (
        "qradar-offense.json",  # 2001, metadata.version is QRadar's own 7.5.0
        1,
        {
            "time": 1682347463218,
            "uid": "591",
            "indicators": {("ipv4", "99.99.99.99"), ("ipv4", "88.88.88.88"), ("ipv4", "77.77.77.77")},
        },
    ),
    (
        "okta-detection-finding-1.3.0.json",  # `time` in seconds: 2024-08-13T15:58:20Z, not 1970
        1,
        {"time": 1723564700000, "title": "Login Failures", "src_endpoint.ip": ["10.0.0.1"]},
    ),
    *(
        (
            "securityscorecard-malware-1.0.0.json",  # 2001, observables with type_id -1
            n,
            {"time": 1668535199944 + n, "indicators": found},
        )
        for n, found in (
            (1, {("ipv4", "1.183.190.110"), ("domain", "open-internet.nl")}),
            (2, {("ipv4", "59.11.81.231")}),
            (3, {("ipv4", "190.109.227.80"), ("domain", "open.kickasstracker.com")}),
            (4, {("ipv4", "38.7.186.198")}),
        )
    ),
]

SURICATA: list[tuple[str, int, dict[str, Any]]] = [
    (
        "suricata/suricata-docs-lefthook-to-client.json",
        1,
        {
            "time": 1695017621532,
            "ip": "192.168.100.237",
            "indicators": {("ipv4", "142.11.240.191"), ("url", "http://142.11.240.191:35361/")},
            "dst_endpoint.port": [35361],
            "traffic.bytes_in": [8044],
        },
    ),
    (
        "suricata/beats-eve-alerts.ndjson",
        1,
        {
            "time": 1538577764836,
            "ip": "192.168.1.146",
            "indicators": {
                ("domain", "example.net"),
                ("ipv4", "93.184.216.34"),
                ("url", "http://example.net/"),
            },
            "http_request.user_agent": ["curl/7.58.0"],
        },
    ),
    (
        "suricata/beats-eve-alerts.ndjson",
        2,
        {
            "ip": "192.168.1.146",
            "indicators": {
                ("url", "http://security.ubuntu.com/ubuntu/dists/bionic-security/InRelease"),
                ("ipv4", "91.189.88.152"),
            },
        },
    ),
    (
        "suricata/beats-eve-alerts.ndjson",
        3,
        {"indicators": {("url", "http://archive.ubuntu.com/ubuntu/dists/bionic/InRelease")}},
    ),
    (
        "suricata/beats-eve-alerts.ndjson",  # server-to-client, no direction field: the well-known port
        4,
        {
            "time": 1611707291488,
            "ip": "10.31.64.240",
            "indicators": {("url", "http://testmynids.org/uid/index.html"), ("ipv4", "81.2.69.143")},
        },
    ),
    (
        "suricata/beats-eve-alerts.ndjson",
        5,
        {"ip": "192.168.86.85", "indicators": {("domain", "l2.io")}, "dst_endpoint.hostname": ["l2.io"]},
    ),
    (
        "suricata/beats-eve-alerts.ndjson",  # metadata mitre_attack t1190
        6,
        {"ip": "10.31.64.240", "techniques": ["T1190"], "indicators": {("ipv4", "81.2.69.143")}},
    ),
    (
        "suricata-eve-docs-example.json",
        1,
        {"time": 1491600277251, "ip": "192.168.2.14", "indicators": {("ipv4", "209.53.113.5")}},
    ),
]

WAZUH: list[tuple[str, int, dict[str, Any]]] = [
    (
        "wazuh/hunterstrike-alerts.ndjson",  # sshd brute force
        1,
        {"host": "ubuntu-doddy", "indicators": {("ipv4", "103.118.105.66"), ("account", "daysky")}},
    ),
    (
        "wazuh/hunterstrike-alerts.ndjson",  # Sysmon 1: net user administrator
        2,
        {
            "process.file.path": [r"C:\Windows\SysWOW64\net.exe"],
            "process.cmd_line": ["net user administrator"],
            "indicators": {("sha256", "7c4c7725e266f12aba8c50fd1598d4001201bca0e7aca901508307e365afff42")},
        },
    ),
    (
        "wazuh/hunterstrike-alerts.ndjson",  # 4625 logon failures
        3,
        {"src_endpoint.ip": ["192.168.80.13"], "user.name": ["Bluecheap"], "data.logon_type": ["3"]},
    ),
    (
        "wazuh/hunterstrike-alerts.ndjson",  # 92657 pass-the-hash logon
        4,
        {
            "time": 1755072874891,
            "host": "DESKTOP-RL1K13Q",
            "ip": "192.168.80.9",
            "indicators": {("account", r"DESKTOP-RL1K13Q\Bluecheap")},
            "src_endpoint.ip": ["192.168.80.13"],
            "src_endpoint.hostname": ["DESKTOP-BRGFJOG"],
            "data.authentication_package": ["NTLM"],
            "techniques": ["T1550", "T1550.002", "T1078", "T1078.002", "T1021", "T1021.001"],
        },
    ),
    (
        "wazuh/hunterstrike-alerts.ndjson",  # Sysmon 11: script dropped in Temp
        5,
        {"file.path": [r"C:\Users\Bluecheap\AppData\Local\Temp\__PSScriptPolicyTest_41oo55w2.ixb.ps1"]},
    ),
    (
        "wazuh/hunterstrike-alerts.ndjson",  # Sysmon 13: service ImagePath
        6,
        {
            "reg_value.path": [r"HKLM\System\CurrentControlSet\Services\MicrosoftEdgeElevationService"],
            "reg_value.name": ["ImagePath"],
        },
    ),
    (
        "wazuh/hunterstrike-alerts.ndjson",  # encoded PowerShell, Sysmon hashes
        7,
        {
            "indicators": {
                ("md5", "2e5a8590cf6848968fc23de3fa1e25f1"),
                ("sha256", "9785001b0dcf755eddb8af294a373c0b87b2498660f724e76c4d53f9c217c7a3"),
            },
            "process.user.name": [r"DESKTOP-RL1K13Q\Bluecheap"],
        },
    ),
    (
        "wazuh/hunterstrike-alerts.ndjson",  # Defender 1116
        8,
        {
            "malware.name": ["Behavior:Win32/Lockbit.AL"],
            "file.path": [r"C:\ProgramData\WinUpdateSvc\updater.exe"],
            "indicators": {("file_path", r"C:\ProgramData\WinUpdateSvc\updater.exe")},
        },
    ),
    ("wazuh/hunterstrike-alerts.ndjson", 9, {"malware.name": ["Behavior:Win32/Lockbit.AL"]}),
    (
        "wazuh/hunterstrike-alerts.ndjson",  # cmd /c reg query "…": Wazuh's \" and \\ undone
        10,
        {
            "process.cmd_line": [
                r'C:\Windows\system32\cmd.exe /c reg query "HKLM\Software\WOW6432Node\Npcap"'
                r' /ve 2&gt;nul | find "REG_SZ"'
            ]
        },
    ),
    (
        "wazuh/hunterstrike-alerts.ndjson",  # RDP logon
        11,
        {"indicators": {("account", r"DESKTOP-RL1K13Q\Bluecheap")}, "data.logon_type": ["10"]},
    ),
    (
        "wazuh/wazuh-indexer-sl-integration.ndjson",  # wrapped in _source
        2,
        {"time": 1708024054606, "host": "ubuntu2204", "indicators": {("account", "root")}},
    ),
    ("wazuh/wazuh-indexer-sl-integration.ndjson", 1, {"time": 1708023911486, "host": "localhost"}),
    ("wazuh-ssh-bruteforce.json", 1, {"indicators": {("ipv4", "45.155.205.233"), ("account", "admin")}}),
]

ELASTIC: list[tuple[str, int, dict[str, Any]]] = [
    (
        "elastic/kibana-8.1.0-threat-match-hit.json",  # a search hit (_index/_source)
        1,
        {"time": 1647658077376, "host": "security-linux-1", "ip": "11.200.0.194", "severity": 2},
    ),
    (
        "elastic/kibana-7.16.0-legacy-signal-hit.json",  # 7.x signal.* in a search hit
        1,
        {"time": 1648054232045, "host": "security-linux-1", "title": "threat-match-rule", "severity": 2},
    ),
    ("elastic-awk-breakout.json", 1, {"time": 1671791803160, "process.name": ["bash"]}),
    (
        "elastic/kibana-threat-match-7.17.0-8.0.0-hits.ndjson",  # 7.17 signal, `_type` in the hit
        1,
        {
            "time": 1647637824403,
            "host": "security-linux-3",
            "ip": "11.200.0.196",
            "uid": "7a6b11bce332d72f2c9183f2e6ce7c7c0b315d0c2b9bdd7be3da3baf7e07cdd6",
        },
    ),
    (
        "elastic/kibana-threat-match-7.17.0-8.0.0-hits.ndjson",  # 8.0 alert: what the indicator match matched
        2,
        {"time": 1647635659858, "host": "security-linux-2", "ip": "11.200.0.195", "severity": 2},
    ),
    *(
        (
            "elastic/kibana-legacy-cti-signals-hits.ndjson",  # 7.14 CTI signal on Auditbeat process data
            n,
            {
                "time": 1628050493490,
                "host": "elastic.local",
                "ip": "192.168.1.43",  # ten link-local IPv6 addresses are listed around it
                "indicators": {
                    ("account", "ryland"),
                    ("sha1", "5f3233fd75c14b315731684d59b632df36a731a6"),
                },
                "process.pid": [pid],
                "process.file.path": [
                    "/System/Library/Frameworks/CoreServices.framework/Frameworks/Metadata.framework"
                    "/Versions/A/Support/mdworker_shared"
                ],
            },
        )
        for n, pid in ((1, 32162), (2, 32306))
    ),
    (
        "elastic/osherjacobs-labwork-winlogbeat-hits.ndjson",  # Sysmon 1 via Winlogbeat
        1,
        {
            "time": 1774278339309,
            "host": "DC01.lab2019.local",
            "severity": 4,
            "process.file.path": [r"C:\Windows\SysWOW64\ipconfig.exe"],
            "process.parent_process.file.path": [r"C:\Windows\Tasks\CLMBypassa.exe"],
            "process.user.name": [r"LAB2019\Administrator"],
            "indicators": {
                ("md5", "b8cb2dfca7379908b0605331a759af4c"),
                ("sha256", "b0832dec07a4cb6228b7b392d6abafb79e9bf7327605ae3e86e1e617de7495a5"),
            },
        },
    ),
    (
        "elastic/osherjacobs-labwork-winlogbeat-hits.ndjson",  # 4768 PKINIT TGT for Administrator
        2,
        {
            "time": 1774944451757,
            "src_endpoint.ip": ["192.168.1.218"],  # logged IPv4-mapped, ::ffff:192.168.1.218
            "user.name": ["Administrator"],
            "indicators": {("account", r"LAB2019.LOCAL\Administrator")},
            "techniques": ["T1558", "T1550"],  # from the rule's Sigma-style tags
        },
    ),
    (
        "elastic/osherjacobs-labwork-winlogbeat-hits.ndjson",  # 4624 delegation logon of the DC account
        3,
        {
            "time": 1774944486320,
            "src_endpoint.ip": ["fe80::addd:81e2:2d02:4091"],
            "src_endpoint.hostname": [],  # WorkstationName "-"
            "user.name": ["DC01$"],
        },
    ),
    (
        "elastic/constructed-winlogbeat-hits.ndjson",  # Winlogbeat fields; link-local IPv6 listed first
        1,
        {
            "ip": "10.20.30.47",
            "process.file.path": [r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"],
            "process.parent_process.file.path": [
                r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE"
            ],
            "indicators": {
                ("url", "http://js.mykings.top:280/v.sct"),
                ("sha256", "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c"),
            },
        },
    ),
    (
        "elastic/constructed-winlogbeat-hits.ndjson",
        2,
        {
            "ip": "10.20.30.12",
            "src_endpoint.ip": ["45.155.205.233"],
            "indicators": {
                ("ipv4", "45.155.205.233"),
                ("file_path", r"C:\Users\Public\Libraries\msvcr110.dll"),
                ("sha256", "5f3a9c0d1b2e4f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"),
            },
        },
    ),
]

SYSMON_CASES: list[tuple[str, int, dict[str, Any]]] = [
    (
        "sysmon/sigmahq-regression.ndjson",
        1,
        {
            "uid": "ar-win-dc.attackrange.local:27619790",
            "reg_value.path": [r"HKLM\System\CurrentControlSet\Control\Print\Monitors\AtomicRedTeam"],
            "reg_value.data": [r"C:\AtomicRedTeam\atomics\T1547.010\bin\PortMonitor.dll"],
            "process.user.name": [r"ATTACKRANGE\Administrator"],
        },
    ),
    ("sysmon/sigmahq-regression.ndjson", 2, {"reg_value.name": ["AmsiEnable"]}),
    ("sysmon/sigmahq-regression.ndjson", 3, {"reg_value.name": ["(Default)"]}),
    (
        "sysmon/sigmahq-regression.ndjson",
        4,
        {"indicators": {("file_path", r"C:\Users\Administrator\Downloads\procdump64.exe")}},
    ),
    ("sysmon/sigmahq-regression.ndjson", 5, {"file.path": [r"C:\evil.doc.lnk"]}),
    (
        "sysmon/sigmahq-regression.ndjson",
        6,
        {"file.path": [r"C:\Users\ADMINI~1\AppData\Local\Temp\Advanced IP Scanner 2\platforms\qwindows.dll"]},
    ),
    (
        "sysmon/sigmahq-regression.ndjson",  # image load: the DLL side-loaded from Temp, with its hashes
        7,
        {
            "file.path": [r"C:\Users\xodih\AppData\Local\Temp\vcruntime140.dll"],
            "indicators": {("sha256", "e7801d25e1a0aa8ffa929d76c31cc604bbb2404f7b8396f0bf3de325e034e257")},
        },
    ),
    (
        "sysmon/sigmahq-regression.ndjson",
        8,
        {
            "uid": "ar-win-1:256890",
            "indicators": {("registry_value", r"HKCU\SOFTWARE\Microsoft\Windows\CurrentVersion\Run")},
        },
    ),
    ("sysmon/sigmahq-regression.ndjson", 9, {"indicators": {("ipv4", "17.12.0.1")}}),
    ("sysmon/sigmahq-regression.ndjson", 10, {"process.file.path": [r"C:\Windows\System32\schtasks.exe"]}),
    (
        "sysmon/ocsf-examples-sysmon-evtx.ndjson",
        1,
        {
            "uid": "DESKTOP-2KGM189:1889",
            "indicators": {("sha256", "9f7ebb79def0bf8cccb5a902db11746375af3fe618355fe5a69c69e4bcd50ac9")},
        },
    ),
    (
        "sysmon/ocsf-examples-sysmon-evtx.ndjson",  # network connection
        2,
        {"indicators": {("ipv4", "185.26.182.117")}, "dst_endpoint.ip": ["185.26.182.117"]},
    ),
    (
        "sysmon/ocsf-examples-sysmon-evtx.ndjson",
        3,
        {"file.path": [r"C:\Windows\SoftwareDistribution\Download\Install\AM_Delta.exe"]},
    ),
    (
        "sysmon/ocsf-examples-sysmon-evtx.ndjson",  # \REGISTRY\MACHINE\… read as HKLM\…
        4,
        {
            "reg_value.path": [r"HKLM\SYSTEM\ControlSet001\Services\MpKsle59912eb"],
            "reg_value.name": ["Start"],
        },
    ),
]


def _check(raw: Any, expected: dict[str, Any], fmt: Format | None = None, **kwargs: Any) -> None:
    normalized = normalize(raw, "demo", **kwargs)
    alert = normalized.alert
    if fmt is not None:
        assert normalized.format is fmt
    facts = {
        "time": alert.time,
        "host": alert.hostname,
        "ip": alert.device.ip if alert.device else None,
        "uid": alert.source_uid,
        "title": alert.finding_info.title,
        "severity": alert.severity_id,
        "techniques": alert.techniques(),
    }
    for key, value in expected.items():
        if key == "indicators":
            assert value <= indicators(alert), sorted(indicators(alert))
        elif key in facts:
            assert facts[key] == value, (key, facts[key])
        else:
            assert evidence(alert, key) == value, (key, alert.evidences)


@pytest.mark.parametrize(("name", "line", "expected"), OCSF, ids=[f"{n}:{line}" for n, line, _ in OCSF])
def test_real_ocsf_findings_are_accepted_with_their_evidence(name: str, line: int, expected: dict) -> None:
    _check(sample(f"ocsf/{name}", line), expected, Format.OCSF)


def test_a_finding_naming_the_sources_own_tenant_is_accepted() -> None:
    # Prowler writes the AWS organisation in metadata.tenant_uid: the source's tenant, not a Garrison one.
    normalized = normalize(sample("ocsf/prowler-1.3.0.json"), "demo", other_tenants={"acme"})

    assert normalized.alert.tenant == "demo"
    source_tenant = normalized.document["metadata"]["source_tenant_uid"]
    assert source_tenant == sample("ocsf/prowler-1.3.0.json")["metadata"]["tenant_uid"]
    assert normalized.alert.time == 1728049742000


def test_a_finding_naming_another_garrison_tenant_is_refused() -> None:
    from flows.normalize import TenantMismatch

    document = {**sample("ocsf/prowler-1.3.0.json")}
    document["metadata"] = {**document["metadata"], "tenant_uid": "acme"}

    with pytest.raises(TenantMismatch, match="names tenant 'acme'"):
        normalize(document, "demo", other_tenants={"acme"})
    # Not told which tenants exist, normalize refuses any other tenant.
    with pytest.raises(TenantMismatch):
        normalize(sample("ocsf/prowler-1.3.0.json"), "demo")


@pytest.mark.parametrize(
    ("name", "line", "expected"), SURICATA, ids=[f"{n}:{line}" for n, line, _ in SURICATA]
)
def test_real_suricata_alerts_keep_their_evidence(name: str, line: int, expected: dict) -> None:
    _check(sample(name, line), expected, Format.SURICATA)


@pytest.mark.parametrize(("name", "line", "expected"), WAZUH, ids=[f"{n}:{line}" for n, line, _ in WAZUH])
def test_real_wazuh_alerts_keep_their_evidence(name: str, line: int, expected: dict) -> None:
    _check(sample(name, line), expected, Format.WAZUH)


@pytest.mark.parametrize(("name", "line", "expected"), ELASTIC, ids=[f"{n}:{line}" for n, line, _ in ELASTIC])
def test_real_elastic_alerts_keep_their_evidence(name: str, line: int, expected: dict) -> None:
    _check(sample(name, line), expected, Format.ELASTIC)


@pytest.mark.parametrize(
    ("name", "line", "expected"), SYSMON_CASES, ids=[f"{n}:{line}" for n, line, _ in SYSMON_CASES]
)
def test_real_sysmon_events_keep_their_evidence_through_a_mapping(
    name: str, line: int, expected: dict
) -> None:
    _check(sample(name, line), expected, Format.GENERIC, mapping=SYSMON)
