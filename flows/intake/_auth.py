"""Who is sending: a tenant's API key, or an HMAC-SHA256 signature over the request.

Headers: ``X-Garrison-Tenant`` always; then ``Authorization: Bearer KEY``, or ``X-Garrison-Timestamp``
(Unix seconds) with ``X-Garrison-Signature: sha256=HEX`` where HEX = HMAC-SHA256(secret, the canonical
request)::

    TS "\\n" METHOD "\\n" PATH ["?" QUERY] "\\n" BODY

PATH and QUERY are the request target exactly as sent (percent-encoding kept). Newlines separate the parts
because a request target cannot hold one, so no two requests share a canonical form; a dot could not do
that (paths hold dots). The old form, HMAC over ``TS "." BODY``, is refused: it did not name the path,
so a signed GET could be replayed against any incident of the tenant.

Authentication happens in two steps so that a stranger costs no body reading: ``check_headers`` needs only
the headers (and settles an API key outright); a signature is then checked with ``Unverified.verify`` once
the body has been read, within the size limit. There is no default tenant and no fallback credential:
anything missing or wrong is a 401.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from flows.tenants import Tenant, TenantDirectory

SIGNATURE_WINDOW = timedelta(minutes=5)
# Unix seconds until the year 33658; longer is no timestamp (and int() refuses 5000 digits).
_MAX_STAMP_DIGITS = 12


class AuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Caller:
    tenant: Tenant
    # For signed requests: the signature and when it stops mattering (replay protection).
    signature: tuple[str, datetime] | None = None


@dataclass(frozen=True)
class Unverified:
    """A signed request whose headers are in order; its signature is checked once the body is read."""

    tenant: Tenant
    stamp: str
    sent: datetime
    given: str
    secret: SecretStr = field(repr=False)

    def verify(self, method: str, target: bytes, body: bytes) -> Caller:
        expected = _digest(self.secret.get_secret_value(), canonical(self.stamp, method, target, body))
        if hmac.compare_digest(self.given.encode(), expected.encode()):
            return Caller(tenant=self.tenant, signature=(expected, self.sent + SIGNATURE_WINDOW))
        retired = _digest(self.secret.get_secret_value(), self.stamp.encode() + b"." + body)
        if hmac.compare_digest(self.given.encode(), retired.encode()):
            raise AuthError(
                401,
                "bad signature: HMAC over 'TS.body' is no longer accepted; "
                "sign TS\\nMETHOD\\nPATH?QUERY\\nBODY (see the intake documentation)",
            )
        raise AuthError(401, "bad signature")


def check_headers(
    headers: Mapping[str, str],
    tenants: TenantDirectory,
    secrets_dir: Path,
    now: datetime | None = None,
) -> Caller | Unverified:
    """Everything the headers alone can settle: a Caller for a good API key, an Unverified signed request
    (timestamp in its window) whose body is still to be read, or AuthError."""
    now = now or datetime.now(UTC)
    tenant_id = headers.get("x-garrison-tenant", "").strip()
    if not tenant_id:
        raise AuthError(401, "missing X-Garrison-Tenant header")
    tenant = tenants.get(tenant_id)
    authorization = headers.get("authorization", "")
    signature = headers.get("x-garrison-signature", "")
    if tenant is None:
        raise AuthError(401, "unknown tenant or bad credentials")
    if authorization:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise AuthError(401, "Authorization must be 'Bearer <key>'")
        if not _key_matches(tenant, key.strip(), secrets_dir):
            raise AuthError(401, "unknown tenant or bad credentials")
        return Caller(tenant=tenant)
    if signature:
        return _signed(tenant, headers, secrets_dir, now)
    raise AuthError(401, "send 'Authorization: Bearer <key>' or a signed request (X-Garrison-Signature)")


def _key_matches(tenant: Tenant, key: str, secrets_dir: Path) -> bool:
    # Compare digests in constant time; every configured key is checked, so timing says nothing.
    offered = hashlib.sha256(key.encode()).digest()
    matched = False
    for reference in tenant.auth.api_keys:
        secret = reference.resolve(secrets_dir)
        if secret is not None:
            expected = hashlib.sha256(secret.get_secret_value().encode()).digest()
            matched |= hmac.compare_digest(offered, expected)
    return matched


def _signed(tenant: Tenant, headers: Mapping[str, str], secrets_dir: Path, now: datetime) -> Unverified:
    reference = tenant.auth.hmac_secret
    secret = reference.resolve(secrets_dir) if reference else None
    if secret is None:
        raise AuthError(401, "unknown tenant or bad credentials")
    stamp = headers.get("x-garrison-timestamp", "").strip()
    # ASCII digits only: str.isdigit() also takes '²' and other digits int() refuses.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_STAMP_DIGITS):
        raise AuthError(401, "X-Garrison-Timestamp: signed requests need Unix seconds (digits)")
    if abs(now.timestamp() - int(stamp)) > SIGNATURE_WINDOW.total_seconds():
        raise AuthError(
            401, "X-Garrison-Timestamp: stale or in the future; a signature is valid for 5 minutes"
        )
    given = headers.get("x-garrison-signature", "").strip().removeprefix("sha256=").lower()
    return Unverified(tenant, stamp, datetime.fromtimestamp(int(stamp), UTC), given, secret)


def canonical(stamp: str, method: str, target: bytes, body: bytes) -> bytes:
    """What a signature covers: timestamp, method, target (path and query as sent) and body.

    >>> canonical("1700000000", "get", b"/v1/incidents/42?x=1", b"")
    b'1700000000\\nGET\\n/v1/incidents/42?x=1\\n'
    """
    return b"\n".join((stamp.encode(), method.upper().encode(), target, body))


def _digest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(
    secret: str, body: bytes, timestamp: int, method: str = "POST", target: str = "/v1/alerts"
) -> dict[str, str]:
    """Headers for a signed request (for senders, tests and the benchmark).

    >>> sign("s", b"{}", 1700000000)["X-Garrison-Signature"][:15]
    'sha256=eb668430'
    """
    digest = _digest(secret, canonical(str(timestamp), method, target.encode(), body))
    return {"X-Garrison-Timestamp": str(timestamp), "X-Garrison-Signature": f"sha256={digest}"}
