"""Tenants and their policy: a tenants file that does not validate says where; secrets stay secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from actions import Unbound
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


# -- adapters and capability bindings, checked when the file loads ------------------------------------------

FALCON = (
    "      crowdstrike:\n"
    "        settings: {base_url: 'https://api.crowdstrike.com'}\n"
    "        secrets:\n"
    "          crowdstrike_client_id: {env: ACME_FALCON_ID}\n"
    "          crowdstrike_client_secret: {env: ACME_FALCON_SECRET}\n"
)


def _acme(tmp_path: Path, adapters: str, bind: str = "") -> Path:
    return _write(tmp_path, f"tenants:\n  - id: acme\n    name: Acme\n    adapters:\n{adapters}{bind}")


def test_the_demo_tenant_runs_every_capability_on_the_lab_and_nothing_else() -> None:
    demo = load_tenants(DEFAULT_TENANTS).get("demo")

    assert demo is not None and list(demo.adapters) == ["lab"] and demo.bind == {}
    assert demo.action_for("isolate_host").key == "lab.isolate_host"
    assert demo.action_for("block_domain").key == "lab.block_domain"


def test_a_tenant_bound_to_crowdstrike_isolates_there_and_has_no_adapter_for_the_rest(
    tmp_path: Path,
) -> None:
    acme = load_tenants(_acme(tmp_path, FALCON)).get("acme")

    assert acme is not None
    assert acme.action_for("isolate_host").key == "crowdstrike.isolate_host"
    with pytest.raises(Unbound, match="^no adapter for block_domain in tenant acme$"):
        acme.action_for("block_domain")
    with pytest.raises(Unbound, match="lab.block_domain needs lab, which tenant acme does not configure"):
        acme.action_for("lab.block_domain")


def test_a_tenant_without_adapters_has_no_capability() -> None:
    with pytest.raises(Unbound, match="no adapter for isolate_host in tenant t1"):
        Tenant(id="t1", name="T1").action_for("isolate_host")


def test_bind_chooses_between_two_adapters_for_the_capability_and_its_inverse(tmp_path: Path) -> None:
    path = _acme(tmp_path, FALCON + "      lab: {}\n", "    bind: {isolate_host: crowdstrike}\n")

    acme = load_tenants(path).get("acme")

    assert acme is not None
    assert [acme.action_for(c).key for c in ("isolate_host", "release_host", "block_domain")] == [
        "crowdstrike.isolate_host",
        "crowdstrike.release_host",
        "lab.block_domain",
    ]


@pytest.mark.parametrize(
    ("adapters", "bind", "where", "why"),
    [
        (
            FALCON + "      lab: {}\n",
            "",
            "bind",
            "isolate_host is provided by crowdstrike and lab: choose one",
        ),
        ("      nope: {}\n", "", "adapters.nope", "no adapter 'nope' is installed"),
        (
            "      crowdstrike:\n        settings: {base_url: 'http://falcon.test'}\n",
            "",
            "adapters.crowdstrike.settings.base_url",
            "must be an https URL",
        ),
        (
            "      crowdstrike:\n        secrets: {crowdstrike_client_id: {env: X}}\n",
            "",
            "adapters.crowdstrike.secrets.crowdstrike_client_secret",
            "missing",
        ),
        (
            FALCON + "          crowdstrike_api_key: {env: Y}\n",
            "",
            "adapters.crowdstrike.secrets.crowdstrike_api_key",
            "use no such secret",
        ),
        ("      lab: {settings: {fleet: big}}\n", "", "adapters.lab.settings.fleet", "Extra inputs"),
        ("      lab: {}\n", "    bind: {block_ip: panos}\n", "bind.block_ip", "panos is not configured"),
        (
            FALCON + "      lab: {}\n",
            "    bind: {isolate_host: crowdstrike, block_domain: crowdstrike}\n",
            "bind.block_domain",
            "crowdstrike does not provide block_domain",
        ),
        (
            FALCON + "      lab: {}\n",
            "    bind: {release_host: crowdstrike}\n",
            "bind.release_host",
            "bind isolate_host: its inverse release_host follows it",
        ),
    ],
    ids=[
        "two-providers-unchosen",
        "unknown-adapter",
        "bad-setting",
        "missing-secret",
        "unknown-secret",
        "lab-takes-no-settings",
        "bind-unconfigured",
        "bind-not-provided",
        "bind-an-inverse",
    ],
)
def test_a_wrong_adapter_or_binding_is_refused_when_the_file_loads_naming_tenant_and_field(
    tmp_path: Path, adapters: str, bind: str, where: str, why: str
) -> None:
    path = _acme(tmp_path, adapters, bind)

    with pytest.raises(TenantConfigError) as caught:
        load_tenants(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: tenants.0: ")
    assert f"tenant acme: {where}: " in message and why in message


def test_an_unknown_capability_in_bind_is_refused_with_its_path(tmp_path: Path) -> None:
    path = _acme(tmp_path, "      lab: {}\n", "    bind: {block_dns: lab}\n")

    with pytest.raises(TenantConfigError, match=r"tenants\.0\.bind\.block_dns"):
        load_tenants(path)
