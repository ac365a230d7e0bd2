"""Decision tokens: the link in an escalation (or approval request) that lets an analyst decide over HTTP.

A token is signed (HMAC-SHA256 with a key only this Garrison holds), expires, is used once (an approval
link once per approver), and is bound to what it decides: tenant, incident, response round and, for an
approval, the action, its hash (key and exact inputs) and its target. It is not a credential on its own
— the analyst still proves their name with their key — and a GET of its link only shows what it would
decide (mail scanners follow links; Shuffle's approval links were "approved" by them). A used token's
nonce is stored, so a replay is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ._audit import append_audit
from ._schema import UsedTokenRow

DECISION_KEY_FILE = "GARRISON_DECISION_KEY"
TOKEN_TTL_SECONDS = 24 * 3600
MAX_TOKEN_LENGTH = 2048
TOKEN_KINDS = ("verdict", "approval")


class TokenError(Exception):
    """A token that cannot be used: ``status`` is the HTTP status to answer (400, 403, 409, 410)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class TokenClaims:
    """What a token decides. ``action_hash`` and ``target`` are empty for a verdict."""

    tenant: str
    incident_id: str
    round: int
    kind: str
    expires: int  # seconds since the epoch
    nonce: str
    action_hash: str = ""
    target: str = ""
    action: str = ""  # an approval's action key (lab.isolate_host); its inputs are in action_hash


def decision_key(secrets_dir: Path) -> bytes:
    """This Garrison's token key, created owner-only on first use."""
    path = secrets_dir / DECISION_KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile: use theirs
        return path.read_bytes().strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secrets.token_urlsafe(32))
    return path.read_bytes().strip()


def issue_token(
    key: bytes,
    tenant: str,
    incident_id: str,
    round_: int,
    *,
    kind: str = "verdict",
    action: str = "",
    action_hash: str = "",
    target: str = "",
    ttl_seconds: int = TOKEN_TTL_SECONDS,
) -> str:
    if kind not in TOKEN_KINDS:
        raise ValueError(f"a token decides a verdict or an approval, not {kind!r}")
    claims = TokenClaims(
        tenant=tenant,
        incident_id=incident_id,
        round=round_,
        kind=kind,
        expires=int(time.time()) + ttl_seconds,
        nonce=secrets.token_hex(16),
        action_hash=action_hash,
        target=target,
        action=action,
    )
    body = _b64(json.dumps(asdict(claims), sort_keys=True, separators=(",", ":")).encode())
    return f"{body}.{_b64(_sign(key, body))}"


def read_token(key: bytes, token: str, now: float | None = None) -> TokenClaims:
    """The claims of a genuine, unexpired token; ``TokenError`` otherwise (nothing of a forged token's
    content is trusted or echoed)."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenError(400, "not a decision token")
    body, signature = token.split(".")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        raise TokenError(400, "not a decision token") from None
    if not hmac.compare_digest(given, _sign(key, body)):
        raise TokenError(403, "the token's signature is not ours")
    try:
        claims = TokenClaims(**json.loads(_unb64(body)))
    except (binascii.Error, ValueError, TypeError):
        raise TokenError(400, "not a decision token") from None
    if claims.expires <= (time.time() if now is None else now):
        raise TokenError(410, "the token has expired: ask for a new link (garrison pending)")
    return claims


def consume_token(engine: Engine, claims: TokenClaims, analyst: str) -> None:
    """Mark the token used (audited); ``TokenError(409)`` if it was used before. A verdict link decides
    once; an approval link approves once per analyst (the two-person rule needs two people to use it)."""
    used = claims.nonce
    if claims.kind == "approval":
        used = hashlib.sha256(f"{claims.nonce}:{analyst}".encode()).hexdigest()
    try:
        with Session(engine) as session, session.begin():
            session.add(UsedTokenRow(nonce=used, incident_id=claims.incident_id, analyst=analyst))
            append_audit(
                session,
                analyst,
                "token.used",
                claims.incident_id,
                {"kind": claims.kind, "round": claims.round, "nonce": claims.nonce},
            )
    except IntegrityError:
        raise TokenError(409, "the token was used already: a link works once (per approver)") from None


def _sign(key: bytes, body: str) -> bytes:
    return hmac.new(key, b"garrison-decision-token\n" + body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
