"""Tenants and their policy: a tenants file that does not validate says where; secrets stay secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from flows.settings import Settings
from flows.tenants import (
    NotifyTarget,
    Policy,
    Tenant,
    TenantConfigError,
    TenantDirectory,
    load_tenants,
    tenants_from,
)

DEFAULT_TENANTS = Path(__file__).resolve().parents[1] / "flows" / "defaults" / "tenants.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_tenants_file_has_the_demo_tenant() -> None:
    directory = load_tenants(DEFAULT_TENANTS)

    demo = directory.get("demo")
    assert demo is not None
    assert "demo" in directory
    assert demo.language == "en"
    assert [target.url for target in demo.notify] == ["outbox://demo"]
    policy = demo.policy
    assert (policy.malicious_threshold, policy.suspicious_threshold, policy.auto_contain) == (70, 30, True)


def test_the_settings_point_at_the_default_tenants_file(settings: Settings) -> None:
    assert settings.tenants_file.resolve() == DEFAULT_TENANTS


def test_an_unknown_tenant_is_not_found_there_is_no_default() -> None:
    directory = load_tenants(DEFAULT_TENANTS)

    assert directory.get("acme") is None
    assert directory.get("") is None
    assert "acme" not in directory


def test_iterating_a_directory_gives_its_tenants() -> None:
    directory = TenantDirectory([Tenant(id="a", name="A"), Tenant(id="b", name="B")])

    assert [tenant.id for tenant in directory] == ["a", "b"]


def test_a_bad_field_names_the_file_and_the_field_path(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
tenants:
  - id: demo
    name: Demo
    policy:
      malicious_threshold: lots
""",
    )

    with pytest.raises(TenantConfigError) as caught:
        load_tenants(path)

    message = str(caught.value)
    assert str(path) in message
    assert "tenants.0.policy.malicious_threshold" in message


def test_an_unknown_field_is_rejected_with_its_path(tmp_path: Path) -> None:
    path = _write(tmp_path, "tenants:\n  - id: demo\n    name: Demo\n    colour: blue\n")

    with pytest.raises(TenantConfigError, match=r"tenants\.0\.colour"):
        load_tenants(path)


def test_an_invalid_tenant_id_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "tenants:\n  - id: Not Valid\n    name: Demo\n")

    with pytest.raises(TenantConfigError, match=r"tenants\.0\.id"):
        load_tenants(path)


def test_duplicate_tenant_ids_are_rejected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "tenants:\n  - {id: demo, name: One}\n  - {id: other, name: Two}\n  - {id: demo, name: Three}\n",
    )

    with pytest.raises(TenantConfigError) as caught:
        load_tenants(path)

    assert str(path) in str(caught.value)
    assert "duplicate tenant ids: demo" in str(caught.value)


def test_a_file_without_tenants_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(TenantConfigError, match="tenants"):
        load_tenants(_write(tmp_path, "tenants: []\n"))


def test_an_empty_file_is_rejected_at_the_top_level(tmp_path: Path) -> None:
    with pytest.raises(TenantConfigError, match=r"\(top level\)"):
        load_tenants(_write(tmp_path, ""))


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "tenants: [unclosed\n")

    with pytest.raises(TenantConfigError, match="not valid YAML") as caught:
        load_tenants(path)

    assert str(path) in str(caught.value)


def test_a_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"

    with pytest.raises(TenantConfigError, match="cannot read") as caught:
        load_tenants(path)
    assert str(path) in str(caught.value)

    with pytest.raises(TenantConfigError, match="cannot read"):
        tenants_from(path)


def test_tenants_from_rereads_the_file_when_it_changes(tmp_path: Path) -> None:
    path = _write(tmp_path, "tenants:\n  - {id: one, name: One}\n")
    assert "one" in tenants_from(path)

    path.write_text("tenants:\n  - {id: two, name: Two}\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    reloaded = tenants_from(path)
    assert "two" in reloaded and "one" not in reloaded


# -- notification targets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [{}, {"url": "outbox://demo", "url_env": "GARRISON_TEST_SLACK"}],
    ids=["neither", "both"],
)
def test_a_notify_target_needs_exactly_one_of_url_and_url_env(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="exactly one of 'url' or 'url_env'"):
        NotifyTarget(**fields)


def test_a_literal_url_resolves_to_itself() -> None:
    assert NotifyTarget(url="outbox://demo").resolve().get_secret_value() == "outbox://demo"


def test_url_env_resolves_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "slack://T000/B000/very-secret-token"
    monkeypatch.setenv("GARRISON_TEST_SLACK", secret)

    target = NotifyTarget(url_env="GARRISON_TEST_SLACK")
    resolved = target.resolve()

    assert resolved.get_secret_value() == secret
    assert secret not in str(resolved) and secret not in repr(resolved)


def test_the_label_never_contains_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "slack://T000/B000/very-secret-token"
    monkeypatch.setenv("GARRISON_TEST_SLACK", secret)

    by_env = NotifyTarget(url_env="GARRISON_TEST_SLACK")
    literal = NotifyTarget(url="json://user:pass@example.invalid/hook")

    assert by_env.label == "$GARRISON_TEST_SLACK"
    assert "very-secret-token" not in by_env.label
    assert literal.label == "json://…"
    assert "pass" not in literal.label


@pytest.mark.parametrize("value", [None, ""])
def test_an_unset_or_empty_url_env_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("GARRISON_TEST_UNSET", raising=False)
    else:
        monkeypatch.setenv("GARRISON_TEST_UNSET", value)

    with pytest.raises(TenantConfigError, match="GARRISON_TEST_UNSET is not set"):
        NotifyTarget(url_env="GARRISON_TEST_UNSET").resolve()


# -- policy ------------------------------------------------------------------------------------------------


def test_the_default_policy() -> None:
    policy = Policy()

    assert (policy.malicious_threshold, policy.suspicious_threshold, policy.auto_contain) == (70, 30, True)


@pytest.mark.parametrize(("suspicious", "malicious"), [(70, 70), (80, 70), (100, 1)])
def test_the_suspicious_threshold_must_be_below_the_malicious_one(suspicious: int, malicious: int) -> None:
    with pytest.raises(ValidationError, match="suspicious_threshold must be below malicious_threshold"):
        Policy(suspicious_threshold=suspicious, malicious_threshold=malicious)


@pytest.mark.parametrize(
    "fields",
    [{"malicious_threshold": 0}, {"malicious_threshold": 101}, {"suspicious_threshold": -1}],
)
def test_thresholds_stay_within_0_to_100(fields: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        Policy(**fields)


def test_edge_thresholds_are_accepted() -> None:
    policy = Policy(suspicious_threshold=0, malicious_threshold=1)

    assert (policy.suspicious_threshold, policy.malicious_threshold) == (0, 1)


def test_policy_ordering_errors_in_a_file_are_located(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "tenants:\n  - id: demo\n    name: Demo\n"
        "    policy: {malicious_threshold: 20, suspicious_threshold: 40}\n",
    )

    with pytest.raises(TenantConfigError, match=r"tenants\.0\.policy.*suspicious_threshold must be below"):
        load_tenants(path)


def test_an_unsupported_language_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Tenant(id="demo", name="Demo", language="klingon")  # type: ignore[arg-type]
