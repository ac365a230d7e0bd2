"""A third source of real OCSF findings (issue 16): the Detection Findings (class 2004, OCSF 1.1.0) that
Amazon Security Lake writes for Security Hub findings of GuardDuty, IAM Access Analyzer and Macie, as AWS
publishes them in aws-samples/amazon-security-lake-ocsf-validation (tests/fixtures/alerts/ocsf/ORIGIN.txt)
— each accepted with the evidence an analyst needs, and what their mapping showed lost."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flows.normalize import Format, conformance, normalize

from ._samples import evidence, indicators, sample
from .test_real_alerts import _check

SECURITY_LAKE = "ocsf/aws-security-lake-detection-findings-1.1.0.ndjson"
# A process hash as GuardDuty Runtime Monitoring reports it (here the EICAR test file's SHA-256).
EICAR_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

CASES: list[tuple[int, dict[str, Any]]] = [
    (
        1,  # GuardDuty Runtime Monitoring: a process on an EC2 instance querying DGA domains
        {
            "time": 1698770802685,
            "title": "DGA domain name queried by EC2 instance i-99999999.",
            "severity": 4,
            "uid": "arn:aws:EXAMPLE",
            "process.name": ["GeneratedFindingProcessName"],
            "process.pid": [1234],
            "process.user.name": ["ec2-user"],
            "process.file.path": ["GeneratedFindingPath/blah.exe"],
            "process.cmd_line": ["GeneratedFindingCommandLine"],
            "query.hostname": ["GeneratedFindingSLDwithTLD"],
            "connection_info.protocol_name": ["UDP"],
            "connection_info.direction": ["Outbound"],
        },
    ),
    (
        2,  # IAM Access Analyzer: a role another account may assume
        {
            "time": 1700078913783,
            "title": "AwsIamRole/arn:aws:EXAMPLE",
            "severity": 2,
            "uid": "arn:aws:EXAMPLE",
            "techniques": [],
        },
    ),
    (
        3,  # Macie: personal data in an S3 object
        {
            "time": 1677952575715,
            "title": "The S3 object contains personal information.",
            "severity": 2,
            "uid": "3ca5234aa7bc4f19ce1afdb1c1648998",
        },
    ),
]


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[f"{SECURITY_LAKE}:{n}" for n, _ in CASES])
def test_security_lakes_detection_findings_keep_their_evidence(line: int, expected: dict) -> None:
    _check(sample(SECURITY_LAKE, line), expected, Format.OCSF)


def test_the_guardduty_findings_placeholders_are_no_indicators() -> None:
    # GuardDuty's generated finding names a process and a domain by placeholder ("GeneratedFinding…").
    alert = normalize(sample(SECURITY_LAKE, 1), "demo").alert

    assert indicators(alert) == set()
    assert evidence(alert, "process.file.hashes") == []  # its "GeneratedFindingHash" is no hash


@pytest.mark.parametrize(
    ("line", "types", "kept"),
    [
        (
            1,
            ["TTPs/Command and Control/Trojan:Runtime-DGADomainRequest.C!DNS"],
            "finding_info.src_url",
        ),
        (
            2,
            ["Software and Configuration Checks/AWS Security Best Practices/External Access Granted"],
            "remediation",
        ),
        (3, ["Sensitive Data Identifications/PII/SensitiveData:S3Object-Personal"], "resources"),
    ],
)
def test_the_finding_type_the_console_link_and_the_affected_resources_are_kept(
    line: int, types: list[str], kept: str
) -> None:
    raw = sample(SECURITY_LAKE, line)
    document = normalize(raw, "demo").document

    assert normalize(raw, "demo").alert.finding_info.types == types
    holder, _, key = kept.rpartition(".")
    assert (document[holder] if holder else document)[key] == (raw[holder] if holder else raw)[key]
    assert document["resources"] == raw["resources"] and document["cloud"] == raw["cloud"]


def test_the_external_account_and_the_s3_object_stay_in_the_stored_finding() -> None:
    access = normalize(sample(SECURITY_LAKE, 2), "demo").document
    macie = normalize(sample(SECURITY_LAKE, 3), "demo").document

    assert '"External Principal":"054693081941"' in access["resources"][0]["data"]
    assert '"Action Granted":"sts:AssumeRole"' in access["resources"][0]["data"]
    assert [r["type"] for r in macie["resources"]] == ["AwsS3Bucket", "AwsS3Object"]


# -- regressions shown by these samples -------------------------------------------------------------------


def test_a_security_hub_ttp_type_gives_the_attack_tactic() -> None:
    # Lost before: Security Lake copies "TTPs/Command and Control/…" into types and writes no attacks.
    alert = normalize(sample(SECURITY_LAKE, 1), "demo").alert

    assert alert.tactics() == ["TA0011", "Command and Control"]
    assert normalize(sample(SECURITY_LAKE, 3), "demo").alert.tactics() == []


@pytest.mark.parametrize(
    ("types", "attacks", "tactics"),
    [
        (["TTPs/Data Exfiltration/x", "TTPs", "TTPs/", "TTPs//T1059"], None, []),  # no ATT&CK tactic named
        (
            ["TTPs/Discovery/a", "TTPs/discovery/b", "TTPs/Initial Access/c"],
            None,
            ["TA0007", "Discovery", "TA0001", "Initial Access"],
        ),
        (["TTPs/Discovery/a"], [{"tactic": {"uid": "TA0040", "name": "Impact"}}], ["TA0040", "Impact"]),
    ],
    ids=["not-a-tactic", "each-tactic-once", "the-senders-attacks-win"],
)
def test_tactics_are_read_only_from_attack_tactic_names(
    types: list[Any], attacks: list[dict[str, Any]] | None, tactics: list[str]
) -> None:
    raw = sample(SECURITY_LAKE, 3)
    raw["finding_info"]["types"] = types
    if attacks is not None:
        raw["finding_info"]["attacks"] = attacks

    assert normalize(raw, "demo").alert.tactics() == tactics


def test_the_process_hash_security_lake_leaves_in_unmapped_joins_the_process() -> None:
    # Constructed from the GuardDuty sample: a real finding carries the executable's SHA-256 there.
    raw = sample(SECURITY_LAKE, 1)
    raw["unmapped"]["ProductFields.aws/guardduty/service/runtimeDetails/process/executableSha256"] = (
        EICAR_SHA256.upper()
    )
    sent = copy.deepcopy(raw)

    alert = normalize(raw, "demo").alert

    assert ("sha256", EICAR_SHA256) in indicators(alert)
    assert evidence(alert, "process.file.hashes.value") == [EICAR_SHA256]
    assert evidence(alert, "process.file.path") == ["GeneratedFindingPath/blah.exe"]
    assert raw == sent  # the sender's finding is not changed


def test_a_process_hash_the_sender_gave_is_not_replaced() -> None:
    raw = sample(SECURITY_LAKE, 1)
    raw["unmapped"]["ProductFields.aws/guardduty/service/runtimeDetails/process/executableSha256"] = "a" * 64
    raw["evidences"][0]["process"]["file"]["hashes"] = [{"algorithm_id": 3, "value": EICAR_SHA256}]

    alert = normalize(raw, "demo").alert

    assert evidence(alert, "process.file.hashes.value") == [EICAR_SHA256]


def test_the_check_report_names_what_triage_does_not_read() -> None:
    report = conformance(sample(SECURITY_LAKE, 1), "demo")

    assert report.error is None and report.format == "ocsf"
    assert {"finding_info", "evidences", "time"} <= set(report.understood)
    # The affected resources and the cloud account are read now; `unmapped` stays aside.
    assert {"resources", "cloud"} <= set(report.understood) and "unmapped" in report.ignored
    assert "process.user.name" in report.evidence


def test_only_the_first_process_takes_the_unmapped_hash() -> None:
    raw = sample(SECURITY_LAKE, 1)
    raw["unmapped"]["ProductFields.aws/guardduty/service/runtimeDetails/process/executableSha256"] = "b" * 64
    given = {"algorithm_id": 3, "value": EICAR_SHA256}
    raw["evidences"][0]["process"]["file"]["hashes"] = [given]
    raw["evidences"].append({"process": {"name": "other", "file": {"path": "/tmp/other"}}})

    alert = normalize(raw, "demo").alert

    assert evidence(alert, "process.file.hashes.value") == [EICAR_SHA256]
