"""CACAO 2.0: every built-in playbook exports to a schema-valid document that imports back equal, the same
each time; foreign playbooks (SOARCA's examples, a partner's) import as far as Garrison can run them, and
what it cannot run is refused naming the step and the field."""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from actions import Capability
from actions.openc2 import (
    Dialect,
    er_allow,
    er_contain,
    er_delete_registry,
    parse_command,
    slpf_delete_rule,
    slpf_deny,
)
from playbooks import (
    EscalateStep,
    Playbook,
    PlaybookError,
    builtin_playbooks,
    export_cacao,
    import_cacao,
    load_playbook,
    validate_cacao,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cacao"
SOARCA = FIXTURES / "soarca"
BUILTIN = builtin_playbooks()
OPENC2_DIALECT = Dialect(profiles=frozenset({"slpf", "er"}))


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _steps(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: step for key, step in document["workflow"].items() if step["type"] == kind}


def _named(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(step for step in document["workflow"].values() if step.get("name") == name)


def _refused(document: Any) -> str:
    with pytest.raises(PlaybookError) as caught:
        import_cacao(document)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- export ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.stem)
def test_a_builtin_playbook_exports_schema_valid_and_imports_back_equal(path: Path) -> None:
    playbook = load_playbook(str(path))
    document = export_cacao(playbook)

    validate_cacao(document)
    assert document["type"] == "playbook" and document["spec_version"] == "cacao-2.0"
    assert import_cacao(json.loads(json.dumps(document))) == playbook


@pytest.mark.parametrize("path", BUILTIN, ids=lambda p: p.stem)
def test_export_is_deterministic(path: Path) -> None:
    playbook = load_playbook(str(path))

    first, second = export_cacao(playbook), export_cacao(playbook.model_copy(deep=True))

    assert json.dumps(first) == json.dumps(second)


def test_ids_and_timestamps_derive_from_the_playbook() -> None:
    playbook = load_playbook("default")
    document = export_cacao(playbook)
    newer = export_cacao(playbook.model_copy(update={"version": "3"}))

    # The playbook's id says which playbook (UUIDv5); its versions differ by `modified`, as CACAO orders them.
    assert uuid.UUID(document["id"].split("--")[1]).version == 5
    assert newer["id"] == document["id"]
    assert document["created"] == newer["created"] < document["modified"] < newer["modified"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", document["modified"])
    # CACAO wants UUIDv4 step ids; a new version gets new step ids.
    assert all(uuid.UUID(key.split("--")[1]).version == 4 for key in document["workflow"])
    assert not set(document["workflow"]) & set(newer["workflow"])


def test_a_verdict_condition_is_an_if_condition_around_its_step() -> None:
    document = export_cacao(load_playbook("default"))
    workflow = document["workflow"]
    condition = _named(document, "close: verdict")

    assert condition["type"] == "if-condition"
    assert condition["condition"] == "__verdict__:value IN ('malicious', 'benign')"
    close = workflow[condition["on_true"]]
    assert close["name"] == "close" and workflow[close["on_success"]]["type"] == "end"
    assert workflow[condition["on_completion"]]["name"] == "tell-customer"
    assert document["playbook_variables"]["__verdict__"]["external"] is True


def test_an_escalation_is_a_manual_command_for_the_analyst() -> None:
    document = export_cacao(load_playbook("default"))
    ask = _named(document, "ask-analyst")

    assert ask["commands"][0]["type"] == "manual"
    assert ask["commands"][0]["command"] == "gray verdict - an analyst decides"
    assert document["agent_definitions"][ask["agent"]]["type"] == "group"


def test_on_failure_is_the_steps_failure_pointer() -> None:
    playbook = Playbook.model_validate(
        {
            "name": "failures",
            "steps": [
                {"id": "enrich", "kind": "enrich", "on_failure": "continue", "timeout": 30},
                {"id": "classify", "kind": "classify", "on_failure": "stop"},
                {"id": "close", "kind": "close"},
            ],
        }
    )
    document = export_cacao(playbook)
    workflow = document["workflow"]
    enrich, classify, close = (_named(document, name) for name in ("enrich", "classify", "close"))

    assert workflow[enrich["on_completion"]]["name"] == "classify"
    assert enrich["timeout"] == 30_000 and "on_failure" not in enrich
    assert workflow[classify["on_failure"]]["type"] == "end"
    handover = workflow[close["on_failure"]]
    assert (
        handover["commands"][0]["type"] == "manual" and workflow[handover["on_completion"]]["type"] == "end"
    )
    assert import_cacao(document) == playbook


def _key(document: dict[str, Any], name: str) -> str:
    return next(key for key, step in document["workflow"].items() if step.get("name") == name)


def _openc2(command: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(base64.b64decode(command["content_b64"]))
    return message


def _filled(message: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(message)
    for variable, value in values.items():
        text = text.replace(json.dumps(variable), json.dumps(value))
    filled: dict[str, Any] = json.loads(text)
    return filled


SAMPLE = {
    "__incident_ip__:value": "198.51.100.7",
    "__incident_domain__:value": "evil.example",
    "__incident_url__:value": "https://evil.example/payload",
    "__incident_sha256__:value": "a" * 64,
    "__incident_host__:value": "WS-FINANCE-07",
    "__registry_key__:value": r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
    "__registry_value_name__:value": "updater",
    "__rule_number__:value": 1234,
}


def test_containment_sends_the_openc2_commands_garrisons_adapter_sends() -> None:
    playbook = Playbook.model_validate(
        {
            "name": "all",
            "steps": [{"id": "act", "kind": "act", "capabilities": [c.value for c in Capability]}],
        }
    )
    commands = _named(export_cacao(playbook), "act")["commands"]
    by_capability = {
        Capability(c["description"].split(":")[0]): c for c in commands if c["type"] == "openc2-http"
    }
    sent = {capability: _filled(_openc2(c), SAMPLE) for capability, c in by_capability.items()}

    host, key, name = "WS-FINANCE-07", SAMPLE["__registry_key__:value"], "updater"
    assert sent[Capability.ISOLATE_HOST] == er_contain(host).to_message()
    assert sent[Capability.RELEASE_HOST] == er_allow(host).to_message()
    assert sent[Capability.BLOCK_IP] == slpf_deny("198.51.100.7").to_message()
    assert sent[Capability.UNBLOCK_IP] == slpf_delete_rule(1234).to_message()
    assert sent[Capability.DELETE_REGISTRY_VALUE] == er_delete_registry(host, key, name).to_message()
    for message in sent.values():  # every one is valid OpenC2 once the incident fills its variables
        parse_command(message, OPENC2_DIALECT)
    # What OpenC2 cannot say is a manual command naming the capability, which Garrison runs all the same.
    manual = [c["command"].split(":")[0] for c in commands if c["type"] == "manual"]
    assert sorted(manual) == sorted(c.value for c in Capability if c not in by_capability)
    assert "kill_process" in manual and "block_ip" not in manual


# -- import: SOARCA's examples -----------------------------------------------------------------------------

_DOCS, _FIN = "action--a32cdbb6-403a-47c7-a35b-07430a8de3fd", "action--2fd6bca0-24ed-4d74-8eae-da126a84f7c4"
_FIRST, _PS = "action--eb9372d4-d524-49fc-bf24-be26ea084779", "action--010b0420-db3e-4810-ba75-08a10f473214"
_IMC, _BIA = "action--a76dbc32-b739-427b-ae13-4ec703d5797e", "action--9fcc5c3b-0b70-4d73-b922-cf5491dcd1a4"
REFUSED = {
    # Invalid against the CACAO schemas: refused with the error's JSON path and step.
    "docs-executable-playbooks-example": f"CACAO schema: $.workflow['{_DOCS}']: 'agent' is a required "
    f"property (step {_DOCS})",
    "fin-playbook": f"CACAO schema: $.workflow['{_FIN}'].agent: 'soarca-fin-pong-f896bb3b-bb37-429e-8ece-"
    f"2d4286cf326d' is not a valid identifier (step {_FIN})",
    # Valid, but a command Garrison has no capability for.
    "http-playbook": f"CACAO step {_FIRST}: commands[0]: command: http-api 'GET get HTTP1.1' calls an HTTP",
    "openc2-playbook": f"CACAO step {_FIRST}: commands[0]: OpenC2 deny ipv4_connection has no Garrison",
    "powershell-playbook": f"CACAO step {_PS}: commands[0]: type: 'powershell' commands cannot be mapped",
    "ssh-playbook": f"CACAO step {_FIRST}: commands[0]: type: 'ssh' commands cannot be mapped",
    "test-infinite_playbook": f"CACAO step {_IMC}: commands[0]: command: http-api "
    "'GET http://__imc_address__/by/__cve__' calls an HTTP API",
    "test-parallels_playbook": f"CACAO step {_BIA}: commands[0]: command: http-api "
    "'GET http://__bia_address__/analysisreport/__cve__' calls an HTTP API",
    "test-playbook": f"CACAO step {_IMC}: commands[0]: command: http-api "
    "'GET http://__imc_address__/by/__cve__' calls an HTTP API",
}


def test_every_soarca_example_has_an_expected_outcome() -> None:
    assert sorted(p.stem for p in SOARCA.glob("*.json")) == sorted([*REFUSED, "manual-playbook"])


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_soarca_example_garrison_cannot_run_is_refused_saying_where_and_why(name: str) -> None:
    assert _refused(_load(SOARCA / f"{name}.json")).startswith(REFUSED[name])


# Asked to (``--by-hand``), every schema-valid example imports: what Garrison will not run becomes an
# analyst's step that shows the command; nothing foreign is ever executed. Only the loop stays refused.
BY_HAND = {
    "http-playbook": ["by hand (http-api): GET get HTTP1.1"],
    "openc2-playbook": ["by hand (openc2): POST post HTTP1.1"],
    "powershell-playbook": ["by hand (powershell): pwd"],
    "ssh-playbook": ["by hand (ssh): __command__:value", "by hand (ssh): touch __path__:value"],
    "test-parallels_playbook": ["by hand (http-api): GET http://__bia_address__/analysisreport/__cve__"],
    "test-playbook": [
        "by hand (http-api): GET http://__imc_address__/by/__cve__",
        "by hand (http-api): GET http://__bia_address__/analysisreport/__cve__",
    ],
}


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_by_hand_a_schema_valid_soarca_example_imports_as_analyst_steps(name: str) -> None:
    playbook = import_cacao(_load(SOARCA / f"{name}.json"), by_hand=True)

    steps = [step for step in playbook.steps if isinstance(step, EscalateStep)]
    assert len(steps) == len(playbook.steps)  # nothing automated: a person does each command
    for expected in BY_HAND[name]:
        assert any(expected in step.reason for step in steps), (expected, [s.reason for s in steps])


def test_by_hand_a_loop_is_still_refused() -> None:
    with pytest.raises(PlaybookError, match="no loops"):
        import_cacao(_load(SOARCA / "test-infinite_playbook.json"), by_hand=True)


def test_soarcas_manual_example_becomes_an_escalation() -> None:
    playbook = import_cacao(_load(SOARCA / "manual-playbook.json"))

    assert playbook.model_dump(mode="json", by_alias=True, exclude_defaults=True) == {
        "id": "example-manual",
        "name": "Example manual",
        "description": "This playbook is to demonstrate the manual command definition",
        "playbook_types": ["notification"],
        "steps": [
            {
                "id": "manual",
                "kind": "escalate",
                "reason": "prepare Falcon for hyperspeed jump",
                "timeout": 100,  # 100000 ms
                "on_failure": "continue",  # on_completion: the next step runs whatever happens
            }
        ],
    }


def _manual_only(document: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    for step in _steps(changed, "action").values():
        step["commands"] = [{"type": "manual", "command": f"do by hand: {step['name']}"}]
    return changed


def test_soarcas_parallel_branches_run_one_after_the_other() -> None:
    playbook = import_cacao(_manual_only(_load(SOARCA / "test-parallels_playbook.json")))

    assert [(s.id, s.kind) for s in playbook.steps] == [("bia-for-cve", "escalate")]


def test_a_loop_is_refused_naming_the_step() -> None:
    message = _refused(_manual_only(_load(SOARCA / "test-infinite_playbook.json")))

    assert message.startswith(
        "CACAO step action--6b23c237-ade8-4d00-9aa1-75999738d557: on_completion returns to step "
        "action--6b23c237-ade8-4d00-9aa1-75999738d557"
    )


# -- import: a partner's containment playbook --------------------------------------------------------------


def test_a_partners_openc2_playbook_imports_as_capabilities_conditions_and_escalations() -> None:
    playbook = import_cacao(_load(FIXTURES / "partner-containment.json"))

    assert playbook.model_dump(mode="json", by_alias=True, exclude_defaults=True) == {
        "id": "partner-containment-malicious-host",
        "name": "Partner containment (malicious host)",
        "description": "A partner MSSP's playbook: contain and block when the verdict is malicious, call the "
        "customer otherwise.",
        "playbook_types": ["mitigation", "engagement"],
        "steps": [
            # if-condition on_true → parallel: contain device (openc2-http), deny ipv4_net (in an envelope)
            {
                "id": "isolate-host",
                "kind": "act",
                "capabilities": ["isolate_host"],
                "when": {"verdict": ["malicious"]},
                "on_failure": "continue",
                "timeout": 91,
            },
            {
                "id": "block-attacker-ip",
                "kind": "act",
                "capabilities": ["block_ip"],
                "when": {"verdict": ["malicious"]},
            },  # no on_failure pointer: the playbook's exception handler, an analyst in Garrison
            # on_false → a manual command: a person does it
            {
                "id": "call-the-customer",
                "kind": "escalate",
                "reason": "Call the customer's security contact and agree on next steps",
                "when": {"verdict": ["suspicious", "benign"]},
                "on_failure": "continue",
            },
            # http-api whose body is an OpenC2 command; on_failure → the end step
            {"id": "block-c2-domain", "kind": "act", "capabilities": ["block_domain"], "on_failure": "stop"},
            {
                "id": "write-the-summary",
                "kind": "escalate",
                "reason": "Write the incident summary for the customer",
                "on_failure": "continue",
            },
        ],
    }


def _partner() -> dict[str, Any]:
    return _load(FIXTURES / "partner-containment.json")


def _set_openc2(document: dict[str, Any], step: str, message: dict[str, Any]) -> None:
    command = _named(document, step)["commands"][0]
    command["content_b64"] = base64.b64encode(json.dumps(message).encode()).decode()


def test_an_openc2_command_without_a_capability_is_refused_by_name() -> None:
    document = _partner()
    _set_openc2(
        document, "Isolate host", {"action": "scan", "target": {"device": {"hostname": "__host__:value"}}}
    )

    message = _refused(document)

    assert re.match(
        r"CACAO step action--[0-9a-f-]+: commands\[0\]: OpenC2 scan device has no Garrison capability",
        message,
    )


def test_a_fixed_target_is_refused_garrison_acts_on_the_incidents() -> None:
    document = _partner()
    _set_openc2(document, "Isolate host", {"action": "contain", "target": {"device": {"hostname": "WS-01"}}})

    assert "OpenC2 contain device names a fixed target ('WS-01')" in _refused(document)


def test_a_condition_on_anything_but_the_verdict_is_refused() -> None:
    document = _partner()
    _named(document, "Malicious?")["condition"] = "__host__:value = 'WS-01'"

    assert "condition: Garrison can test only the verdict" in _refused(document)


@pytest.mark.parametrize(
    ("condition", "verdicts"),
    [
        ("__verdict__:value != 'benign'", ["malicious", "suspicious"]),
        (
            "[__verdict__:value = 'suspicious' OR __verdict__:value = 'malicious']",
            ["suspicious", "malicious"],
        ),
        ("__verdict__:value NOT IN ('benign', 'suspicious')", ["malicious"]),
        (
            "__verdict__:value IN ('malicious', 'suspicious') AND __verdict__:value != 'malicious'",
            ["suspicious"],
        ),
    ],
)
def test_verdict_conditions_become_when(condition: str, verdicts: list[str]) -> None:
    document = _partner()
    _named(document, "Malicious?")["condition"] = condition

    first = import_cacao(document).steps[0]

    assert first.when.verdict == verdicts


def test_manual_and_automated_commands_in_one_step_are_refused() -> None:
    document = _partner()
    _named(document, "Isolate host")["commands"].append({"type": "manual", "command": "check the host"})

    assert "commands: mixes manual and automated commands" in _refused(document)


def test_a_while_loop_is_refused() -> None:
    document = _partner()
    key = _key(document, "Malicious?")
    loop = key.replace("if-condition--", "while-condition--")
    document = json.loads(json.dumps(document).replace(key, loop))
    document["workflow"][loop]["type"] = "while-condition"

    assert _refused(document).startswith(f"CACAO step {loop}: type: a while-condition step cannot be mapped")


# -- import: refusals say where -----------------------------------------------------------------------------


def test_a_schema_error_names_its_path_and_step() -> None:
    document = export_cacao(load_playbook("default"))
    key = _key(document, "contain")
    del document["workflow"][key]["agent"]

    assert (
        _refused(document)
        == f"CACAO schema: $.workflow['{key}']: 'agent' is a required property (step {key})"
    )


def test_a_broken_openc2_body_is_refused() -> None:
    document = _partner()
    _named(document, "Isolate host")["commands"][0]["content_b64"] = base64.b64encode(b"not json").decode()

    assert "content_b64: not JSON" in _refused(document)


def test_a_tampered_garrison_extension_is_refused_naming_the_step() -> None:
    document = export_cacao(load_playbook("default"))
    key = _key(document, "close")
    extension = next(iter(document["workflow"][key]["step_extensions"].values()))
    extension["kind"] = "explode"

    assert _refused(document).startswith(f"CACAO step {key}: step_extensions: garrison extension: kind:")


def test_hostile_text_stays_data() -> None:
    document = _partner()
    _named(document, "Call the customer")["commands"][0]["command"] = "call \x1b]52;c;Y2F0\x07 [bold]now[/]"
    _named(document, "Call the customer")["name"] = "../../etc/passwd\n- id: x"

    step = import_cacao(document).steps[2]

    assert step.id == "etc-passwd-id-x"
    assert step.reason == "call \x1b]52;c;Y2F0\x07 [bold]now[/]"  # kept as written; shown escaped by the CLI


def test_not_a_document_is_refused() -> None:
    assert _refused([1, 2]) == "CACAO: the document is not a JSON object"
    assert _refused({"type": "playbook"}).startswith("CACAO schema: $: ")
