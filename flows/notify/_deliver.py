"""Deliver a rendered message to a tenant's targets through apprise, and keep a receipt per target."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import apprise

from flows.tenants import Tenant, TenantConfigError

from . import _outbox  # noqa: F401 - registers outbox://
from ._render import Rendered

_log = logging.getLogger("garrison.notify")


@dataclass(frozen=True)
class Receipt:
    target: str  # a label, never the URL (it may hold a token)
    delivered: bool
    error: str = ""


def deliver(tenant: Tenant, message: Rendered, body_format: str = apprise.NotifyFormat.TEXT) -> list[Receipt]:
    """Send to every target separately, so one failing channel does not stop the others."""
    receipts = []
    for target in tenant.notify:
        try:
            url = target.resolve()
        except TenantConfigError as error:
            receipts.append(Receipt(target=target.label, delivered=False, error=str(error)))
            continue
        sender = apprise.Apprise()
        if not sender.add(url.get_secret_value()):
            receipts.append(
                Receipt(target=target.label, delivered=False, error="apprise does not accept this URL")
            )
            continue
        ok = sender.notify(title=message.subject, body=message.body, body_format=body_format)
        if not ok:
            _log.warning("notification to %s failed", target.label)
        receipts.append(
            Receipt(target=target.label, delivered=bool(ok), error="" if ok else "delivery failed")
        )
    return receipts
