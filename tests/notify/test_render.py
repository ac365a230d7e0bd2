"""Customer notifications: alert text reaches templates only as inert data, every indicator is defanged,
and one failing channel does not stop the others."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
import requests
from jinja2 import TemplateNotFound
from jinja2.exceptions import SecurityError, UndefinedError

from flows.demo import mykings_alert
from flows.models import Alert, Reason, Verdict, VerdictLabel
from flows.notify import Rendered, deliver, render, render_channel
from flows.notify import incident_context as report_context
from flows.notify._render import MAX_OUTPUT_CHARS, escape_markdown
from flows.settings import Settings
from flows.store import IncidentStatus, IncidentView, Store
from flows.tenants import NotifyTarget, Tenant

TENANT = Tenant(id="demo", name="Demo Customer Ltd.", notify=[NotifyTarget(url="outbox://demo")])
LIVE_URL = re.compile(r"https?://", re.I)

# Payloads put in the alert title and hostname, and how the plain-text report shows them: verbatim, with
# URLs defanged. The markdown report shows the same text once its backslash escapes are read.
INJECTIONS = [
    pytest.param("{{7*7}}", "{{7*7}}", id="jinja-expression"),
    pytest.param("{{''.__class__.__mro__}}", "{{''.__class__.__mro__}}", id="jinja-sandbox-escape"),
    pytest.param(
        "{% for x in range(3) %}x{% endfor %}", "{% for x in range(3) %}x{% endfor %}", id="jinja-statement"
    ),
    pytest.param(
        "<https://evil|Approve> <!channel>", "‹hxxps://evil|Approve› ‹!channel›", id="slack-link-and-mention"
    ),
    pytest.param("<script>alert(1)</script>", "‹script›alert(1)‹/script›", id="html-script"),
    pytest.param("[Approve](https://evil.example)", "[Approve](hxxps://evil[.]example)", id="markdown-link"),
]


def unescape(markdown: str) -> str:
    """What a Markdown reader sees as text: every backslash escape resolved."""
    return re.sub(r"\\(.)", r"\1", markdown)


def live_markup(markdown: str) -> list[str]:
    """Unescaped characters that could start a link, an image, an autolink or raw HTML."""
    return re.findall(r"[\[\]<>]", re.sub(r"\\.", "", markdown))


def _incident(store: Store, title: str | None = None, hostname: str | None = None) -> IncidentView:
    document = mykings_alert()
    if title is not None:
        document["finding_info"]["title"] = title
    if hostname is not None:
        document["device"]["hostname"] = hostname
    receipt = store.record_alert(Alert.model_validate(document), document)
    incident = store.incident(receipt.incident_id)
    assert incident is not None
    return incident


def _text(incident: IncidentView, language: str = "en") -> Rendered:
    return render("incident_report", "text", "txt", language, report_context(incident, TENANT))


def _markdown(incident: IncidentView) -> Rendered:
    return render("incident_report", "markdown", "md", "en", report_context(incident, TENANT))


def _line(body: str, prefix: str) -> str:
    return next(line for line in body.splitlines() if line.startswith(prefix))


def _without_times(text: str) -> str:
    """The text with timestamps removed: they are the only digits a test cannot predict."""
    return re.sub(r"\d{4}-\d\d-\d\d( \d\d:\d\d UTC)?", "", text)


# -- rendering the MyKings incident ------------------------------------------------------------------------


def test_the_text_report_names_the_incident_and_defangs_its_indicators(store: Store) -> None:
    incident = _incident(store)

    message = _text(incident)

    assert message.language == "en" and message.template == "incident_report.text.txt.j2"
    title = "MyKings botnet: scriptlet download and Run-key persistence"
    assert message.subject == f"[Garrison] UNDECIDED: {title} ({incident.id[:8]})"
    assert message.body.startswith("Dear Demo Customer Ltd.,")
    assert f"Incident:  {incident.id}" in message.body
    assert "Hosts:     WS-FINANCE-07" in message.body
    assert "Detected:  2019-07-23 09:00 UTC" in message.body
    assert "  - URL: hxxp://js[.]mykings[.]top:280/v[.]sct" in message.body
    assert "  - Domain: js[.]mykings[.]top" in message.body
    assert "  - No automatic action was taken." in message.body
    assert not LIVE_URL.search(message.subject + message.body)
    assert message.body.endswith("-- Garrison MDR\n")


def test_the_markdown_report_escapes_and_defangs(store: Store) -> None:
    incident = _incident(store)

    report = _markdown(incident)

    assert report.subject.startswith(f"# Incident {incident.id[:8]}: MyKings botnet")
    assert unescape(_line(report.body, "| Hosts |")) == "| Hosts | WS-FINANCE-07 |"
    assert unescape(_line(report.body, "| URL |")).startswith(
        "| URL | hxxp://js[.]mykings[.]top:280/v[.]sct |"
    )
    assert "· intake: alert received from Demo EDR" in report.body
    assert live_markup(report.body) == []
    assert not LIVE_URL.search(report.subject + report.body)


def test_a_classified_contained_incident_reports_verdict_reasons_and_actions(store: Store) -> None:
    incident = _incident(store)
    store.set_verdict(
        incident.id,
        Verdict(
            verdict=VerdictLabel.MALICIOUS,
            score=90,
            reasons=[
                Reason(question="Why are we watching this indicator?", finding="js.mykings.top", effect=50)
            ],
        ),
    )
    entry = store.ledger.claim(
        tenant="demo",
        incident_id=incident.id,
        action="lab.block_domain",
        target="js.mykings.top",
        inputs={"domain": "js.mykings.top"},
        inverse="lab.unblock_domain",
        owner="test",
        lease_seconds=60,
    )
    store.ledger.finish(entry.id, "test", status="succeeded", detail="blocked http://js.mykings.top")
    assert store.claim(incident.id, "run-1")
    store.set_status(incident.id, IncidentStatus.RESPONDING, "containment started", "act")
    store.set_status(incident.id, IncidentStatus.CONTAINED, "contained", "act")
    stored = store.incident(incident.id)
    assert stored is not None

    text, markdown = _text(stored), _markdown(stored)

    assert text.subject.startswith("[Garrison] MALICIOUS: ")
    assert "Verdict:   MALICIOUS (score 90/100)" in text.body
    assert "  - Why are we watching this indicator? js[.]mykings[.]top" in text.body
    assert "  - Block the domain: js[.]mykings[.]top (Done)" in text.body
    assert "Contained: " in text.body
    assert "WHAT WE RECOMMEND" in text.body
    assert "Keep js[.]mykings[.]top blocked on your DNS, proxy and firewall" in text.body
    action_row = unescape(_line(markdown.body, "| Block the domain |"))
    assert action_row == "| Block the domain | js[.]mykings[.]top | Done |"
    assert "(+50)" in markdown.body
    assert not LIVE_URL.search(text.body + markdown.body)


# -- injection ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "shown"), INJECTIONS)
def test_alert_text_is_shown_literally_never_evaluated(store: Store, payload: str, shown: str) -> None:
    incident = _incident(store, title=payload, hostname=payload)

    text, markdown = _text(incident), _markdown(incident)

    assert text.subject == f"[Garrison] UNDECIDED: {shown} ({incident.id[:8]})"
    assert _line(text.body, "Hosts:") == f"Hosts:     {shown}"
    assert unescape(markdown.subject) == f"# Incident {incident.id[:8]}: {shown}"
    assert unescape(_line(markdown.body, "| Hosts |")) == f"| Hosts | {shown} |"
    # Timestamps and the random incident id aside, nothing the payload could have computed appears.
    everything = _without_times(text.subject + text.body + markdown.subject + markdown.body)
    # The id is shown whole and as its first 8 characters; either may contain "49" by chance.
    everything = everything.replace(incident.id, "").replace(incident.id[:8], "")
    assert "49" not in everything
    assert "xxx" not in everything
    assert "<class" not in everything and "object" not in everything
    assert not LIVE_URL.search(everything)


@pytest.mark.parametrize(("payload", "shown"), INJECTIONS)
def test_markdown_output_has_no_live_links_or_html(store: Store, payload: str, shown: str) -> None:
    markdown = _markdown(_incident(store, title=payload, hostname=payload))

    assert live_markup(markdown.subject) == []
    assert live_markup(markdown.body) == []
    assert "](" not in re.sub(r"\\.", "", markdown.subject + markdown.body)


def test_all_injections_at_once(store: Store) -> None:
    payload = " ".join(p.values[0] for p in INJECTIONS)
    incident = _incident(store, title=payload, hostname=payload[:255])

    text, markdown = _text(incident), _markdown(incident)

    shown = " ".join(p.values[1] for p in INJECTIONS)
    assert text.subject == f"[Garrison] UNDECIDED: {shown} ({incident.id[:8]})"
    assert unescape(markdown.subject) == f"# Incident {incident.id[:8]}: {shown}"
    assert r"\[Approve\]" in markdown.subject
    assert live_markup(markdown.subject + markdown.body) == []
    assert not LIVE_URL.search(text.subject + text.body + markdown.subject + markdown.body)


@pytest.mark.parametrize(
    "value",
    ["[a](b) ![img](c) *c* _d_ ~e~ `f` | g", "<b>bold</b> <https://x>", "one\ntwo\r\nthree", "\\[x]"],
)
def test_escape_markdown_keeps_the_text_and_removes_the_markup(value: str) -> None:
    escaped = escape_markdown(value)

    assert "\n" not in escaped and "\r" not in escaped
    assert unescape(escaped) == value.replace("\r", " ").replace("\n", " ")
    assert live_markup(escaped) == []
    assert re.findall(r"[*_~`|!]", re.sub(r"\\.", "", escaped)) == []


# -- languages and templates -------------------------------------------------------------------------------


def test_an_unknown_language_falls_back_to_english_with_a_warning(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    incident = _incident(store)

    with caplog.at_level(logging.WARNING, logger="garrison.notify"):
        message = _text(incident, language="ko")

    assert message.language == "en"
    assert message.template == "incident_report.text.txt.j2"
    assert message.subject == _text(incident).subject
    warnings = [r for r in caplog.records if r.name == "garrison.notify" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "language 'ko' is not available" in warnings[0].getMessage()


@pytest.mark.parametrize("language", ["zh-TW", "ja"])
def test_the_tenants_language_is_used_when_it_has_a_catalog(store: Store, language: str) -> None:
    incident = _incident(store)
    tenant = TENANT.model_copy(update={"language": language})

    message = render("incident_report", "text", "txt", language, report_context(incident, tenant))

    assert message.language == language and message.template == "incident_report.text.txt.j2"
    assert "hxxp://js[.]mykings[.]top:280/v[.]sct" in message.body
    assert not LIVE_URL.search(message.subject + message.body)


def test_an_unknown_event_is_an_error_not_an_empty_message() -> None:
    with pytest.raises(TemplateNotFound):
        render("no_such_event", "text", "txt", "en", {})


def _templates(tmp_path: Path, source: str) -> Path:
    (tmp_path / "probe.text.txt.j2").write_text(source, encoding="utf-8")
    return tmp_path


def test_templates_get_no_globals(tmp_path: Path) -> None:
    directory = _templates(tmp_path, "Subject\n{% for x in range(3) %}x{% endfor %}\n")

    with pytest.raises(UndefinedError):
        render("probe", "text", "txt", "en", {}, templates_dir=directory)


def test_templates_run_in_a_sandbox(tmp_path: Path) -> None:
    directory = _templates(tmp_path, "Subject\n{{ value.__class__.__mro__[1].__subclasses__() }}\n")

    with pytest.raises(SecurityError):
        render("probe", "text", "txt", "en", {"value": ""}, templates_dir=directory)


def test_a_missing_value_is_an_error_not_blank(tmp_path: Path) -> None:
    directory = _templates(tmp_path, "Subject {{ nothing }}\n")

    with pytest.raises(UndefinedError):
        render("probe", "text", "txt", "en", {}, templates_dir=directory)


def test_huge_output_is_truncated(tmp_path: Path) -> None:
    directory = _templates(tmp_path, "Subject {{ title }}\n{{ body }}\n")

    message = render(
        "probe", "text", "txt", "en", {"title": "t" * 1000, "body": "b" * (2 * MAX_OUTPUT_CHARS)}, directory
    )

    assert len(message.subject) == 300
    assert len(message.body) < MAX_OUTPUT_CHARS
    assert message.body.endswith("… (truncated)\n")


# -- delivery ----------------------------------------------------------------------------------------------


def _message() -> Rendered:
    return Rendered(subject="[Garrison] MALICIOUS: test", body="hello\n", language="en", template="en/x")


def _outbox(settings: Settings, tenant: str = "demo") -> list[str]:
    folder = settings.outbox_dir / tenant
    return (
        [path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.txt"))] if folder.exists() else []
    )


def test_delivery_to_the_outbox_writes_a_file_with_the_subject(settings: Settings) -> None:
    receipts = deliver(TENANT, _message())

    assert [(r.target, r.delivered, r.error) for r in receipts] == [("outbox://…", True, "")]
    [written] = _outbox(settings)
    assert written.startswith("Subject: [Garrison] MALICIOUS: test\n")
    assert "hello" in written


def test_an_unset_url_variable_fails_that_target_only(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GARRISON_TEST_UNSET_URL", raising=False)
    tenant = Tenant(
        id="demo",
        name="Demo",
        notify=[NotifyTarget(url_env="GARRISON_TEST_UNSET_URL"), NotifyTarget(url="outbox://demo")],
    )

    receipts = deliver(tenant, _message())

    assert [(r.target, r.delivered) for r in receipts] == [
        ("$GARRISON_TEST_UNSET_URL", False),
        ("outbox://…", True),
    ]
    assert "GARRISON_TEST_UNSET_URL is not set" in receipts[0].error
    assert len(_outbox(settings)) == 1


def test_a_url_from_the_environment_is_used_but_never_shown(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GARRISON_TEST_OUTBOX_URL", "outbox://secret-tenant")
    tenant = Tenant(id="demo", name="Demo", notify=[NotifyTarget(url_env="GARRISON_TEST_OUTBOX_URL")])

    [receipt] = deliver(tenant, _message())

    assert receipt.delivered is True
    assert receipt.target == "$GARRISON_TEST_OUTBOX_URL"
    assert "secret" not in repr(receipt)
    assert len(_outbox(settings, "secret-tenant")) == 1


def test_a_url_we_do_not_send_to_fails_that_target_only(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Literal URLs are refused when the configuration loads; a variable can change after that, so
    # every URL is checked again right before it is used.
    tenant = Tenant(
        id="demo",
        name="Demo",
        notify=[NotifyTarget(url_env="GARRISON_TEST_LATER_URL"), NotifyTarget(url="outbox://demo")],
    )
    monkeypatch.setenv("GARRISON_TEST_LATER_URL", "nosuchscheme://x")

    receipts = deliver(tenant, _message())

    assert [(r.target, r.delivered, r.error) for r in receipts] == [
        ("$GARRISON_TEST_LATER_URL", False, "scheme nosuchscheme:// is not allowed for notifications"),
        ("outbox://…", True, ""),
    ]
    assert receipts[0].attempts == 1  # a refused URL is not retried
    assert len(_outbox(settings)) == 1


def test_a_tenant_without_targets_gets_no_receipts(settings: Settings) -> None:
    assert deliver(Tenant(id="demo", name="Demo"), _message()) == []
    assert _outbox(settings) == []


class _SlackResponse:
    status_code = 200
    content = b"ok"
    text = "ok"
    headers: dict[str, str] = {}


def test_a_hostname_cannot_mention_a_whole_slack_channel(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    posted: list[str] = []

    def fake_request(method: str, url: str, data: str | None = None, **kwargs: object) -> _SlackResponse:
        posted.append(data or "")
        return _SlackResponse()

    monkeypatch.setattr(requests, "request", fake_request)  # no network: capture what Slack would get
    monkeypatch.setenv("GARRISON_TEST_SLACK_URL", "slack://T1ABCDEFG/B1ABCDEFG/abcdefghijklmnopqrstuvwx")
    tenant = Tenant(id="demo", name="Demo", notify=[NotifyTarget(url_env="GARRISON_TEST_SLACK_URL")])
    incident = _incident(store, hostname="<!channel>")
    context = report_context(incident, tenant)

    [receipt] = deliver(tenant, lambda channel: render_channel("incident_report", channel, "en", context))

    assert receipt.delivered is True and receipt.channel == "slack"
    [payload] = posted
    blocks = json.loads(payload)["attachments"][0]["blocks"]
    text = " ".join(block["text"]["text"] for block in blocks if "text" in block)
    assert "<!channel>" not in text and "‹!channel›" in text
