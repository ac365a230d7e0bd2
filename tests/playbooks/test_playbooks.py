"""Playbooks are data: every built-in one parses, names only capabilities some adapter provides (or
registered actions) and existing templates, and a broken playbook says which file, step and field is
wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

import actions.lab  # noqa: F401 - registers the lab.* actions
from actions import Capability, registry
from flows.notify import TEMPLATES_DIR
from playbooks import (
    ActStep,
    NotifyStep,
    Playbook,
    PlaybookError,
    When,
    builtin_playbooks,
    load_playbook,
)

BUILTIN = builtin_playbooks()
# The respond flow renders every notify event as text (delivery) and as markdown (the report artifact).
CHANNELS = [("text", "txt"), ("markdown", "md")]


def _write(tmp_path: Path, text: str, name: str = "broken.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_there_is_a_default_playbook() -> None:
    assert "default" in [path.stem for path in BUILTIN]


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.stem)
def test_a_builtin_playbook_parses(path: Path) -> None:
    playbook = load_playbook(str(path))

    assert isinstance(playbook, Playbook)
    assert playbook.name
    assert playbook.steps


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.stem)
def test_a_builtin_playbook_loads_by_name(path: Path) -> None:
    assert load_playbook(path.stem) == load_playbook(str(path))


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.stem)
def test_every_action_of_a_builtin_playbook_is_registered(path: Path) -> None:
    keys = load_playbook(str(path)).action_keys()

    missing = [key for key in keys if key not in registry.keys()]
    assert missing == []


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.stem)
def test_every_capability_of_a_builtin_playbook_is_provided_by_an_adapter(path: Path) -> None:
    capabilities = load_playbook(str(path)).capabilities()

    assert [c for c in capabilities if not registry.providing(c)] == []


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.stem)
def test_every_notify_event_of_a_builtin_playbook_has_its_templates(path: Path) -> None:
    events = load_playbook(str(path)).events()

    missing = [
        f"{event}.{channel}.{ext}.j2"
        for event in events
        for channel, ext in CHANNELS
        if not (TEMPLATES_DIR / f"{event}.{channel}.{ext}.j2").is_file()
    ]
    assert missing == []


def test_the_default_playbook_contains_only_malicious_verdicts() -> None:
    playbook = load_playbook("default")
    contain = next(step for step in playbook.steps if isinstance(step, ActStep))

    assert contain.when.holds("malicious")
    assert not contain.when.holds("suspicious")
    assert not contain.when.holds("benign")
    assert not contain.when.holds(None)
    assert contain.capabilities is not None and Capability.ISOLATE_HOST in contain.capabilities
    assert [s.event for s in playbook.steps if isinstance(s, NotifyStep)] == ["incident_report"]


def test_an_unknown_playbook_name_lists_the_builtin_ones() -> None:
    with pytest.raises(PlaybookError, match=r"no playbook 'nope' \(built-in: .*default"):
        load_playbook("nope")


def test_a_missing_playbook_path_is_a_playbook_error(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="no playbook"):
        load_playbook(str(tmp_path / "missing.yaml"))


def test_an_unknown_step_kind_names_the_file_and_step(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "name: x\nsteps:\n  - {id: enrich, kind: enrich}\n  - {id: boom, kind: explode}\n"
    )

    with pytest.raises(PlaybookError) as caught:
        load_playbook(str(path))

    message = str(caught.value)
    assert message.startswith(f"{path}: steps.1: ")
    assert "'explode'" in message and "'kind'" in message


def test_a_missing_field_names_the_file_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nsteps:\n  - {id: enrich, kind: notify}\n")

    with pytest.raises(PlaybookError) as caught:
        load_playbook(str(path))

    assert str(path) in str(caught.value)
    assert "steps.0.notify.event" in str(caught.value)


def test_a_missing_playbook_name_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "steps:\n  - {id: enrich, kind: enrich}\n")

    with pytest.raises(PlaybookError, match=r": name: "):
        load_playbook(str(path))


def test_an_unknown_field_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nsteps:\n  - {id: enrich, kind: enrich, run: 'rm -rf /'}\n")

    with pytest.raises(PlaybookError, match=r"steps\.0\.enrich\.run"):
        load_playbook(str(path))


def test_duplicate_step_ids_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: x\nsteps:\n  - {id: tell, kind: notify, event: incident_report}\n"
        "  - {id: close, kind: close}\n  - {id: tell, kind: notify, event: incident_report}\n",
    )

    with pytest.raises(PlaybookError) as caught:
        load_playbook(str(path))

    assert str(caught.value) == f"{path}: steps: duplicate step ids tell"


def test_a_condition_on_an_unknown_verdict_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nsteps:\n  - {id: close, kind: close, when: {verdict: [evil]}}\n")

    with pytest.raises(PlaybookError, match=r"steps\.0\.close\.when\.verdict\.0"):
        load_playbook(str(path))


def test_an_event_name_cannot_climb_out_of_the_templates(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: x\nsteps:\n  - {id: tell, kind: notify, event: ../../etc/passwd}\n")

    with pytest.raises(PlaybookError, match=r"steps\.0\.notify\.event"):
        load_playbook(str(path))


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: [unclosed\n")

    with pytest.raises(PlaybookError, match="not valid YAML") as caught:
        load_playbook(str(path))
    assert str(path) in str(caught.value)


def test_an_empty_file_is_a_top_level_error(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match=r"\(top level\)"):
        load_playbook(str(_write(tmp_path, "")))


# -- conditions --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("verdict", ["malicious", "suspicious", "benign", None])
def test_no_condition_always_holds(verdict: str | None) -> None:
    assert When().holds(verdict)


@pytest.mark.parametrize(
    ("allowed", "verdict", "holds"),
    [
        (["malicious"], "malicious", True),
        (["malicious"], "suspicious", False),
        (["malicious", "benign"], "benign", True),
        (["malicious", "benign"], None, False),
        ([], "malicious", False),
    ],
)
def test_a_verdict_condition_holds_only_for_its_verdicts(
    allowed: list[str], verdict: str | None, holds: bool
) -> None:
    assert When(verdict=allowed).holds(verdict) is holds  # type: ignore[arg-type]


def test_action_keys_and_events_follow_step_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: x\nsteps:\n"
        "  - {id: a, kind: act, actions: [lab.isolate_host, lab.block_domain]}\n"
        "  - {id: n, kind: notify, event: incident_report}\n"
        "  - {id: b, kind: act, actions: [lab.block_ip]}\n",
        name="ordered.yml",
    )

    playbook = load_playbook(str(path))

    assert playbook.action_keys() == ["lab.isolate_host", "lab.block_domain", "lab.block_ip"]
    assert playbook.events() == ["incident_report"]
    assert playbook.dry_run is False


# -- capabilities ------------------------------------------------------------------------------------------


def test_the_default_playbook_names_capabilities_only() -> None:
    playbook = load_playbook("default")

    assert playbook.action_keys() == []
    assert playbook.capabilities() == [
        Capability.ISOLATE_HOST,
        Capability.DELETE_REGISTRY_VALUE,
        Capability.BLOCK_DOMAIN,
        Capability.BLOCK_IP,
    ]


def test_a_step_runs_its_capabilities_or_its_explicit_actions_in_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name: x\nsteps:\n"
        "  - {id: a, kind: act, capabilities: [block_domain, isolate_host]}\n"
        "  - {id: b, kind: act, actions: [crowdstrike.isolate_host]}\n",
    )

    first, second = load_playbook(str(path)).steps

    assert isinstance(first, ActStep) and isinstance(second, ActStep)
    assert first.actions == ["block_domain", "isolate_host"] and first.vendor_actions is None
    assert second.actions == ["crowdstrike.isolate_host"] and second.capabilities is None


@pytest.mark.parametrize(
    ("step", "field", "says"),
    [
        ("{id: contain, kind: act}", "steps.0.act", "exactly one of 'capabilities'"),
        (
            "{id: contain, kind: act, capabilities: [block_ip], actions: [lab.block_ip]}",
            "steps.0.act",
            "exactly one of 'capabilities'",
        ),
        (
            "{id: contain, kind: act, capabilities: [block_dns]}",
            "steps.0.act.capabilities.0",
            "unknown capability",
        ),
        ("{id: contain, kind: act, capabilities: []}", "steps.0.act.capabilities", "at least 1"),
        ("{id: contain, kind: act, actions: [isolate_host]}", "steps.0.act.actions.0", "is a capability"),
        ("{id: contain, kind: act, actions: ['lab isolate']}", "steps.0.act.actions.0", "not an action key"),
        ("{id: contain, kind: act, capabilities: [block_ip], vendor: panos}", "steps.0.act.vendor", "Extra"),
    ],
    ids=["neither", "both", "unknown-capability", "empty", "capability-as-key", "bad-key", "extra-field"],
)
def test_a_broken_act_step_names_the_step_and_the_field(
    tmp_path: Path, step: str, field: str, says: str
) -> None:
    path = _write(tmp_path, f"name: x\nsteps:\n  - {step}\n")

    with pytest.raises(PlaybookError) as caught:
        load_playbook(str(path))

    message = str(caught.value)
    assert message.startswith(f"{path}: {field}: ") and says in message
    assert message.endswith("(step contain)")
