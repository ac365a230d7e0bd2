"""The incident report of a cloud finding names the affected cloud resources and the account, in every
channel and language, made inert like every other value from an alert; a report of an alert without them
is as it was (the golden files of tests/notify/golden/full and bare do not change).

The golden files of tests/notify/golden/cloud are the report of Prowler's real finding
(tests/fixtures/alerts/ocsf/prowler-1.3.0.json); ``GARRISON_UPDATE_GOLDEN=1`` rewrites them."""

from __future__ import annotations

import copy
import html
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows.demo import mykings_alert
from flows.models import Alert
from flows.normalize import normalize
from flows.notify import CHANNELS, incident_context, render_channel
from flows.settings import get_settings
from flows.store import IncidentView, Store
from flows.tenants import NotifyTarget, Tenant

OCSF = Path(__file__).parents[1] / "fixtures" / "alerts" / "ocsf"
GOLDEN = Path(__file__).parent / "golden" / "cloud"
UPDATE = os.environ.get("GARRISON_UPDATE_GOLDEN") == "1"
LANGUAGES = ("en", "zh-TW", "ja")
RECEIVED = datetime(2024, 10, 4, 14, 0, tzinfo=UTC)
TENANT = Tenant(id="demo", name="Demo Customer Ltd.", notify=[NotifyTarget(url="outbox://demo")])
PROWLER_ARN = "arn:aws:acm:eu-west-1:111122223333:certificate/e4dc1386-8b4b-402c-9fed-03269ee10006"


@pytest.fixture(autouse=True)
def _console_on_its_default_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GARRISON_PREFECT_PORT", "4200")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _raw(name: str, line: int = 1) -> dict[str, Any]:
    text = (OCSF / name).read_text(encoding="utf-8")
    loaded = json.loads(text.splitlines()[line - 1] if name.endswith(".ndjson") else text)
    return dict(loaded)


def _incident(store: Store, raw: dict[str, Any]) -> tuple[IncidentView, Alert]:
    normalized = normalize(raw, "demo", other_tenants={"acme"})
    receipt = store.record_alert(normalized.alert, normalized.document)
    incident = store.incident(receipt.incident_id)
    assert incident is not None
    # Fixed id and times: the store writes the clock's time and a random id.
    pinned = incident.model_copy(
        update={
            "id": "3f0a9c1e-2b7d-4e6f-8a5c-9d1e0b2c4f6a",
            "created_at": RECEIVED,
            "updated_at": RECEIVED + timedelta(minutes=5),
            "timeline": [
                e.model_copy(update={"at": RECEIVED + timedelta(minutes=n)})
                for n, e in enumerate(incident.timeline)
            ],
            "notifications": [],
        }
    )
    return pinned, normalized.alert


def _report(incident: IncidentView, alerts: list[Alert], channel: str, language: str) -> str:
    context = incident_context(incident, TENANT, language=language, alerts=alerts)
    message = render_channel("incident_report", channel, language, context)
    return f"{message.subject}\n{message.body}"


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_report_of_prowlers_finding_matches_its_golden_file(
    store: Store, language: str, channel: str
) -> None:
    incident, alert = _incident(store, _raw("prowler-1.3.0.json"))
    text = _report(incident, [alert], channel, language)
    path = GOLDEN / language / f"incident_report.{channel}.{CHANNELS[channel]}"

    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.read_bytes() == text.encode("utf-8"), f"{path} differs (GARRISON_UPDATE_GOLDEN=1 rewrites it)"


def test_the_english_report_names_the_certificate_its_region_and_the_account(store: Store) -> None:
    incident, alert = _incident(store, _raw("prowler-1.3.0.json"))

    text = _report(incident, [alert], "text", "en")

    section = text.split("AFFECTED CLOUD RESOURCES\n", 1)[1].split("\n\n", 1)[0]
    # Inert like every value: the dots of what could be a host name are bracketed.
    assert section.splitlines() == [
        "  Cloud account: aws account 111122223333 (test), region eu-west-1, organisation o-kq5l91lawd",
        "  - AwsCertificateManagerCertificate: e4dc1386-8b4b-402c-9fed-03269ee10006"
        f" ({PROWLER_ARN}) (eu-west-1)",
    ]
    html = _report(incident, [alert], "html", "en")
    assert "<h3>Affected cloud resources</h3>" in html and PROWLER_ARN in html
    # Shown, never a target: the report's hosts are the incident's, and Prowler names none.
    assert "Hosts:     none named" in text


