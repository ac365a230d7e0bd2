"""Deliver messages to notification targets through apprise, each target on its own, with retries.

One target failing (a dead webhook, an unset variable, a refused URL) never stops the others. Transient
failures (network errors, HTTP 5xx/408/429) are retried with short jittered waits by the one retry layer
(``actions.RetryPolicy``, with notify's own policy): apprise's own retry is switched off on every URL.
Permanent ones (configuration, HTTP 4xx) are not retried.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import apprise

from actions import Backoff, RetryPolicy, retry_sync
from flows.channels import NotifyUrlError, for_sending
from flows.tenants import NotifyTarget, Tenant, TenantConfigError

from ._render import Rendered

_log = logging.getLogger("garrison.notify")
_FORMATS = {
    "text": apprise.NotifyFormat.TEXT,
    "markdown": apprise.NotifyFormat.MARKDOWN,
    "html": apprise.NotifyFormat.HTML,
    "slack": apprise.NotifyFormat.MARKDOWN,  # Slack's own format; passed through untouched in blocks mode
}


@dataclass(frozen=True)
class Receipt:
    target: str  # a label, never the URL (it may hold a token)
    delivered: bool
    error: str = ""
    channel: str = "text"
    attempts: int = 0
    subject: str = ""
    body: str = ""
    language: str = ""


class _Transient(Exception):
    pass


class _Permanent(Exception):
    pass


ATTEMPTS = 3
# apprise reports failures as False and log lines, not our error tree: the policy retries _Transient.
RETRY = RetryPolicy(attempts=ATTEMPTS, backoff=Backoff(base=0.25, maximum=2.0), retry_on=(_Transient,))

MessageFor = Callable[[str], Rendered]


def deliver(
    targets: Tenant | Sequence[NotifyTarget],
    message: Rendered | MessageFor,
    *,
    retry: RetryPolicy = RETRY,
) -> list[Receipt]:
    """Send to every target separately; ``message`` is one message, or a function from the target's
    channel (text, markdown, html, slack) to the message written for it. A receipt per target.
    ``retry``: how transient failures are retried (tests pass one without waits)."""
    chosen = targets.notify if isinstance(targets, Tenant) else targets
    return [_deliver_one(target, message, retry) for target in chosen]


def _deliver_one(target: NotifyTarget, message: Rendered | MessageFor, retry: RetryPolicy) -> Receipt:
    tries = 0
    # What was (or would have been) sent: a failed receipt keeps the message too.
    written: list[Rendered] = [message] if isinstance(message, Rendered) else []

    def attempt() -> None:
        nonlocal tries
        tries += 1
        _send(target, message, written)

    try:
        retry_sync(retry, attempt)
    except (_Transient, _Permanent) as error:
        _log.warning("notification to %s failed after %d attempt(s): %s", target.label, tries, error)
        return _receipt(target, written[-1] if written else None, False, str(error), tries)
    return _receipt(target, written[-1] if written else None, True, "", tries)


def _receipt(target: NotifyTarget, written: Rendered | None, ok: bool, error: str, tries: int) -> Receipt:
    return Receipt(
        target=target.label,
        delivered=ok,
        error=error,
        channel=written.channel if written else (target.channel or ""),
        attempts=tries,
        subject=written.subject if written else "",
        body=written.body if written else "",
        language=written.language if written else "",
    )


def _send(target: NotifyTarget, message: Rendered | MessageFor, written: list[Rendered]) -> None:
    try:
        url = target.resolve().get_secret_value()
        channel = target.check(url)  # again at send time: the variable may have changed since loading
    except (TenantConfigError, NotifyUrlError) as error:
        raise _Permanent(str(error)) from None
    try:
        rendered = message if isinstance(message, Rendered) else message(channel)
    except Exception as error:  # noqa: BLE001 - a broken template must not stop the other targets
        _log.exception("could not render the %s message for %s", channel, target.label)
        raise _Permanent(f"message could not be written ({type(error).__name__})") from None
    written.append(rendered)
    sender = apprise.Apprise()
    if not sender.add(for_sending(url)):
        raise _Permanent("apprise does not accept this URL")
    title = rendered.subject.lstrip("#").strip() if rendered.channel == "markdown" else rendered.subject
    with _apprise_warnings() as warnings:
        ok = sender.notify(title=title, body=rendered.body, body_format=_FORMATS[rendered.channel])
    if ok:
        return
    status = _http_status(warnings)
    if status is not None and 400 <= status < 500 and status not in (408, 425, 429):
        raise _Permanent(f"refused by the service (HTTP {status})")
    raise _Transient(f"delivery failed (HTTP {status})" if status else "delivery failed")


# apprise reports HTTP failures only in its log ("… error=500."); we read the status code from there.
# Nothing else from those lines is kept: they can contain the URL.
_STATUS = re.compile(r"error=(\d{3})\b")


def _http_status(lines: list[str]) -> int | None:
    codes = [int(m.group(1)) for line in lines for m in _STATUS.finditer(line)]
    return codes[-1] if codes else None


class _ThreadLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread:  # other threads' sends are not ours
            self.lines.append(record.getMessage())


@contextmanager
def _apprise_warnings() -> Iterator[list[str]]:
    handler = _ThreadLines()
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
