"""Cloud findings keep what was hit and whose account it was: the alert reads OCSF ``resources[]`` and
``cloud`` from real emitters (Security Hub, GuardDuty, Security Lake, Prowler, Okta, SecurityScorecard) and
survives any shape a hostile sender gives them, without refusing the alert for it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from flows.demo import mykings_alert
from flows.models import Alert, IndicatorType
from flows.normalize import normalize

OCSF = Path(__file__).parents[1] / "fixtures" / "alerts" / "ocsf"
LAKE = "aws-security-lake-detection-findings-1.1.0.ndjson"


def _real(name: str, line: int = 1) -> Alert:
    text = (OCSF / name).read_text(encoding="utf-8")
    if name.endswith(".ndjson"):
        raw = json.loads(text.splitlines()[line - 1])
    else:
        loaded = json.loads(text)
        raw = loaded[line - 1] if isinstance(loaded, list) else loaded
    # Prowler names its AWS organisation as tenant: a source's tenant, kept aside by normalize.
    return normalize(raw, "demo", other_tenants={"acme"}).alert


def _resources(alert: Alert) -> list[dict[str, Any]]:
    return [r.model_dump(exclude_none=True) for r in alert.affected_resources()]


def _account(alert: Alert) -> dict[str, Any] | None:
    found = alert.cloud_account()
    return found.model_dump(exclude_none=True) if found else None


def test_security_hub_1_0_rc2_names_the_security_group_and_the_old_account_uid() -> None:
    alert = _real("aws-security-hub-1.0.0-rc.2.json")

    assert _resources(alert) == [
        {
            "type": "AwsEc2SecurityGroup",
            "uid": "arn:aws:ec2:us-east-1:522536594833:security-group/sg-0daf160f08dfed499",
            "region": "us-east-1",
        }
    ]
    # 1.0.0-rc.2 writes cloud.account_uid, not cloud.account.uid.
    assert _account(alert) == {"provider": "AWS", "region": "us-east-1", "account_uid": "522536594833"}


def test_guardduty_via_security_hub_names_the_access_key() -> None:
    alert = _real("aws-guardduty-1.1.0.json")

    assert _resources(alert) == [
        {"type": "AwsIamAccessKey", "uid": "AWS::IAM::AccessKey:ASIATMJPC7EXAMPLE", "region": "us-east-2"}
    ]
    assert _account(alert) == {"provider": "AWS", "region": "us-east-2", "account_uid": "111111111111"}


def test_security_lake_runtime_monitoring_names_instance_cluster_and_container() -> None:
    alert = _real(LAKE, 1)

    assert [(r.type, r.uid, r.region) for r in alert.affected_resources()] == [
        ("AwsEc2Instance", "arn:aws:EXAMPLE", "us-east-2"),
        ("AwsEksCluster", "arn:aws:EXAMPLE", "us-east-2"),
        ("Container", "GeneratedFindingContainerId", "us-east-2"),
    ]
    assert _account(alert) == {"provider": "AWS", "region": "us-east-2", "account_uid": "arn:aws:EXAMPLE"}
    # No device: the instance is shown, never made the host that containment acts on.
    assert alert.device is None and alert.hostname is None


def test_security_lake_access_analyzer_reads_the_roles_owning_account() -> None:
    alert = _real(LAKE, 2)

    assert _resources(alert) == [
        {"type": "AwsIamRole", "uid": "arn:aws:EXAMPLE", "account_uid": "arn:aws:EXAMPLE"}
    ]


def test_security_lake_macie_names_the_bucket_and_the_object() -> None:
    alert = _real(LAKE, 3)

    assert [r.type for r in alert.affected_resources()] == ["AwsS3Bucket", "AwsS3Object"]
    # ``data`` is Security Lake's text ("AwsS3Bucket={…}"): kept in the document, not interpreted.
    assert all("{" not in (r.label + (r.type or "")) for r in alert.affected_resources())


def test_prowler_names_the_certificate_the_account_by_name_and_the_organisation() -> None:
    alert = _real("prowler-1.3.0.json")

    assert _resources(alert) == [
        {
            "type": "AwsCertificateManagerCertificate",
            "name": "e4dc1386-8b4b-402c-9fed-03269ee10006",
            "uid": "arn:aws:acm:eu-west-1:111122223333:certificate/e4dc1386-8b4b-402c-9fed-03269ee10006",
            "region": "eu-west-1",
        }
    ]
    assert _account(alert) == {
        "provider": "aws",
        "region": "eu-west-1",
        "account_uid": "111122223333",
        "account_name": "test",
        "org": "o-kq5l91lawd",
    }


def test_okta_names_the_application_by_name_only() -> None:
    alert = _real("okta-detection-finding-1.3.0.json")

    assert _resources(alert) == [{"name": "/app/office365/1111111111/sso/wsfed/active"}]
    assert alert.affected_resources()[0].label == "/app/office365/1111111111/sso/wsfed/active"
    assert _account(alert) is None


def test_securityscorecard_names_the_infected_address_and_its_string_owner_is_no_account() -> None:
    alert = _real("securityscorecard-malware-1.0.0.json", 2)

    [resource] = alert.affected_resources()
    assert resource.uid == "59.11.81.231" and resource.account_uid is None  # owner is "krnic.or.kr"
    assert (resource.name or "").startswith("IPv4 address 59.11.81.231 of device")


def test_no_resource_or_account_becomes_an_indicator() -> None:
    # An ARN or an account id is no network indicator; the address SecurityScorecard lists as the
    # infected device is one only where its observables say so.
    for alert in (_real("prowler-1.3.0.json"), _real(LAKE, 2), _real("aws-guardduty-1.1.0.json")):
        values = {i.value for i in alert.indicators()}
        assert not {"111122223333", "111111111111", "arn:aws:EXAMPLE"} & values
        assert not any(v.startswith("arn:") for v in values)
    assert all(i.type is not IndicatorType.ACCOUNT for i in _real("prowler-1.3.0.json").indicators())


# ---- hostile shapes: bounded, never a crash, never a refusal of the alert ----


def _with(**extra: Any) -> Alert:
    document = copy.deepcopy(mykings_alert())
    document.update(extra)
    return Alert.model_validate(document)


@pytest.mark.parametrize(
    "resources",
    [
        "AwsEc2Instance=i-0abc",
        42,
        None,
        {"uid": "i-0abc"},
        [None, 1, "x", [], [{"uid": "nested"}]],
        [{"uid": {"$gt": ""}, "name": ["a"], "type": 7, "region": {"x": 1}}],
        [{"uid": "", "name": "   "}],
        [{"type": "AwsEc2Instance", "region": "us-east-1"}],  # neither uid nor name: nothing to point at
    ],
    ids=["string", "number", "null", "object", "junk-items", "junk-values", "blank", "unnamed"],
)
def test_resources_of_no_usable_shape_are_ignored(resources: Any) -> None:
    alert = _with(resources=resources)

    assert alert.affected_resources() == []
    assert alert.indicators()  # the rest of the alert is read as before


def test_ten_thousand_resources_are_read_up_to_the_bound() -> None:
    from flows.models import MAX_RESOURCES

    many = [{"uid": f"i-{n:017x}", "type": "AwsEc2Instance"} for n in range(10_000)]

    resources = _with(resources=many).affected_resources()

    assert [r.uid for r in resources] == [f"i-{n:017x}" for n in range(MAX_RESOURCES)]


def test_repeated_resources_are_listed_once() -> None:
    same = {"uid": "i-0abc", "type": "AwsEc2Instance", "region": "eu-west-1"}

    assert len(_with(resources=[same, dict(same), same]).affected_resources()) == 1


def test_resource_values_are_one_line_and_over_long_ones_are_dropped_not_cut() -> None:
    alert = _with(
        resources=[
            {
                "uid": "i-0abc\r\nBcc: evil@example.com\x1b[31m",
                "name": "x" * 5000,
                "type": "Aws\u2028Ec2Instance",
                "region": "r" * 65,
                "owner": {"account": {"uid": 123456789012}},
            },
            {"uid": "arn:aws:iam::1:role/a", "owner": {"account_uid": "210987654321"}},
            {"uid": "arn:aws:iam::1:role/b", "owner": "evil-corp"},
            {"name": "invoice\u202efdp.exe\u200b"},
        ]
    )

    first, second, third, fourth = alert.affected_resources()
    assert first.model_dump() == {
        "type": "Aws Ec2Instance",
        "name": None,  # 5000 characters: dropped
        "uid": "i-0abc Bcc: evil@example.com [31m",
        "region": None,  # no region is 65 characters long
        "account_uid": "123456789012",  # a number, as some mappings write account ids
    }
    assert second.account_uid == "210987654321"  # OCSF 1.0's owner.account_uid
    assert third.account_uid is None
    assert fourth.name == "invoice fdp.exe"  # no bidi override, no zero-width character


@pytest.mark.parametrize(
    "cloud",
    ["aws", 1, [], None, {}, {"account": "123", "org": "o-1", "provider": {"name": "AWS"}, "region": True}],
    ids=["string", "number", "list", "null", "empty", "junk-values"],
)
def test_a_cloud_of_no_usable_shape_names_no_account(cloud: Any) -> None:
    assert _with(cloud=cloud).cloud_account() is None


def test_a_cloud_project_stands_for_the_account_and_a_booleans_is_no_id() -> None:
    gcp = _with(cloud={"provider": "GCP", "project_uid": "my-project", "account": {"uid": True}})

    assert _account(gcp) == {"provider": "GCP", "account_uid": "my-project"}


def test_an_alert_without_resources_dumps_as_before() -> None:
    # Reading resources and cloud adds no model field: an alert without them dumps (and so hashes, when
    # the sender gave no uid) exactly as it did; one with them keeps them as sent.
    plain = Alert.model_validate(mykings_alert())
    cloudy = _with(resources=[{"uid": "i-1", "junk": {"a": [1]}}], cloud="aws")

    assert not {"resources", "cloud"} & set(plain.model_dump())
    assert cloudy.model_dump()["resources"] == [{"uid": "i-1", "junk": {"a": [1]}}]
    assert cloudy.model_dump()["cloud"] == "aws"
