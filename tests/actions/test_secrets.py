"""Secrets by reference: resolved per action from the environment or a Prefect Secret block, only the
declared ones, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import actions
import actions.http
import actions.openc2
from actions import MissingSecret, SecretRef, require_secrets, resolve_secrets

DECLARED = ["crowdstrike_client_id", "crowdstrike_client_secret"]


def test_declared_secrets_are_resolved_from_their_references() -> None:
    refs = {
        "crowdstrike_client_id": SecretRef(env="ACME_CS_ID"),
        "crowdstrike_client_secret": SecretRef(prefect_secret="acme-cs-secret"),
        "panos_api_key": SecretRef(env="ACME_PANOS"),  # not declared by this action: never resolved
    }
    loaded: list[str] = []

    def loader(name: str) -> str:
        loaded.append(name)
        return "from-block"

    found = resolve_secrets(
        DECLARED, refs, environ={"ACME_CS_ID": "id", "ACME_PANOS": "k"}, prefect_loader=loader
    )

    assert {k: v.get_secret_value() for k, v in found.items()} == {
        "crowdstrike_client_id": "id",
        "crowdstrike_client_secret": "from-block",
    }
    assert loaded == ["acme-cs-secret"]
    assert "from-block" not in repr(found) and "from-block" not in str(found)


def test_a_missing_or_empty_secret_is_named_never_defaulted() -> None:
    refs = {"crowdstrike_client_id": SecretRef(env="UNSET_VAR")}

    found = resolve_secrets(DECLARED, refs, environ={"UNSET_VAR": ""})

    assert found == {}
    with pytest.raises(MissingSecret, match="crowdstrike_client_id, crowdstrike_client_secret"):
        require_secrets(DECLARED, found, tenant="acme")


@pytest.mark.parametrize("ref", [{}, {"env": "A", "prefect_secret": "b"}, {"env": "A B"}, {"value": "x"}])
def test_a_reference_names_exactly_one_place(ref: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        SecretRef.model_validate(ref)


def test_a_reference_label_says_where_not_what() -> None:
    assert SecretRef(env="ACME_CS_ID").label == "$ACME_CS_ID"
    assert SecretRef(prefect_secret="acme-cs").label == "prefect-secret/acme-cs"


@pytest.mark.parametrize("module", [actions, actions.http, actions.openc2])
def test_every_public_name_exists(module: object) -> None:
    for name in module.__all__:  # type: ignore[attr-defined]
        assert hasattr(module, name), name


def test_a_reference_falls_back_to_its_file_in_the_secrets_folder(tmp_path: Path) -> None:
    (tmp_path / "DEMO_KEY").write_text("from-file\n", encoding="utf-8")
    ref = SecretRef(env="DEMO_KEY", generate=True)

    from_file = ref.resolve(tmp_path, environ={})
    from_env = ref.resolve(tmp_path, environ={"DEMO_KEY": "from-env"})

    assert from_file is not None and from_file.get_secret_value() == "from-file"
    assert from_env is not None and from_env.get_secret_value() == "from-env"  # the environment wins
    assert ref.resolve(None, environ={}) is None  # vendors' secrets are read from the environment alone


def test_only_an_environment_reference_can_be_generated() -> None:
    with pytest.raises(ValueError, match="'generate' needs 'env'"):
        SecretRef(prefect_secret="acme-key", generate=True)
