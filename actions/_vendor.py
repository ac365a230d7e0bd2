"""What the vendor adapters share: settings, input types, the HTTP client per action, token auth, polling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ._context import ActionContext
from ._errors import PermanentError, TargetNotFound, TransientError, VendorRejected
from ._result import ActionResult, ActionStatus
from .http import VendorHttp, VendorPolicy, token_key

T = TypeVar("T")

# Vendor filters are query languages (FQL, OData, …): a hostname reaching them must be a plain name, so
# `x' or hostname:*` can never widen the match. Exactly-one matching is checked as well.
Hostname = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,253}[A-Za-z0-9_])?$",
    ),
]


class HostInput(BaseModel):
    """A host named by the incident; it must match exactly one device of the tenant."""

    model_config = ConfigDict(extra="forbid")

    hostname: Hostname = Field(
        description="Hostname as the incident names it; must match exactly one device."
    )


class VendorSettings(BaseModel):
    """Per-tenant, non-secret settings every vendor adapter accepts (``ActionContext.vendors[vendor]``)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The vendor API's base URL (https).")
    verify_tls: bool = Field(default=True, description="Verify the vendor's TLS certificate.")
    ca_bundle: str | None = Field(default=None, description="CA bundle file for a private CA.")
    rate_per_second: float | None = Field(default=None, gt=0, description="Override the adapter's rate.")
    burst: int | None = Field(default=None, ge=1, description="Override the adapter's burst.")
    verify_timeout: float = Field(default=120.0, ge=0, description="Seconds to poll for the effect.")
    poll_interval: float = Field(default=5.0, gt=0, description="Seconds between verification polls.")

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        url = httpx.URL(value)
        if url.scheme != "https" or not url.host or url.userinfo:
            raise ValueError("must be an https URL without credentials")
        return str(url).rstrip("/")


def tuned(policy: VendorPolicy, settings: VendorSettings) -> VendorPolicy:
    """The adapter's ``policy`` with the tenant's own rate and burst, where its settings give them."""
    if settings.rate_per_second is not None:
        policy = replace(policy, rate_per_second=settings.rate_per_second)
    if settings.burst is not None:
        policy = replace(policy, burst=settings.burst)
    return policy


def open_http(
    ctx: ActionContext,
    vendor: str,
    settings: VendorSettings,
    policy: VendorPolicy,
    *,
    secrets: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    base_url: str | None = None,
) -> VendorHttp:
    return VendorHttp(
        tenant=ctx.tenant,
        vendor=vendor,
        base_url=base_url or settings.base_url,
        policy=tuned(policy, settings),
        pool=ctx.pool(),
        secrets=secrets,
        headers=headers,
        auth=auth,
        verify=settings.ca_bundle or settings.verify_tls,
    )


class VendorClient:
    """One action's client of one vendor API: its HTTP session, closed when the action is done
    (``async with _Client(ctx) as client``)."""

    http: VendorHttp

    async def __aenter__(self: _C) -> _C:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.__aexit__(None, None, None)


_C = TypeVar("_C", bound=VendorClient)


async def client_credentials_token(
    http: VendorHttp, url: str, form: Mapping[str, str], *, default_ttl: float
) -> tuple[str, float]:
    """An OAuth2 client-credentials token and its lifetime in seconds (``default_ttl`` when unsaid)."""
    body = json_body(http, await http.request("POST", url, data=dict(form)))
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise PermanentError(f"{http.vendor}: the token answer has no access_token")
    return token, float(body.get("expires_in") or default_ttl)


class BearerSession:
    """Requests with a cached bearer token; a 401 drops the token and is transient (a retry refetches)."""

    def __init__(
        self,
        http: VendorHttp,
        key_parts: Iterable[str],
        fetch: Callable[[VendorHttp], Awaitable[tuple[str, float]]],
    ) -> None:
        self.http = http
        self._key = token_key(http.tenant, http.vendor, *key_parts)
        self._fetch = fetch

    async def token(self) -> str:
        token = await self.http.pool.tokens.get(self._key, lambda: self._fetch(self.http))
        self.http.redact(token)
        return token

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.token()}", **kwargs.pop("headers", {})}
        try:
            return await self.http.request(method, url, headers=headers, **kwargs)
        except VendorRejected as error:
            if error.status_code == 401:
                self.http.pool.tokens.drop(self._key)
                raise TransientError(
                    f"{self.http.vendor}: the access token was refused; it was dropped"
                ) from None
            raise


def json_body(http: VendorHttp, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise PermanentError(f"{http.vendor}: answer is not JSON ({response.status_code})") from None


async def poll(
    ctx: ActionContext, settings: VendorSettings, read: Callable[[], Awaitable[T]], done: Callable[[T], bool]
) -> T:
    """Read until ``done`` or ``settings.verify_timeout`` passes (bounded); returns the last reading."""
    clock = ctx.pool().clock
    deadline = clock.monotonic() + settings.verify_timeout
    while True:
        value = await read()
        if done(value) or clock.monotonic() >= deadline:
            return value
        await clock.sleep(settings.poll_interval)


def succeeded(
    detail: str, *, changed: bool = True, vendor_ref: str | None = None, **extra: Any
) -> ActionResult:
    return ActionResult(
        status=ActionStatus.SUCCEEDED, detail=detail, changed=changed, vendor_ref=vendor_ref, **extra
    )


def pending(detail: str, *, vendor_ref: str | None = None) -> ActionResult:
    return ActionResult(status=ActionStatus.PENDING, detail=detail, vendor_ref=vendor_ref)


def one_or_refuse(found: list[T], what: str, name: str, tenant: str) -> T:
    """Exactly one match, or TargetNotFound naming how many: never act on a guess."""
    if len(found) != 1:
        count = "no device" if not found else f"{len(found)} devices"
        raise TargetNotFound(f"{count} named {name!r} in {what} for tenant {tenant}: refusing to act")
    return found[0]
