"""notify_event: customer events reach the tenant in its language, analyst events the MDR's own
channels; every message leaves a receipt per target on the incident; tenants never cross."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from flows.notify import EventDetails, notify_event, render_report
from flows.settings import Settings
from flows.store import Store
from flows.tenants import NotifyTarget


@pytest.fixture
def failing_webhook() -> Iterator[str]:
    """A loopback endpoint that answers 500 to everything."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(500)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"json://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _outbox(settings: Settings, folder: str) -> list[str]:
    path = settings.outbox_dir / folder
    return [p.read_text(encoding="utf-8") for p in sorted(path.glob("*"))] if path.exists() else []


def test_a_customer_event_reaches_the_tenant_in_its_language_with_a_receipt(
    settings: Settings, store: Store, sample: Callable[..., Any]
) -> None:
    s = sample()
    tenant = s.tenant.model_copy(update={"language": "ja"})

    [receipt] = notify_event("containment_done", s.incident.id, tenant=tenant, store=store)

    assert receipt.delivered and receipt.target == "outbox://…" and receipt.language == "ja"
    [note] = store.incident(s.incident.id).notifications  # type: ignore[union-attr]
    assert (note.event, note.language, note.target, note.status) == (
        "containment_done",
        "ja",
        "outbox://…",
        "delivered",
    )
    assert note.subject.startswith("[Garrison] 封じ込め完了：")
    [written] = _outbox(settings, "demo")
    assert written.startswith(f"Subject: {note.subject}\n") and "js[.]mykings[.]top" in written
    assert _outbox(settings, "_analysts") == []


