"""The conformance report (`garrison ingest --check`): what Garrison understood of each record of a
source, and what it ignored, before the source goes live; nothing is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.normalize import conformance
from flows.settings import Settings, get_settings
from flows.store import Store

from ._samples import ALERTS, SYSMON, sample

runner = CliRunner()


def test_a_wazuh_logon_alert_reports_what_was_understood_and_what_was_ignored() -> None:
    report = conformance(sample("wazuh/hunterstrike-alerts.ndjson", 4), "demo")

    assert (report.format, report.tenant, report.time) == ("wazuh", "demo", "2025-08-13T08:14:34.891Z")
    assert report.hosts == ["DESKTOP-RL1K13Q", "192.168.80.9"]
    assert report.indicators == [r"account DESKTOP-RL1K13Q\Bluecheap"]
    assert {"src_endpoint.ip", "src_endpoint.hostname", "user.name", "data.logon_type"} <= set(
        report.evidence
    )
    # The fields an analyst needs reached the alert; compliance tags and record numbers did not.
    understood = set(report.understood)
    assert {"data.win.eventdata.ipAddress", "data.win.eventdata.targetUserName", "rule.level"} <= understood
    assert {"rule.pci_dss[]", "data.win.system.eventRecordID"} <= set(report.ignored)
    assert not understood & set(report.ignored) and report.error is None


def test_an_ocsf_findings_unread_top_level_fields_are_listed() -> None:
    report = conformance(sample("ocsf/aws-security-hub-1.0.0-rc.2.json"), "demo")

    assert report.format == "ocsf" and report.time == "2022-08-04T18:09:19.100Z"
    assert {"compliance", "vulnerabilities", "unmapped"} <= set(report.ignored)
    assert {"finding", "malware", "process", "metadata", "resources", "cloud"} <= set(report.understood)


def test_suricatas_direction_is_understood_it_places_client_and_server() -> None:
    report = conformance(sample("suricata/suricata-docs-lefthook-to-client.json"), "demo")

    assert report.format == "suricata" and report.error is None
    assert "direction" in report.understood and "direction" not in report.ignored


def test_a_generic_source_is_checked_through_its_mapping() -> None:
    report = conformance(sample("sysmon/sigmahq-regression.ndjson", 1), "demo", mapping=SYSMON)

    assert report.format == "generic" and "reg_value.path" in report.evidence
    assert "Event.EventData.TargetObject" in report.understood


def test_a_record_that_would_be_rejected_says_why() -> None:
    raw = sample("ocsf/okta-detection-finding-1.3.0.json")
    raw["time"] *= 1_000_000  # microseconds

    report = conformance(raw, "demo")

    assert report.error is not None and report.error.startswith("time: ")


def test_ingest_check_prints_each_record_and_stores_nothing(settings: Settings, store: Store) -> None:
    files = [str(ALERTS / "wazuh" / "hunterstrike-alerts.ndjson"), str(ALERTS / "suricata-eve-alert.json")]

    result = runner.invoke(app, ["ingest", "--check", *files, "--tenant", "demo", "--json"])

    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)["records"]
    assert len(records) == 12 and {r["format"] for r in records} == {"wazuh", "suricata"}
    assert records[3]["line"] == 4 and r"account DESKTOP-RL1K13Q\Bluecheap" in records[3]["indicators"]
    assert store.incidents() == []


def test_ingest_check_in_words_and_with_a_rejected_record(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text(json.dumps({"class_uid": 2002, "metadata": {"tenant_uid": "demo"}}) + "\n{not json\n")
    good = ALERTS / "suricata" / "suricata-docs-lefthook-to-client.json"

    result = runner.invoke(app, ["ingest", "--check", str(good), str(bad), "--tenant", "demo"])

    assert result.exit_code == 1  # a record would be rejected: onboarding is not done
    assert "suricata  ET ATTACK_RESPONSE Win32/LeftHook" in result.output
    assert "indicators  ipv4 142.11.240.191, url http://142.11.240.191:35361/" in result.output
    assert "rejected: class_uid:" in result.output and "rejected: (line): not valid JSON" in result.output
    assert store.incidents() == []


def test_ingest_check_keeps_a_findings_source_tenant_and_refuses_another_garrison_tenant(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prowler names its AWS organisation as metadata.tenant_uid: the intake keeps it as the source's tenant.
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text("tenants:\n  - {id: demo, name: Demo}\n  - {id: acme, name: Acme}\n", encoding="utf-8")
    monkeypatch.setenv("GARRISON_TENANTS_FILE", str(tenants))
    get_settings.cache_clear()
    prowler = ALERTS / "ocsf" / "prowler-1.3.0.json"
    acme = tmp_path / "names-acme.json"
    acme.write_text(
        json.dumps(
            {
                **sample("ocsf/prowler-1.3.0.json"),
                "metadata": {**sample("ocsf/prowler-1.3.0.json")["metadata"], "tenant_uid": "acme"},
            }
        ),
        encoding="utf-8",
    )

    kept = runner.invoke(app, ["ingest", "--check", str(prowler), "--tenant", "demo", "--json"])
    refused = runner.invoke(app, ["ingest", "--check", str(acme), "--tenant", "demo", "--json"])

    assert kept.exit_code == 0, kept.output
    [record] = json.loads(kept.stdout)["records"]
    assert record["error"] is None and record["tenant"] == "demo"
    assert refused.exit_code == 1
    [record] = json.loads(refused.stdout)["records"]
    assert record["error"].startswith("metadata.tenant_uid:")
