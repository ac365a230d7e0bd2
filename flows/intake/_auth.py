"""Who is sending: a tenant's API key, or an HMAC-SHA256 signature over timestamp + raw body.

Headers: ``X-Garrison-Tenant`` always; then ``Authorization: Bearer KEY``, or ``X-Garrison-Timestamp``
(Unix seconds) with ``X-Garrison-Signature: sha256=HEX`` where HEX = HMAC-SHA256(secret, "TS." + body).
There is no default tenant and no fallback credential: anything missing or wrong is a 401.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flows.tenants import Tenant, TenantDirectory

SIGNATURE_WINDOW = timedelta(minutes=5)


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


def authenticate(
    headers: Mapping[str, str],
    body: bytes,
    tenants: TenantDirectory,
    secrets_dir: Path,
    now: datetime | None = None,
) -> Caller:
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
        return Caller(tenant=tenant, signature=_check_signature(tenant, headers, body, secrets_dir, now))
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


def _check_signature(
    tenant: Tenant, headers: Mapping[str, str], body: bytes, secrets_dir: Path, now: datetime
) -> tuple[str, datetime]:
    reference = tenant.auth.hmac_secret
    secret = reference.resolve(secrets_dir) if reference else None
    if secret is None:
        raise AuthError(401, "unknown tenant or bad credentials")
    stamp = headers.get("x-garrison-timestamp", "").strip()
    if not stamp.isdigit():
        raise AuthError(401, "signed requests need X-Garrison-Timestamp (Unix seconds)")
    sent = datetime.fromtimestamp(int(stamp), UTC)
    if abs(now - sent) > SIGNATURE_WINDOW:
        raise AuthError(401, "stale or future timestamp: signatures are valid for 5 minutes")
    given = headers.get("x-garrison-signature", "").strip().removeprefix("sha256=").lower()
    expected = hmac.new(
        secret.get_secret_value().encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise AuthError(401, "bad signature")
    return expected, sent + SIGNATURE_WINDOW


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers for a signed request (for senders, tests and the benchmark)."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Garrison-Timestamp": str(timestamp), "X-Garrison-Signature": f"sha256={digest}"}
