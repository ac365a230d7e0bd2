"""One regression test per class of evidence lost by the normalizers (issue 16), on the real samples of
tests/fixtures/alerts/ where one shows the class, else on a constructed one (see the ORIGIN notes)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flows.normalize import FieldMapping, Format, NormalizeError, normalize
from flows.normalize._windows import undoubled

from ._samples import SYSMON, evidence, indicators, sample

# -- OCSF -----------------------------------------------------------------------------------------------


def test_a_security_finding_2001_is_stored_as_a_detection_finding_keeping_every_field() -> None:
    raw = sample("ocsf/aws-security-hub-1.0.0-rc.2.json")

    document = normalize(raw, "demo").document

    assert document["class_uid"] == 2004 and document["type_uid"] == 200402  # activity 2: Update
    assert document["garrison_converted_from"] == {
        "class_uid": 2001,
        "class_name": "Security Finding",
        "type_uid": 200102,
        "type_name": "Security Finding: Update",
    }
    assert document["finding_info"]["uid"] == "test" and document["finding"] == raw["finding"]
    # Fields Garrison does not read are kept as sent.
    assert {"compliance", "vulnerabilities", "resources", "unmapped", "cloud"} <= document.keys()
    assert document["vulnerabilities"] == raw["vulnerabilities"]


@pytest.mark.parametrize("version", ["1.0.0-rc.2", "1.0.0", "1.1.0", "1.3.0", "1.5.0"])
@pytest.mark.parametrize("class_uid", [2001, 2004])
def test_both_finding_classes_are_accepted_across_schema_versions(version: str, class_uid: int) -> None:
    raw = sample("ocsf/aws-guardduty-1.1.0.json")
    raw["metadata"]["version"], raw["class_uid"] = version, class_uid

    alert = normalize(raw, "demo").alert

    assert alert.class_uid == 2004 and alert.metadata.version == version
    assert ("ipv4", "52.94.133.131") in indicators(alert)


def test_okta_time_in_seconds_is_not_stored_as_1970() -> None:
    assert normalize(sample("ocsf/okta-detection-finding-1.3.0.json"), "demo").alert.time == 1_723_564_700_000


@pytest.mark.parametrize(
    "time",
    [1_723_564_700_000_000, 1_723_564_700_000_000_000, -5, "yesterday", True, float("inf")],
    ids=["microseconds", "nanoseconds", "negative", "text", "boolean", "infinite"],
)
def test_an_absurd_time_is_refused_naming_the_field(time: Any) -> None:
    raw = sample("ocsf/okta-detection-finding-1.3.0.json")
    raw["time"] = time

    with pytest.raises(NormalizeError) as error:
        normalize(raw, "demo")

    assert error.value.field == "time"


def test_an_iso_time_dt_is_read_when_time_is_missing() -> None:
    raw = sample("ocsf/okta-detection-finding-1.3.0.json")
    del raw["time"]

    assert normalize(raw, "demo").alert.time == 1_723_564_700_000


def test_other_finding_classes_are_refused_naming_class_uid() -> None:
    raw = sample("ocsf/okta-detection-finding-1.3.0.json")
    raw["class_uid"] = 2002  # Vulnerability Finding

    with pytest.raises(NormalizeError) as error:
        normalize(raw, "demo")

    assert error.value.field == "class_uid"


# -- Suricata -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("line", [1, 2], ids=["suricata-7-dns.query", "suricata-8-dns.queries"])
def test_a_dns_alert_keeps_the_queried_name(line: int) -> None:
    alert = normalize(sample("suricata/constructed-dns-files-public.ndjson", line), "demo").alert

    assert ("domain", "adv.epostoday.uk") in indicators(alert)
    assert evidence(alert, "query.hostname") == ["adv.epostoday.uk"]


@pytest.mark.parametrize(
    ("name", "line", "url"),
    [
        ("suricata/suricata-docs-lefthook-to-client.json", 1, "http://142.11.240.191:35361/"),  # direction
        ("suricata/beats-eve-alerts.ndjson", 4, "http://testmynids.org/uid/index.html"),  # port 80 → client
    ],
)
def test_a_server_to_client_alert_puts_the_server_port_in_the_url(name: str, line: int, url: str) -> None:
    alert = normalize(sample(name, line), "demo").alert

    urls = {value for kind, value in indicators(alert) if kind == "url"}
    assert urls == {url}


def test_the_hashes_of_an_alerts_files_are_read() -> None:
    alert = normalize(sample("suricata/constructed-dns-files-public.ndjson", 3), "demo").alert

    assert {
        ("sha256", "b48f8fa0b2d9a5a8b0c3e2f6f3c4cc7d34b51e86d5c89d71e69e7ef5d0a8c4b1"),
        ("sha1", "40bd001563085fc35165329ea1ff5c5ecbdbbeef"),
        ("md5", "8c7dd922ad47494fc02c388e12c00eac"),
    } <= indicators(alert)


def test_with_both_ends_public_the_customers_address_is_no_indicator() -> None:
    raw = sample("suricata/constructed-dns-files-public.ndjson", 4)

    alert = normalize(raw, "demo").alert

    assert alert.device is not None and alert.device.ip == "52.95.110.1"  # the flow's client
    ips = {value for kind, value in indicators(alert) if kind == "ipv4"}
    assert ips == {"142.11.240.191"}


def test_the_rules_target_names_the_customer_when_it_is_the_server() -> None:
    raw = sample("suricata/constructed-dns-files-public.ndjson", 4)
    raw["alert"]["target"] = {"ip": "142.11.240.191", "port": 35361}  # Suricata's `target:dest_ip` output

    alert = normalize(raw, "demo").alert

    assert alert.device is not None and alert.device.ip == "142.11.240.191"
    assert {value for kind, value in indicators(alert) if kind == "ipv4"} == {"52.95.110.1"}


# -- Wazuh ----------------------------------------------------------------------------------------------


def test_a_pass_the_hash_alert_keeps_the_logon_source_and_account() -> None:
    alert = normalize(sample("wazuh/hunterstrike-alerts.ndjson", 4), "demo").alert

    assert evidence(alert, "src_endpoint.ip") == ["192.168.80.13"]
    assert evidence(alert, "user.name") == ["Bluecheap"] and evidence(alert, "user.domain") == [
        "DESKTOP-RL1K13Q"
    ]
    assert ("account", r"DESKTOP-RL1K13Q\Bluecheap") in indicators(alert)


def test_sysmon_hashes_and_defender_threats_are_kept() -> None:
    sysmon = normalize(sample("wazuh/hunterstrike-alerts.ndjson", 7), "demo").alert
    defender = normalize(sample("wazuh/hunterstrike-alerts.ndjson", 8), "demo").alert

    assert [h["algorithm"] for h in evidence(sysmon, "process.file.hashes")] == ["MD5", "SHA-256"]
    assert evidence(defender, "malware.name") == ["Behavior:Win32/Lockbit.AL"]
    assert evidence(defender, "malware.path") == [r"C:\ProgramData\WinUpdateSvc\updater.exe"]


def test_wazuhs_doubled_backslashes_are_undone_so_paths_are_real() -> None:
    raw = sample("wazuh/hunterstrike-alerts.ndjson", 6)
    assert "\\\\" in raw["data"]["win"]["eventdata"]["targetObject"]  # as Wazuh sends it

    [value] = normalize(raw, "demo").alert.registry_values()

    assert value.key == r"HKLM\System\CurrentControlSet\Services\MicrosoftEdgeElevationService"
    assert value.name == "ImagePath"


@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        (r"C:\\Windows\\reg.exe", r"C:\Windows\reg.exe"),
        (r"\\\\srv\\share", r"\\srv\share"),
        (r"\"C:\\x y\\a.exe\" -k", r'"C:\x y\a.exe" -k'),
        (r"C:\Windows\reg.exe", r"C:\Windows\reg.exe"),  # never escaped: left alone
        (r"\\srv\share", r"\\srv\share"),  # a UNC path that was not escaped
    ],
)
def test_only_escaped_values_are_unescaped(sent: str, meant: str) -> None:
    assert undoubled(sent) == meant


# -- Elastic --------------------------------------------------------------------------------------------


def test_an_alert_wrapped_as_a_search_hit_is_accepted() -> None:
    raw = sample("elastic/kibana-8.1.0-threat-match-hit.json")

    normalized = normalize(raw, "demo")

    assert normalized.format is Format.ELASTIC and normalized.raw == raw  # the hit is kept as sent
    assert normalized.alert.source_uid == raw["_id"] and normalized.alert.hostname == "security-linux-1"


def test_alerts_on_winlogbeat_data_keep_the_process() -> None:
    alert = normalize(sample("elastic/constructed-winlogbeat-hits.ndjson", 1), "demo").alert

    assert evidence(alert, "process.cmd_line")[0].startswith("powershell.exe -nop -w hidden")
    assert evidence(alert, "process.user.name") == [r"CORP\j.doe"]


def test_source_ip_and_file_path_are_read() -> None:
    alert = normalize(sample("elastic/constructed-winlogbeat-hits.ndjson", 2), "demo").alert

    assert evidence(alert, "src_endpoint.ip") == ["45.155.205.233"]
    assert evidence(alert, "file.path") == [r"C:\Users\Public\Libraries\msvcr110.dll"]


def test_a_link_local_ipv6_never_becomes_the_device_address() -> None:
    raw = sample("elastic/constructed-winlogbeat-hits.ndjson", 1)
    only_link_local = copy.deepcopy(raw)
    only_link_local["_source"]["host"]["ip"] = ["fe80::1afa:fd11:68c3:3ffa"]

    assert normalize(raw, "demo").alert.device.ip == "10.20.30.47"  # type: ignore[union-attr]
    assert normalize(only_link_local, "demo").alert.device.ip is None  # type: ignore[union-attr]


def test_a_logon_alert_on_winlogbeat_data_keeps_the_target_account_and_its_ipv4_address() -> None:
    # 4768 as Winlogbeat ships it: no ECS user.*, the account in TargetUserName, the client IPv4-mapped.
    raw = sample("elastic/osherjacobs-labwork-winlogbeat-hits.ndjson", 2)
    assert raw["_source"]["winlog"]["event_data"]["IpAddress"] == "::ffff:192.168.1.218"

    alert = normalize(raw, "demo").alert

    assert evidence(alert, "src_endpoint.ip") == ["192.168.1.218"]
    assert ("account", r"LAB2019.LOCAL\Administrator") in indicators(alert)


def test_a_machine_account_and_a_dash_are_evidence_not_indicators() -> None:
    alert = normalize(sample("elastic/osherjacobs-labwork-winlogbeat-hits.ndjson", 3), "demo").alert

    assert evidence(alert, "user.name") == ["DC01$"]
    assert not [i for i in indicators(alert) if i[0] == "account"]
    assert evidence(alert, "src_endpoint.hostname") == []  # WorkstationName "-" names no host


def test_sigma_style_attack_tags_give_the_techniques_when_the_rule_has_no_threat() -> None:
    raw = sample("elastic/osherjacobs-labwork-winlogbeat-hits.ndjson", 2)
    assert raw["_source"]["kibana.alert.rule.threat"] == []

    alert = normalize(raw, "demo").alert

    assert alert.techniques() == ["T1558", "T1550"]
    tactics = {a["tactic"]["uid"] for a in alert.finding_info.model_dump()["attacks"] if "tactic" in a}
    assert tactics == {"TA0006", "TA0008"}  # credential_access, lateral_movement
    # A rule's own threat block wins over its tags.
    raw["_source"]["kibana.alert.rule.threat"] = [
        {"framework": "MITRE ATT&CK", "technique": [{"id": "T1110", "name": "Brute Force"}]}
    ]
    assert normalize(raw, "demo").alert.techniques() == ["T1110"]


def test_what_an_indicator_match_rule_matched_is_kept_as_enrichment_never_as_indicator() -> None:
    raw = sample("elastic/kibana-legacy-cti-signals-hits.ndjson", 1)

    normalized = normalize(raw, "demo")

    [enrichment] = normalized.document["enrichments"]
    assert (enrichment["name"], enrichment["value"]) == ("host.name", "elastic.local")
    assert enrichment["provider"] == "Cryptolaemus1"
    assert enrichment["data"]["reference"] == "https://urlhaus.abuse.ch/url/1503372/"
    assert enrichment["data"]["url"]["full"].startswith("http://feedproxy.google.com/")
    # The intel's URL and the matched host name are context: blocking them would block the wrong thing.
    values = {value for _, value in indicators(normalized.alert)}
    assert "elastic.local" not in values and not any("feedproxy" in value for value in values)


# -- Generic (Sysmon) mapping ---------------------------------------------------------------------------


def test_the_same_record_id_on_another_host_is_another_alert() -> None:
    raw = sample("sysmon/sigmahq-regression.ndjson", 8)
    elsewhere = copy.deepcopy(raw)
    elsewhere["Event"]["System"]["Computer"] = "ar-win-2"

    first = normalize(raw, "demo", mapping=SYSMON).alert
    second = normalize(elsewhere, "demo", mapping=SYSMON).alert

    assert (first.source_uid, second.source_uid) == ("ar-win-1:256890", "ar-win-2:256890")


def test_the_mapping_can_name_the_whole_key_itself() -> None:
    raw = sample("sysmon/sigmahq-regression.ndjson", 8)
    mapping = SYSMON.model_copy(
        update={"uid": ["Event.System.Channel", "Event.System.EventRecordID"], "uid_per_host": False}
    )

    alert = normalize(raw, "demo", mapping=mapping).alert

    assert alert.source_uid == "Microsoft-Windows-Sysmon/Operational:256890"


def test_the_mapping_expresses_registry_network_dns_and_hash_fields() -> None:
    registry = normalize(sample("sysmon/ocsf-examples-sysmon-evtx.ndjson", 4), "demo", mapping=SYSMON).alert
    network = normalize(sample("sysmon/ocsf-examples-sysmon-evtx.ndjson", 2), "demo", mapping=SYSMON).alert
    hashes = normalize(sample("sysmon/ocsf-examples-sysmon-evtx.ndjson", 1), "demo", mapping=SYSMON).alert
    # Constructed: Sysmon event 22 (DNS query) fields in the same layout; no real sample was at hand.
    dns = sample("sysmon/ocsf-examples-sysmon-evtx.ndjson", 2)
    dns["Event"]["EventData"] = {"Image": r"C:\Windows\System32\rundll32.exe", "QueryName": "js.mykings.top"}
    dns_alert = normalize(dns, "demo", mapping=SYSMON).alert

    assert evidence(registry, "reg_value.data") == ["DWORD (0x00000004)"]
    assert evidence(network, "dst_endpoint.port") == [443] and evidence(network, "src_endpoint.ip")
    assert {h["algorithm"] for h in evidence(hashes, "process.file.hashes")} == {"MD5", "SHA-1", "SHA-256"}
    assert ("domain", "js.mykings.top") in indicators(dns_alert)


def test_an_unknown_mapping_field_is_refused() -> None:
    with pytest.raises(ValueError, match="registry"):
        FieldMapping.model_validate({"title": {"const": "x"}, "registry": "Event.EventData.TargetObject"})
