"""The catalogs word the templates: every phrase a template asks for (``t("key", …)``) is in every
language's catalog and uses only the values the template gives it; a language is added by adding a
catalog, without touching a template."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from jinja2 import Environment, nodes
from jinja2.exceptions import SecurityError

from flows.notify import (
    CHANNELS,
    LANGUAGES,
    TEMPLATES_DIR,
    Event,
    campaign_context,
    incident_context,
    languages,
    render,
    render_channel,
)
from flows.notify._i18n import catalog, placeholders
from flows.notify._render import TEMPLATE_PHRASES

EVENTS = [event.value for event in Event]


def phrase_calls(templates_dir: Path = TEMPLATES_DIR) -> dict[str, list[set[str]]]:
    """Every ``t("key", name=…)`` in the templates: key → the value names given at each call. Read from
    the templates' syntax trees, so a phrase is checked whether or not a sample incident reaches it."""
    calls: dict[str, list[set[str]]] = defaultdict(list)
    parser = Environment()
    for path in sorted(templates_dir.glob("*.j2")):
        tree = parser.parse(path.read_text(encoding="utf-8"))
        for call in tree.find_all(nodes.Call):
            if not (isinstance(call.node, nodes.Name) and call.node.name == "t"):
                continue
            key = call.args[0] if call.args else None
            assert isinstance(key, nodes.Const) and isinstance(key.value, str), (
                f"{path.name}:{call.lineno}: t() names its phrase literally, so that it can be checked"
            )
            calls[key.value].append({keyword.key for keyword in call.kwargs})
    return calls


def missing_phrases(language: str, templates_dir: Path = TEMPLATES_DIR) -> list[str]:
    """The phrases the templates use that ``language``'s own catalog lacks (English would stand in)."""
    own = catalog(language, templates_dir).keys()
    return sorted(key for key in phrase_calls(templates_dir) if TEMPLATE_PHRASES + key not in own)


def test_the_templates_ask_for_phrases() -> None:
    calls = phrase_calls()

    assert len(calls) > 100
    assert {"colon", "letter.greeting", "incident_report.subject"} <= set(calls)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_has_every_phrase_a_template_uses(language: str) -> None:
    assert missing_phrases(language) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_phrase_uses_only_values_its_templates_give(language: str) -> None:
    words = catalog(language)

    unknown = {
        key: sorted(placeholders(words.raw(TEMPLATE_PHRASES + key)) - given)
        for key, sites in phrase_calls().items()
        for given in sites
        if placeholders(words.raw(TEMPLATE_PHRASES + key)) - given
    }
    assert unknown == {}


def test_no_template_phrase_is_left_unused() -> None:
    used = set(phrase_calls())
    keys = catalog("en").keys()
    english = {key.removeprefix(TEMPLATE_PHRASES) for key in keys if key.startswith(TEMPLATE_PHRASES)}

    assert sorted(english - used) == []


def test_a_catalog_without_a_phrase_is_caught(tmp_path: Path) -> None:
    shutil.copytree(TEMPLATES_DIR, tmp_path / "templates")
    path = tmp_path / "templates" / "ja" / "messages.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["template"]["incident_report"]["questions"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    assert missing_phrases("ja", tmp_path / "templates") == ["incident_report.questions"]


# -- a fourth language ---------------------------------------------------------------------------------------


@pytest.fixture
def with_xx(tmp_path: Path) -> Path:
    """A copy of the templates with one more catalog: English, copied under the code ``xx``."""
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    (templates / "xx").mkdir()
    shutil.copy(templates / "en" / "messages.yaml", templates / "xx" / "messages.yaml")
    return templates


def _render(sample: Any, event: str, channel: str, language: str, templates: Path) -> Any:
    if event == Event.CAMPAIGN_WARNING:
        context = campaign_context(
            sample.incident, sample.tenant, language=language, details=sample.details, templates_dir=templates
        )
    else:
        context = incident_context(
            sample.incident,
            sample.tenant,
            language=language,
            alerts=sample.alerts,
            details=sample.details,
            templates_dir=templates,
        )
    return render_channel(event, channel, language, context, templates)


def test_a_new_catalog_is_a_new_language(with_xx: Path) -> None:
    assert languages(with_xx) == ("en", *sorted([*LANGUAGES[1:], "xx"]))
    assert "xx" not in LANGUAGES  # the real templates are untouched
    assert missing_phrases("xx", with_xx) == []


def test_a_fourth_language_renders_every_event_without_a_template_of_its_own(
    with_xx: Path, sample: Callable[..., Any]
) -> None:
    s = sample()
    templates_before = {p.name: p.read_bytes() for p in with_xx.glob("*.j2")}

    for event in EVENTS:
        for channel in CHANNELS:
            xx = _render(s, event, channel, "xx", with_xx)
            en = _render(s, event, channel, "en", with_xx)

            assert xx.language == "xx" and xx.template == f"{event}.{channel}.{CHANNELS[channel]}.j2"
            assert xx.subject == en.subject
            assert xx.body == en.body.replace('<html lang="en">', '<html lang="xx">')
    assert {p.name: p.read_bytes() for p in with_xx.glob("*.j2")} == templates_before
    assert not list(with_xx.glob("xx/*.j2"))


def test_the_new_language_is_worded_from_its_own_catalog(with_xx: Path, sample: Callable[..., Any]) -> None:
    path = with_xx / "xx" / "messages.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["mdr_name"] = "Garrison XX"  # a data phrase, filled in by code
    data["template"]["letter"]["greeting"] = "Hallo {customer}!"  # a template phrase
    data["template"]["colon"] = " : "
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    report = _render(sample(), "incident_report", "text", "xx", with_xx)

    assert report.body.startswith("Hallo Demo Customer Ltd.!\n")
    assert "  - URL : hxxp://js[.]mykings[.]top:280/v[.]sct" in report.body
    assert report.body.endswith("-- Garrison XX\n")


# -- catalog text is data ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "shown"),
    [
        ("text", "<b>{7*7}</b> *x* WE DID"),
        ("markdown", "## \\<b\\>{7\\*7}\\</b\\> \\*x\\* we did\n"),
        ("html", "<h3>&lt;b&gt;{7*7}&lt;/b&gt; *x* we did</h3>"),
        ("slack", "*&lt;b&gt;{7*7}&lt;/b&gt; *x* we did*"),
    ],
)
def test_catalog_text_is_shown_escaped_never_run(
    with_xx: Path, sample: Callable[..., Any], channel: str, shown: str
) -> None:
    path = with_xx / "xx" / "messages.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["template"]["heading"]["did"] = "<b>{{7*7}}</b> *x* we did"
    data["template"]["heading"]["did_text"] = "<b>{{7*7}}</b> *x* WE DID"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    s = sample()

    message = _render(s, "incident_report", channel, "xx", with_xx)

    assert shown in message.body
    assert "{{" not in message.body
    # The id is shown whole and as its first 8 characters; either may contain "49" by chance.
    shown_ids = message.body.replace(s.incident.id, "").replace(s.incident.id[:8], "")
    assert "49" not in re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "", shown_ids)


def test_the_phrase_helper_opens_nothing_to_templates(tmp_path: Path) -> None:
    (tmp_path / "probe.text.txt.j2").write_text("Subject\n{{ t.__call__.__globals__ }}\n", encoding="utf-8")

    with pytest.raises(SecurityError):
        render("probe", "text", "txt", "en", {}, templates_dir=tmp_path)