def test_analyst_events_go_to_the_mdr_not_to_the_customer(
    settings: Settings, store: Store, sample: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GARRISON_ANALYST_NOTIFY", raising=False)
    s = sample()

    [receipt] = notify_event(
        "escalation", s.incident.id, tenant=s.tenant, store=store, details=EventDetails(reason="gray verdict")
    )

    assert receipt.delivered and receipt.target == "mdr:outbox://…"
    assert _outbox(settings, "demo") == []
    [written] = _outbox(settings, "_analysts")
    assert "Analyst needed: Demo Customer Ltd." in written and "Why: gray verdict" in written


def test_analyst_channels_and_language_come_from_the_environment(
    settings: Settings, store: Store, sample: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GARRISON_ANALYST_NOTIFY", '[{"url": "outbox://soc-tw", "channel": "markdown"}]')
    monkeypatch.setenv("GARRISON_ANALYST_LANGUAGE", "zh-TW")
    s = sample()

    [receipt] = notify_event(
        "approval_requested", s.incident.id, tenant=s.tenant, store=store, details=s.details
    )

    assert receipt.delivered and receipt.channel == "markdown" and receipt.language == "zh-TW"
    [written] = _outbox(settings, "soc-tw")
    assert "需要核准" in written and "將主機自網路隔離" in written


def test_no_analyst_channels_is_said_on_the_timeline(
    store: Store, sample: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GARRISON_ANALYST_NOTIFY", "[]")
    s = sample()

    assert notify_event("escalation", s.incident.id, tenant=s.tenant, store=store) == []

    timeline = [t.message for t in store.incident(s.incident.id).timeline]  # type: ignore[union-attr]
    assert "escalation: no notification targets for the MDR analysts" in timeline


def test_broken_analyst_configuration_is_a_failed_receipt_not_a_crash(
    store: Store,
    sample: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("GARRISON_ANALYST_NOTIFY", '[{"url": "syslog://"}]')
    s = sample()

    with caplog.at_level(logging.ERROR, logger="garrison.notify"):
        assert notify_event("escalation", s.incident.id, tenant=s.tenant, store=store) == []

    [note] = store.incident(s.incident.id).notifications  # type: ignore[union-attr]
    assert note.status == "failed" and note.target == "mdr:(configuration)"
    assert "GARRISON_ANALYST_NOTIFY: 0: " in note.error and "syslog:// is not allowed" in note.error


def test_one_failing_channel_does_not_block_the_others_and_both_are_recorded(
    settings: Settings, store: Store, sample: Callable[..., Any], failing_webhook: str
) -> None:
    s = sample()
    tenant = s.tenant.model_copy(
        update={
            "notify": [
                NotifyTarget(url=failing_webhook, allow_internal=True),
                NotifyTarget(url="outbox://demo"),
            ]
        }
    )

    receipts = notify_event("incident_report", s.incident.id, tenant=tenant, store=store)

    assert [(r.target, r.delivered, r.attempts) for r in receipts] == [
        ("json://…", False, 3),
        ("outbox://…", True, 1),
    ]
    notes = store.incident(s.incident.id).notifications  # type: ignore[union-attr]
    assert [(n.target, n.status, n.error) for n in notes] == [
        ("json://…", "failed", "delivery failed (HTTP 500)"),
        ("outbox://…", "delivered", ""),
    ]
    assert all(n.subject.startswith("[Garrison] MALICIOUS:") for n in notes)
    assert len(_outbox(settings, "demo")) == 1


def test_an_incident_is_told_only_to_its_own_tenant(store: Store, sample: Callable[..., Any]) -> None:
    s = sample()
    stranger = s.tenant.model_copy(update={"id": "other"})

    with pytest.raises(ValueError, match="does not belong to tenant other"):
        notify_event("containment_done", s.incident.id, tenant=stranger, store=store)


def test_a_campaign_warning_goes_to_another_customer_and_is_recorded_on_the_source_incident(
    settings: Settings, store: Store, sample: Callable[..., Any]
) -> None:
    s = sample()
    other = s.tenant.model_copy(
        update={
            "id": "other",
            "name": "Other KK",
            "language": "ja",
            "notify": [NotifyTarget(url="outbox://other")],
        }
    )

    [receipt] = notify_event(
        "campaign_warning", s.incident.id, tenant=other, store=store, details=EventDetails(affected_tenants=2)
    )

    assert receipt.delivered
    [written] = _outbox(settings, "other")
    assert "脅威に関する注意喚起" in written and "js[.]mykings[.]top" in written
    assert "WS-FINANCE-07" not in written and s.incident.id[:8] not in written
    [note] = store.incident(s.incident.id).notifications  # type: ignore[union-attr]
    assert note.event == "campaign_warning" and note.language == "ja"


def test_an_unknown_event_is_an_error(store: Store, sample: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="no_such_event"):
        notify_event("no_such_event", sample().incident.id, store=store)


def test_a_campaign_warning_must_name_whom_it_warns(store: Store, sample: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="needs the tenant to warn"):
        notify_event("campaign_warning", sample().incident.id, store=store)


@pytest.mark.parametrize(
    ("channel", "start"), [("markdown", "# "), ("text", "[Garrison] "), ("html", "[Garrison] ")]
)
def test_the_report_renders_from_the_store(
    store: Store, sample: Callable[..., Any], channel: str, start: str
) -> None:
    s = sample()

    report = render_report(s.incident.id, channel=channel, language="zh-TW", store=store, tenant=s.tenant)

    assert report.language == "zh-TW" and report.subject.startswith(start)
    assert "regsvr32.exe" in report.body and "潛伏時間" in report.body


def test_a_report_in_an_unknown_language_is_written_in_english_with_a_warning(
    store: Store, sample: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    s = sample()

    with caplog.at_level(logging.WARNING, logger="garrison.notify"):
        report = render_report(s.incident.id, language="fr", store=store, tenant=s.tenant)

    assert report.language == "en" and "## Summary" in report.body
    assert any("'fr' is not available" in r.getMessage() for r in caplog.records)


def test_the_public_names_are_exported() -> None:
    import flows.notify as notify

    assert all(hasattr(notify, name) for name in notify.__all__)
    wanted = {"notify_event", "render_report", "EventDetails", "PlannedAction", "Event", "deliver", "render"}
    assert wanted <= set(notify.__all__)
