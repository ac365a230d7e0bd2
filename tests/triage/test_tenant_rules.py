"""A tenant's own rules (``rules:`` in the tenants file): SigmaHQ rules it disables no longer speak in its
verdicts, and its own rule folders run beside the corpus, told as the tenant's rules (never SigmaHQ's); a
rule of its folder that cannot be converted is listed, never breaks triage; another tenant gets none of it.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flows.sigma import CREDIT, RuleChoice, rules_for
from flows.tenants import Tenant, TenantConfigError, load_tenants
from flows.triage import triage_files
from flows.triage._findings import Answers
from flows.triage._sigma import sigma_answers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OWN = FIXTURES / "tenant-rules" / "acme"
FINEXPORT = FIXTURES / "tenant-rules" / "finexport-evtx.json"
ACME_RULE = "7d3c1a52-4f0e-4b8e-9a61-2c5e8f90b1d4"
CASES = FIXTURES / "sigma" / "regression_data" / "rules" / "windows" / "process_creation"
# A capture two SigmaHQ rules match: its case's rule (high) and one more (medium).
CERTUTIL = CASES / "proc_creation_win_certutil_download_direct_ip"
CERTUTIL_RULE = "13e6fe51-d478-4c7e-b0f2-6da9b400a829"
# A capture only its case's rule matches.
BITSADMIN = CASES / "proc_creation_win_bitsadmin_download"
BITSADMIN_RULE = "d059842b-6b9d-4ed1-b5c3-5b89143c6ede"


def _tenants(tmp_path: Path, acme_rules: str) -> dict[str, Tenant]:
    shutil.copytree(OWN, tmp_path / "acme-rules")
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n"
        f"  - id: acme\n    name: Acme\n    rules: {acme_rules}\n"
        "  - id: globex\n    name: Globex\n",
        encoding="utf-8",
    )
    directory = load_tenants(path)
    return {tenant.id: tenant for tenant in directory}


def _capture(case: Path) -> Path:
    [capture] = case.glob("*.json")
    return capture


def _last_event(capture: Path) -> tuple[str, str]:
    text = capture.read_text(encoding="utf-8")
    decoder, position, last = json.JSONDecoder(), 0, None
    while position < len(text.rstrip()):
        while text[position].isspace():
            position += 1
        last, position = decoder.raw_decode(text, position)
    assert last is not None
    system = last["Event"]["System"]
    return system["Computer"], system["TimeCreated"]["#attributes"]["SystemTime"]


def _bland_alert(tmp_path: Path, tenant: str, host: str, when: str) -> Path:
    stamp = int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1000)
    alert = {
        "class_uid": 2004,
        "severity_id": 3,
        "time": stamp,
        "metadata": {"tenant_uid": tenant, "product": {"name": "Some EDR"}, "uid": "bland-1"},
        "finding_info": {"uid": "bland-1", "title": f"Suspicious activity on {host}"},
        "device": {"hostname": host},
    }
    path = tmp_path / f"alert-{tenant}.json"
    path.write_text(json.dumps(alert), encoding="utf-8")
    return path


def _triage_as(
    tenant: Tenant, tmp_path: Path, events: Path, monkeypatch: pytest.MonkeyPatch, host: str | None = None
) -> Any:
    """``garrison triage --tenant T --events FILE`` on a bland alert for the events' host: the tenant's
    policy, which carries its rule choice (``Policy.rule_choice``) to the rules."""
    computer, when = _last_event(events)
    alert = _bland_alert(tmp_path, tenant.id, host or computer, when)
    return triage_files(alert, events=[events], policy=tenant.policy)


def _by_rule(result: Any) -> dict[str, Any]:
    return {r.params["rule"]: r for r in result.verdict.reasons if "rule" in r.params}


def test_a_disabled_rule_is_not_run_and_the_other_evidence_still_speaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = _tenants(tmp_path, f"{{disable: [{CERTUTIL_RULE}]}}")
    capture = _capture(CERTUTIL)

    acme = _triage_as(tenants["acme"], tmp_path, capture, monkeypatch)
    globex = _triage_as(tenants["globex"], tmp_path, capture, monkeypatch)

    assert CERTUTIL_RULE in _by_rule(globex) and CERTUTIL_RULE not in _by_rule(acme)
    [other] = [r for r in acme.verdict.reasons if r.code == "sigma"]  # the medium rule still matches
    assert other.params["level"] == "medium" and other.effect > 0
    assert acme.verdict.verdict.value == "suspicious" and acme.features["sigma"]["tenant"]["disabled"] == 1


def test_with_its_only_rule_disabled_a_capture_is_still_gray_not_benign(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = _tenants(tmp_path, f"{{disable: [{BITSADMIN_RULE}]}}")

    result = _triage_as(tenants["acme"], tmp_path, _capture(BITSADMIN), monkeypatch)

    assert not [r for r in result.verdict.reasons if r.code.startswith(("sigma", "tenant_rule"))]
    # Unknown is gray: nothing clears the alert, so the tenant's default (suspicious) holds.
    assert result.verdict.verdict.value == "suspicious"


def test_a_tenant_s_own_rule_is_run_and_told_as_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants = _tenants(tmp_path, "{folders: [acme-rules]}")

    acme = _triage_as(tenants["acme"], tmp_path, FINEXPORT, monkeypatch)
    globex = _triage_as(tenants["globex"], tmp_path, FINEXPORT, monkeypatch)

    [told] = [r for r in acme.verdict.reasons if r.code == "tenant_rule"]
    assert told.params["rule"] == ACME_RULE and told.params["tenant"] == "acme"
    assert told.finding.startswith(
        "Tenant acme's own rule \"Acme Finance Export Tool Run Outside Its Install"
    )
    assert "SigmaHQ" not in told.finding and CREDIT not in told.sources  # SigmaHQ is not credited for it
    assert f"tenant-rule:acme:{ACME_RULE}" in told.sources and "T1005" in told.sources
    assert told.effect == 40 and acme.verdict.verdict.value != "benign"  # a high rule weighs as SigmaHQ's do
    assert [m["owner"] for m in acme.features["sigma"]["matched"]] == ["acme"]
    assert ACME_RULE not in _by_rule(globex) and not [
        r for r in globex.verdict.reasons if r.code == "tenant_rule"
    ]


def test_a_rule_of_the_tenant_that_cannot_be_converted_is_listed_and_triage_goes_on(tmp_path: Path) -> None:
    tenants = _tenants(tmp_path, "{folders: [acme-rules]}")

    rule_set = rules_for(tenants["acme"].policy.rule_choice)

    [failed] = [f for f in rule_set.failed if f.owner == "acme"]
    assert failed.path == "broken_condition.yml" and "filter_missing" in failed.reason
    assert rule_set.stats()["tenant"]["own_rules"] == 1 and rule_set.stats()["tenant"]["own_failed"] == 1


@pytest.mark.parametrize("damage", ["gone", "unreadable"])
def test_a_folder_that_cannot_be_read_at_triage_costs_its_rules_not_the_verdict(
    tmp_path: Path, damage: str
) -> None:
    tenants = _tenants(tmp_path, f"{{folders: [acme-rules], disable: [{BITSADMIN_RULE}]}}")
    if damage == "gone":  # removed since the tenants file loaded
        shutil.rmtree(tmp_path / "acme-rules")
    else:  # a folder named like a rule file: reading it fails
        (tmp_path / "acme-rules" / "unreadable.yml").mkdir()

    answers = Answers()
    sigma_answers(
        answers, [], [], datetime(2026, 11, 15, tzinfo=UTC), choice=tenants["acme"].policy.rule_choice
    )

    figures = answers.features["sigma"]
    assert "tenant acme: its rule folders could not be read" in figures["tenant_rules_error"]
    assert figures["rules"] > 1000 and figures["tenant"]["disabled"] == 1  # the corpus, less what it disabled


def test_rule_set_of_an_unchanged_choice_is_reused_and_an_edited_rule_is_converted_again(
    tmp_path: Path,
) -> None:
    shutil.copytree(OWN, tmp_path / "own")
    choice = RuleChoice.of("acme", [], [tmp_path / "own"])

    first, again = rules_for(choice), rules_for(choice)
    rule = tmp_path / "own" / "proc_creation_acme_finexport_outside_install.yml"
    rule.write_text(
        rule.read_text(encoding="utf-8").replace("level: high", "level: critical"), encoding="utf-8"
    )
    edited = rules_for(choice)

    assert first is again and edited is not first
    assert {r.level for r in edited.rules if r.owner} == {"critical"}


@pytest.mark.parametrize(
    ("rules", "said"),
    [
        ("{disable: [certutil-download]}", "rules.disable.0: 'certutil-download' is not a Sigma rule id"),
        ("{folders: [no-such-folder]}", "rules.folders.0: no folder of Sigma rules"),
        ("{folders: acme-rules}", "rules.folders: Input should be a valid list"),
        ("{enable: [x]}", "rules.enable: Extra inputs are not permitted"),
    ],
)
def test_a_wrong_rules_entry_names_the_tenant_and_the_field(tmp_path: Path, rules: str, said: str) -> None:
    with pytest.raises(TenantConfigError) as refused:
        _tenants(tmp_path, rules)

    assert f"tenant acme: {said}" in str(refused.value)
    assert str(refused.value).startswith(str(tmp_path / "tenants.yaml"))


def test_a_relative_folder_is_read_from_the_tenants_file_s_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES)  # not where the tenants file is

    tenants = _tenants(tmp_path, "{folders: [acme-rules]}")

    choice = tenants["acme"].policy.rule_choice
    assert choice is not None and choice.folders == ((tmp_path / "acme-rules").resolve(),)
    assert tenants["globex"].policy.rule_choice is None
