"""Delivery: a channel that fails is retried and recorded as failed while the others succeed; only
transient failures are retried; URLs are checked at load and at send time; secrets stay secret."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from actions import RetryPolicy
from flows.notify import NotifyUrlError, Rendered, channel_for, check_url, deliver
from flows.notify._deliver import RETRY
from flows.settings import Settings
from flows.tenants import NotifyTarget, Tenant, TenantConfigError, load_tenants


class Endpoint:
    """A loopback webhook answering a fixed sequence of HTTP statuses (the last one repeats)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.bodies: list[dict[str, object]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                endpoint.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                status = endpoint.statuses[min(len(endpoint.bodies), len(endpoint.statuses)) - 1]
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # quiet test output
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def calls(self) -> int:
        return len(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoints() -> Iterator[list[Endpoint]]:
    started: list[Endpoint] = []
    yield started
    for endpoint in started:
        endpoint.close()


def _start(endpoints: list[Endpoint], *statuses: int) -> Endpoint:
    endpoint = Endpoint(*statuses)
    endpoints.append(endpoint)
    return endpoint


def _message(channel: str = "text") -> Rendered:
    return Rendered(
        subject="[Garrison] Contained: test", body="hello\n", language="en", template="en/x", channel=channel
    )


def _outbox(settings: Settings, tenant: str = "demo") -> list[Path]:
    folder = settings.outbox_dir / tenant
    return sorted(folder.glob("*")) if folder.exists() else []


def _at_once(attempts: int = 3) -> RetryPolicy:
    """Notify's own retry policy without its waits."""
    return replace(RETRY, attempts=attempts, backoff=None)


def _local(url: str) -> NotifyTarget:
    return NotifyTarget(url=url, allow_internal=True)  # the loopback test endpoints are internal on purpose


# -- retries and isolation ---------------------------------------------------------------------------------


def test_a_failing_channel_is_retried_and_recorded_as_failed_while_the_others_succeed(
    settings: Settings, endpoints: list[Endpoint]
) -> None:
    broken, working = _start(endpoints, 500), _start(endpoints, 200)
    tenant = Tenant(
        id="demo",
        name="Demo",
        notify=[_local(broken.url), _local(working.url), NotifyTarget(url="outbox://demo")],
    )

    receipts = deliver(tenant, _message(), retry=_at_once(3))

    assert [(r.target, r.delivered, r.attempts) for r in receipts] == [
        ("json://…", False, 3),
        ("json://…", True, 1),
        ("outbox://…", True, 1),
    ]
    assert receipts[0].error == "delivery failed (HTTP 500)"
    assert broken.calls == 3 and working.calls == 1
    assert working.bodies[0]["title"] == "[Garrison] Contained: test"
    assert len(_outbox(settings)) == 1


def test_notify_retries_three_times_with_jittered_waits_of_at_most_two_seconds() -> None:
    assert RETRY.attempts == 3 and RETRY.clock is None and RETRY.backoff is not None  # sleeps: time.sleep
    assert [RETRY.backoff.ceiling(n) for n in (1, 2, 3, 4, 5)] == [0.25, 0.5, 1.0, 2.0, 2.0]


def test_a_transient_failure_that_clears_is_delivered_on_a_later_attempt(endpoints: list[Endpoint]) -> None:
    flaky = _start(endpoints, 503, 429, 200)

    [receipt] = deliver([_local(flaky.url)], _message(), retry=_at_once(3))

    assert receipt.delivered is True and receipt.attempts == 3 and flaky.calls == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_a_refusal_by_the_service_is_not_retried(endpoints: list[Endpoint], status: int) -> None:
    refusing = _start(endpoints, status)

    [receipt] = deliver([_local(refusing.url)], _message(), retry=_at_once(3))

    assert receipt.delivered is False and receipt.attempts == 1 and refusing.calls == 1
    assert receipt.error == f"refused by the service (HTTP {status})"


def test_an_endpoint_that_does_not_answer_is_retried_then_failed() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    [receipt] = deliver([_local(f"json://127.0.0.1:{port}/")], _message(), retry=_at_once(2))

    assert receipt.delivered is False and receipt.attempts == 2 and receipt.error == "delivery failed"


def test_the_message_is_written_for_each_targets_channel(
    endpoints: list[Endpoint], settings: Settings
) -> None:
    webhook = _start(endpoints, 200)
    asked: list[str] = []

    def written(channel: str) -> Rendered:
        asked.append(channel)
        return _message(channel)

    receipts = deliver(
        [_local(webhook.url), NotifyTarget(url="outbox://demo", channel="markdown")],
        written,
        retry=_at_once(),
    )

    assert asked == ["text", "markdown"]
    assert [r.channel for r in receipts] == ["text", "markdown"]
    assert all(r.subject == "[Garrison] Contained: test" and r.body == "hello\n" for r in receipts)


def test_a_broken_template_fails_its_target_only(settings: Settings) -> None:
    def written(channel: str) -> Rendered:
        if channel == "markdown":
            raise KeyError("broken template")
        return _message(channel)

    receipts = deliver(
        [NotifyTarget(url="outbox://demo", channel="markdown"), NotifyTarget(url="outbox://demo")], written
    )

    assert [(r.delivered, r.error) for r in receipts] == [
        (False, "message could not be written (KeyError)"),
        (True, ""),
    ]


# -- secrets -----------------------------------------------------------------------------------------------


def test_a_secret_url_never_appears_in_a_receipt(
    endpoints: list[Endpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _start(endpoints, 500)
    secret_url = broken.url.replace("json://", "json://user:TOPSECRET@")
    monkeypatch.setenv("GARRISON_TEST_HOOK", secret_url)

    [receipt] = deliver(
        [NotifyTarget(url_env="GARRISON_TEST_HOOK", allow_internal=True)],
        _message(),
        retry=_at_once(2),
    )

    assert receipt.delivered is False and receipt.target == "$GARRISON_TEST_HOOK"
    assert "TOPSECRET" not in repr(receipt) and str(broken.server.server_address[1]) not in receipt.error


# -- which URLs, which channel -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "channel"),
    [
        ("slack://T1ABCDEFG/B1ABCDEFG/abcdefghijklmnopqrstuvwx", "slack"),
        ("mailtos://user:pw@example.com", "html"),
        (
            "workflows://prod-01.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x",
            "markdown",
        ),
        ("discord://1234/abcd", "markdown"),
        ("json://hooks.example.com/x", "text"),
        ("outbox://demo", "text"),
    ],
)
def test_the_channel_comes_from_the_url_scheme(url: str, channel: str) -> None:
    assert channel_for(url) == channel


def test_an_explicit_channel_wins_where_it_fits_and_is_refused_where_it_does_not() -> None:
    assert NotifyTarget(url="outbox://demo", channel="markdown").check("outbox://demo") == "markdown"
    with pytest.raises(ValidationError, match="channel 'html' is only for e-mail"):
        NotifyTarget(url="outbox://demo", channel="html")
    with pytest.raises(NotifyUrlError, match="channel 'slack' is only for slack://"):
        channel_for("json://hooks.example.com/x", "slack")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("syslog://", "scheme syslog:// is not allowed"),
        ("windows://", "scheme windows:// is not allowed"),
        ("macosx://", "scheme macosx:// is not allowed"),
        ("apprise://relay.example.com/token", "scheme apprise:// is not allowed"),
        ("file:///etc/passwd", "scheme file:// is not allowed"),
        ("nosuchscheme://x", "scheme nosuchscheme:// is not allowed"),
        ("slack://T1ABCDEFG/B1ABCDEFG/abcdefghijklmnopqrstuvwx?template=/etc/passwd", "option template="),
        ("json://127.0.0.1:8000/v1/alerts", "host is internal"),
        ("json://169.254.169.254/latest/meta-data", "host is internal"),
        ("json://0x7f000001:4200/api", "host is internal"),
        ("json://2130706433/", "host is internal"),
        ("json://[::ffff:127.0.0.1]:4200/", "host is internal"),
        ("json://localhost:4200/", "host is internal"),
        ("json://10.1.2.3/hook", "host is internal"),
        ("mailto://user:pw@example.com?smtp=192.168.1.1", "host is internal"),
        ("json://u:p@127.0.0.1\\@1.1.1.1/", "apprise does not accept"),
    ],
)
def test_dangerous_urls_are_refused_when_the_configuration_loads(url: str, why: str, tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(
        f"tenants:\n  - id: t1\n    name: T1\n    notify:\n      - url: '{url}'\n", encoding="utf-8"
    )

    with pytest.raises(TenantConfigError, match=why) as caught:
        load_tenants(path)

    assert "tenants.0.notify.0" in str(caught.value)
    secret_part = url.split("://", 1)[1]
    assert not secret_part or secret_part not in str(caught.value)  # the URL itself is never repeated


def test_an_internal_host_is_allowed_when_the_target_says_so() -> None:
    target = NotifyTarget(url="json://10.1.2.3/hook", allow_internal=True)

    assert target.check("json://10.1.2.3/hook") == "text"


def test_a_name_that_resolves_to_an_internal_address_is_refused_at_send_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = NotifyTarget(url="json://relay.example.com/hook")  # loads: names are not resolved at load
    fake_answer = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: fake_answer)

    [receipt] = deliver([target], _message(), retry=_at_once())

    assert receipt.delivered is False and receipt.attempts == 1
    assert "host is internal" in receipt.error


def test_a_variable_changed_after_loading_is_checked_again_before_sending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GARRISON_TEST_HOOK", "json://hooks.example.com/x")
    target = NotifyTarget(url_env="GARRISON_TEST_HOOK")
    monkeypatch.setenv("GARRISON_TEST_HOOK", "json://169.254.169.254/latest/meta-data")

    [receipt] = deliver([target], _message(), retry=_at_once())

    assert receipt.delivered is False and "host is internal" in receipt.error


def test_slack_urls_are_sent_in_block_mode_with_our_options_last() -> None:
    from flows.channels import for_sending

    url = for_sending("slack://T1ABCDEFG/B1ABCDEFG/abcdefghijklmnopqrstuvwx?blocks=no&retry=9")

    assert url.endswith("&retry=0&blocks=yes&footer=no&image=no")
    check_url(url)  # still a URL we send to