def test_the_japanese_report_lists_security_lakes_instance_cluster_and_container(store: Store) -> None:
    incident, alert = _incident(store, _raw("aws-security-lake-detection-findings-1.1.0.ndjson", 1))

    markdown = _report(incident, [alert], "markdown", "ja")

    section = markdown.split("## 影響を受けたクラウドリソース\n", 1)[1].split("\n## ", 1)[0]
    assert "- **クラウドアカウント**：AWS アカウント arn:aws:EXAMPLE、リージョン us-east-2" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == [
        "| AwsEc2Instance | arn:aws:EXAMPLE | us-east-2 | - |",
        "| AwsEksCluster | arn:aws:EXAMPLE | us-east-2 | - |",
        "| Container | GeneratedFindingContainerId | us-east-2 | - |",
    ]
    zh = _report(incident, [alert], "text", "zh-TW")
    assert "【受影響的雲端資源】" in zh and "  - AwsEksCluster：arn:aws:EXAMPLE（us-east-2）" in zh


def test_a_report_without_cloud_data_has_no_cloud_section(store: Store) -> None:
    document = mykings_alert()
    alert = Alert.model_validate(document)
    incident = store.incident(store.record_alert(alert, document).incident_id)
    assert incident is not None

    for channel in CHANNELS:
        for language in LANGUAGES:
            context = incident_context(incident, TENANT, language=language, alerts=[alert])
            assert context["cloud"] == {"accounts": [], "resources": [], "more": 0}
            text = render_channel("incident_report", channel, language, context).body
            assert not re.search("(?i)cloud|クラウド|雲端", text), (channel, language)


def test_many_resources_are_listed_up_to_a_bound_and_counted(store: Store) -> None:
    raw = _raw("prowler-1.3.0.json")
    raw["resources"] = [{"uid": f"i-{n:017x}", "type": "AwsEc2Instance"} for n in range(1000)]
    incident, alert = _incident(store, raw)

    context = incident_context(incident, TENANT, language="en", alerts=[alert])

    # The alert reads 32 resources; the report lists 20 and counts the rest.
    assert len(context["cloud"]["resources"]) == 20 and context["cloud"]["more"] == 12
    assert "… and 12 more" in render_channel("incident_report", "text", "en", context).body
    assert "… and 27 more" in render_channel("incident_report", "slack", "en", context).body


def _readable(channel: str, body: str) -> str:
    """What a reader of the channel sees, its escapes resolved."""
    if channel == "markdown":
        return re.sub(r"\\(.)", r"\1", body)
    if channel == "html":
        return html.unescape(re.sub(r"<[^>]+>", "", body))
    return html.unescape(body) if channel == "slack" else body


HOSTILE = "<!channel> {{7*7}} http://evil.example/x\r\nFORGED [a](http://evil.example) <b>x</b>"


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_hostile_resource_and_account_values_come_out_inert(store: Store, channel: str) -> None:
    raw = copy.deepcopy(_raw("prowler-1.3.0.json"))
    raw["resources"] = [{"uid": HOSTILE, "name": HOSTILE, "type": HOSTILE, "region": "eu-west-1"}]
    account = {"uid": HOSTILE, "name": HOSTILE}
    raw["cloud"] = {"provider": HOSTILE, "account": account, "org": {"name": HOSTILE}}
    incident, alert = _incident(store, raw)

    body = _report(incident, [alert], channel, "en")

    assert "<!channel>" not in body and "<b>" not in body
    readable = _readable(channel, body)
    assert "evil.example" not in readable and "evil[.]example" in readable  # defanged, never a live link
    assert "http://" not in readable and "{{7*7}}" in readable  # shown as written, never run
    assert "FORGED" in readable and "\nFORGED" not in readable  # shown, on no line of its own
