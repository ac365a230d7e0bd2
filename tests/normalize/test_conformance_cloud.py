"""`garrison ingest --check` on cloud findings: the affected resources and the account are read, listed
per record, and no longer reported as ignored."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.normalize import Conformance, conformance
from flows.settings import Settings
from flows.store import Store

from ._samples import ALERTS, sample

runner = CliRunner()
LAKE = "ocsf/aws-security-lake-detection-findings-1.1.0.ndjson"
# Every OCSF sample that names resources or a cloud account, and each record of it.
CLOUD_SAMPLES = [
    ("ocsf/aws-security-hub-1.0.0-rc.2.json", 1),
    ("ocsf/aws-guardduty-1.1.0.json", 1),
    (LAKE, 1),
    (LAKE, 2),
    (LAKE, 3),
    ("ocsf/prowler-1.3.0.json", 1),
    ("ocsf/okta-detection-finding-1.3.0.json", 1),
    *[("ocsf/securityscorecard-malware-1.0.0.json", n) for n in range(1, 5)],
]


def _check(name: str, line: int = 1) -> Conformance:
    raw = sample(name, line)
    # The source's own tenant (Prowler's AWS organisation) is the tenant --check assumes without --tenant.
    return conformance(raw, raw["metadata"].get("tenant_uid") or "demo")


@pytest.mark.parametrize(("name", "line"), CLOUD_SAMPLES, ids=[f"{n}:{line}" for n, line in CLOUD_SAMPLES])
def test_resources_and_cloud_are_understood_not_ignored(name: str, line: int) -> None:
    raw = sample(name, line)
    report = _check(name, line)

    assert report.error is None
    assert not {"resources", "cloud"} & set(report.ignored)
    assert {"resources", "cloud"} & set(raw) <= set(report.understood)
    assert report.resources  # each of them names at least one


def test_security_hubs_record_lists_the_security_group_and_the_account() -> None:
    report = _check("ocsf/aws-security-hub-1.0.0-rc.2.json")

    assert report.resources == [
        "type=AwsEc2SecurityGroup"
        " uid=arn:aws:ec2:us-east-1:522536594833:security-group/sg-0daf160f08dfed499 region=us-east-1"
    ]
    assert report.cloud == "provider=AWS region=us-east-1 account_uid=522536594833"


def test_prowlers_record_lists_the_certificate_and_the_named_account_in_its_organisation() -> None:
    report = _check("ocsf/prowler-1.3.0.json")

    assert report.resources == [
        "type=AwsCertificateManagerCertificate name=e4dc1386-8b4b-402c-9fed-03269ee10006"
        " uid=arn:aws:acm:eu-west-1:111122223333:certificate/e4dc1386-8b4b-402c-9fed-03269ee10006"
        " region=eu-west-1"
    ]
    assert report.cloud == (
        "provider=aws region=eu-west-1 account_uid=111122223333 account_name=test org=o-kq5l91lawd"
    )
    # Resources are shown, never made hosts (the hosts are what containment acts on).
    assert report.hosts == []


def test_security_lakes_records_list_each_resource_and_the_owning_account() -> None:
    runtime, analyzer, macie = (_check(LAKE, n) for n in (1, 2, 3))

    assert [r.split(" ")[0] for r in runtime.resources] == [
        "type=AwsEc2Instance",
        "type=AwsEksCluster",
        "type=Container",
    ]
    assert analyzer.resources == ["type=AwsIamRole uid=arn:aws:EXAMPLE account_uid=arn:aws:EXAMPLE"]
    assert [r.split(" ")[0] for r in macie.resources] == ["type=AwsS3Bucket", "type=AwsS3Object"]
    assert runtime.cloud == "provider=AWS region=us-east-2 account_uid=arn:aws:EXAMPLE"


def test_a_finding_without_cloud_data_lists_none() -> None:
    report = _check("ocsf/falco.json")

    assert (report.resources, report.cloud, report.error) == ([], None, None)


def test_hostile_resources_and_cloud_are_reported_bounded_and_the_record_accepted() -> None:
    raw = sample("ocsf/okta-detection-finding-1.3.0.json")
    raw["resources"] = [{"uid": f"i-{n}\n", "type": {"x": 1}} for n in range(10_000)]
    raw["cloud"] = "aws"

    report = conformance(raw, "demo")

    assert report.error is None and len(report.resources) == 32
    assert report.resources[0] == "uid=i-0" and report.cloud is None
    assert {"resources", "cloud"} <= set(report.understood)


def test_ingest_check_json_carries_resources_and_account_for_every_record(
    settings: Settings, store: Store
) -> None:
    files = [str(ALERTS / LAKE), str(ALERTS / "ocsf" / "prowler-1.3.0.json")]

    result = runner.invoke(app, ["ingest", "--check", *files, "--json"])

    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)["records"]
    assert [len(r["resources"]) for r in records] == [3, 1, 2, 1]
    assert all(r["cloud"] and not {"resources", "cloud"} & set(r["ignored"]) for r in records)
    assert store.incidents() == []
