"""Every event renders for a sample incident in every language and channel, from its one template per
event and channel, with the same phrases in every language catalog."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from flows.notify import (
    CHANNELS,
    LANGUAGES,
    TEMPLATES_DIR,
    Event,
    campaign_context,
    incident_context,
    render_channel,
)
from flows.notify._i18n import catalog, placeholders
from flows.notify._render import TEMPLATE_PHRASES
from flows.settings import get_settings

Sample = Any  # tests/notify/conftest.py: incident, alerts, tenant, details

EVENTS = [event.value for event in Event]
LIVE_URL = re.compile(r"(?:https?|ftp)://", re.I)


def context_for(event: str, sample: Sample, language: str) -> dict[str, object]:
    if event == Event.CAMPAIGN_WARNING:
        return campaign_context(sample.incident, sample.tenant, language=language, details=sample.details)
    return incident_context(
        sample.incident, sample.tenant, language=language, alerts=sample.alerts, details=sample.details
    )


def without_our_links(text: str) -> str:
    """Analyst messages link to our own Prefect UI on purpose; nothing else may be a live link."""
    return text.replace(get_settings().prefect_ui_url, "")


@pytest.mark.parametrize("channel", list(CHANNELS))
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("event", EVENTS)
def test_every_template_renders_in_every_language_and_channel(
    sample: Callable[..., Sample], event: str, language: str, channel: str
) -> None:
    s = sample()
    message = render_channel(event, channel, language, context_for(event, s, language))

    assert message.language == language  # no silent fallback to English
    assert message.template == f"{event}.{channel}.{CHANNELS[channel]}.j2"
    assert message.subject and len(message.body) > 100
    assert not LIVE_URL.search(without_our_links(message.subject + message.body))
    assert "None" not in message.body and "undefined" not in message.body.lower()
    if event != Event.CAMPAIGN_WARNING:
        assert s.incident.id[:8] in message.subject + message.body


def test_every_event_has_one_template_per_channel_and_no_language_has_its_own() -> None:
    names = {p.name for p in TEMPLATES_DIR.glob("*.j2")}

    assert {f"{event}.{channel}.{ext}.j2" for event in EVENTS for channel, ext in CHANNELS.items()} <= names
    assert sorted(str(p.relative_to(TEMPLATES_DIR)) for p in TEMPLATES_DIR.glob("*/*.j2")) == []


def test_the_languages_are_the_catalogs_present() -> None:
    catalogs = {p.parent.name for p in TEMPLATES_DIR.glob("*/messages.yaml")}

    assert LANGUAGES[0] == "en" and set(LANGUAGES) == catalogs


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_every_catalog_has_the_english_phrases_and_placeholders(language: str) -> None:
    english, other = catalog("en"), catalog(language)

    assert other.keys() == english.keys()
    # The template: phrases may leave out a value the template offers (an English greeting has no
    # MDR name in it, a Japanese one does); test_catalogs checks them against the templates' calls.
    data_phrases = [key for key in english.keys() if not key.startswith(TEMPLATE_PHRASES)]
    differing = [
        key for key in data_phrases if placeholders(english.raw(key)) != placeholders(other.raw(key))
    ]
    assert differing == []


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_translations_are_not_english_placeholders(language: str) -> None:
    english, other = catalog("en"), catalog(language)
    # Names, units and technical terms may stay as they are; sentences must not.
    sentences = [key for key in english.keys() if len(english.raw(key).split()) >= 4]

    untranslated = [key for key in sentences if other.raw(key) == english.raw(key)]
    assert untranslated == []
    assert all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", other.raw(key)) for key in sentences)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_mykings_report_tells_the_whole_story(sample: Callable[..., Sample], language: str) -> None:
    s = sample()
    context = incident_context(s.incident, s.tenant, language=language, alerts=s.alerts)

    report = render_channel("incident_report", "text", language, context)

    body = report.body
    assert "hxxp://js[.]mykings[.]top:280/v[.]sct" in body and "js.mykings.top" not in body
    assert "2017-07-23 03:14 UTC" in body  # earliest evidence: the Run values were written
    assert context["dwell"]["dwell"] == {"en": "about 2 years", "zh-TW": "約 2 年", "ja": "約2年"}[language]
    assert "regsvr32.exe" in body and "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\start" in body
    assert len(context["mitigations"]) >= 6  # type: ignore[arg-type]
