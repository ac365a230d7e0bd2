"""One vendor endpoint for one tenant: timeouts, queueing rate limit, circuit breaker, error mapping.

Every adapter request goes through ``VendorHttp.request``. It never retries: a 429, 5xx or timeout becomes
a ``TransientError`` (the engine retries in one place, and the limiter makes that retry wait for the
vendor's Retry-After); a 4xx becomes ``VendorRejected`` with the vendor's error text, secrets scrubbed.
A caller whose protocol puts its answer in the status line names the statuses it reads (``accept``).
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx

from .._errors import PermanentError, RateLimited, TransientError, VendorRejected
from ._clock import Clock
from ._pool import HttpPool, VendorPolicy

_log = logging.getLogger("garrison.actions.http")
_MAX_TEXT = 300


def parse_retry_after(value: str | None, clock: Clock, *, default: float, maximum: float) -> float:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).

    >>> from actions.http import SystemClock
    >>> parse_retry_after("2", SystemClock(), default=5, maximum=600)
    2.0
    """
    if value is None or not value.strip():
        return default
    text = value.strip()
    if text.isdigit():
        return min(float(text), maximum)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return default
    if when.tzinfo is None:  # an HTTP date is always GMT
        return default
    return min(max(when.timestamp() - clock.wall(), 0.0), maximum)


class VendorHttp:
    """An async HTTP client bound to one (tenant, vendor) and its shared limiter and breaker.

    >>> async def example(pool: HttpPool) -> None:
    ...     async with VendorHttp(tenant="t1", vendor="acme", base_url="https://api.acme.test",
    ...                           policy=VendorPolicy(), pool=pool, secrets=["s3cret"]) as http:
    ...         await http.request("GET", "/health")
    """

    def __init__(
        self,
        *,
        tenant: str,
        vendor: str,
        base_url: str,
        policy: VendorPolicy,
        pool: HttpPool,
        secrets: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        verify: bool | str = True,
    ) -> None:
        self.tenant = tenant
        self.vendor = vendor
        self.policy = policy
        self.pool = pool
        self._limiter = pool.limiter(tenant, vendor, policy)
        self._breaker = pool.breaker(tenant, vendor, policy)
        self._secrets: set[str] = set()
        self.redact(*secrets)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            timeout=httpx.Timeout(policy.timeout, connect=policy.connect_timeout),
            follow_redirects=False,  # a redirect would carry our credentials somewhere else
            verify=verify,
        )

    async def __aenter__(self) -> VendorHttp:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._client.aclose()

    def redact(self, *values: str) -> None:
        """Never let these values (tokens fetched on the way, credentials) into an error message."""
        self._secrets.update(v for v in values if v and len(v) >= 4)

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        text = re.sub(r"\s+", " ", text).strip()
        return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """Send one request under the (tenant, vendor) policy; return a 2xx response or raise.

        ``accept`` names further statuses the caller reads itself, for protocols whose answer travels in
        the status line (OpenC2 over HTTPS: 404 is "target not found", its body says more). They count
        for the circuit breaker as usual; a 429 and a redirect are never handed back.
        """
        self._breaker.check()
        await self._limiter.acquire()
        self._breaker.before_call()
        outcome_recorded = False
        try:
            try:
                response = await self._client.request(
                    method, url, params=params, json=json, data=data, content=content, headers=headers
                )
            except httpx.TransportError as error:  # timeouts included
                self._breaker.record_failure()
                outcome_recorded = True
                what = "timed out" if isinstance(error, httpx.TimeoutException) else "failed"
                raise TransientError(
                    f"{self.vendor}: {method} {url} {what} ({type(error).__name__})"
                ) from None
            outcome_recorded = True
            self._classify(method, url, response, accept)
            return response
        finally:
            if not outcome_recorded:
                self._breaker.record_neutral()

    def _classify(
        self, method: str, url: str, response: httpx.Response, accept: Collection[int] = ()
    ) -> None:
        status = response.status_code
        _log.debug("%s %s %s -> %s", self.vendor, method, url, status)
        if status == 429:
            self._breaker.record_neutral()
            waited = self._back_off(response)
            raise RateLimited(
                f"{self.vendor}: rate limited (429); later calls held for {waited:.1f}s", retry_after=waited
            )
        if status >= 500:
            self._breaker.record_failure()
            held = self._back_off(response) if "retry-after" in response.headers else None
            if status in accept:
                return
            text, _ = self._vendor_error(response)
            raise TransientError(f"{self.vendor}: {method} {url} answered {status}: {text}", retry_after=held)
        if status == 408:
            self._breaker.record_neutral()
            if status in accept:
                return
            raise TransientError(f"{self.vendor}: {method} {url} answered 408")
        # Any other answer shows the vendor is up.
        self._breaker.record_success()
        if 300 <= status < 400:
            raise PermanentError(f"{self.vendor}: {method} {url} answered an unexpected redirect ({status})")
        if status in accept:
            return
        if status >= 400:
            text, code = self._vendor_error(response)
            raise VendorRejected(
                f"{self.vendor}: {method} {url} refused ({status}): {text}", status_code=status, code=code
            )

    def _back_off(self, response: httpx.Response) -> float:
        delay = parse_retry_after(
            response.headers.get("retry-after"),
            self.pool.clock,
            default=self.policy.retry_after_default,
            maximum=self.policy.retry_after_max,
        )
        return self._limiter.back_off(delay)

    def _vendor_error(self, response: httpx.Response) -> tuple[str, str | None]:
        """The vendor's own error text and code, scrubbed."""
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            return self.scrub(response.text or response.reason_phrase), None
        text, code = _error_fields(body)
        return self.scrub(text or json.dumps(body)[:_MAX_TEXT]), code


def _error_fields(body: Any) -> tuple[str, str | None]:
    # Shapes: MDE/Graph {"error":{"code","message"}}, CrowdStrike {"errors":[{"code","message"}]},
    # SentinelOne {"errors":[{"code","title","detail"}]}, Wazuh {"title","detail"}, others {"message"}.
    if not isinstance(body, dict):
        return "", None
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message", "")), _code(error.get("code"))
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        parts = [str(first[k]) for k in ("title", "message", "detail") if first.get(k)]
        return "; ".join(parts), _code(first.get("code"))
    parts = [str(body[k]) for k in ("title", "message", "detail") if isinstance(body.get(k), str | int)]
    return "; ".join(parts), None


def _code(value: Any) -> str | None:
    return None if value is None else str(value)
