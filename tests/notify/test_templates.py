"""Every event renders for a sample incident in every language and channel, from its own language's
template (no silent fallback), with the same phrases in every language catalog."""

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

    assert message.language == language
    assert message.template == f"{language}/{event}.{channel}.{CHANNELS[channel]}.j2"
    assert message.subject and len(message.body) > 100
    assert not LIVE_URL.search(without_our_links(message.subject + message.body))
    assert "None" not in message.body and "undefined" not in message.body.lower()
    if event != Event.CAMPAIGN_WARNING:
        assert s.incident.id[:8] in message.subject + message.body


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_every_template(language: str) -> None:
    names = sorted(p.name for p in (TEMPLATES_DIR / "en").glob("*.j2"))

    assert names == sorted(p.name for p in (TEMPLATES_DIR / language).glob("*.j2"))
    assert {f"{event}.{channel}.{ext}.j2" for event in EVENTS for channel, ext in CHANNELS.items()} <= set(
        names
    )


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_every_catalog_has_the_english_phrases_and_placeholders(language: str) -> None:
    english, other = catalog("en"), catalog(language)

    assert other.keys() == english.keys()
    differing = [
        key for key in english.keys() if placeholders(english.raw(key)) != placeholders(other.raw(key))
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
