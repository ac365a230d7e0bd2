"""RPZ on PowerDNS: block a domain at the DNS layer, for tenants whose EDR cannot block domains.

A Response Policy Zone (ISC, draft-vixie-dnsop-dns-rpz) is an ordinary zone that resolvers — BIND, Unbound,
PowerDNS Recursor, Knot Resolver, Infoblox — load by zone transfer and apply as policy. Garrison keeps the
tenant's RPZ on a PowerDNS Authoritative Server through its HTTP API; PowerDNS bumps the serial and sends
NOTIFY, and every resolver that transfers the zone answers NXDOMAIN for the names in it.

``rpz.block_domain`` writes the QNAME trigger ``<domain>.<zone> CNAME .`` (the RPZ NXDOMAIN policy). RPZ
triggers match one name exactly, so with the setting ``include_subdomains: true`` a second rrset
``*.<domain>.<zone> CNAME .`` blocks every name under the domain too. ``rpz.unblock_domain`` deletes both
rrsets whatever the setting says now, so that changing the setting between a block and its unblock never
leaves half a block behind. Each rrset carries the comment ``garrison incident <id>``.

Another policy an analyst set for the same name (``CNAME rpz-passthru.`` to allow it, local data,
``rpz-drop.``) is never overwritten nor deleted: the block fails saying so, the unblock leaves it in place.

One-time set-up on PowerDNS: a primary zone (e.g. ``rpz.acme.example.``) with SOA-EDIT-API set (zones the
API creates have it; without it the serial never changes and resolvers keep their old copy — the result
says so), zone transfers and NOTIFY allowed to the resolvers, and the API behind TLS (``base_url`` is https).
Shapes: tests/fixtures/vendors/rpz-*.json.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from .._capabilities import Capability
from .._context import ActionContext
from .._errors import PermanentError, PolicyViolation, VendorRejected
from .._inputs import plain_domain
from .._registry import action, registry
from .._result import ActionResult, ActionStatus, Effect, TargetState
from .._vendor import VendorClient, VendorSettings, json_body, open_http, succeeded
from ..http import VendorPolicy

VENDOR = "rpz"
SECRETS = ["rpz_api_key"]
DOC = "https://doc.powerdns.com/authoritative/http-api/zone.html"
POLICY = VendorPolicy(rate_per_second=5.0, burst=5)
NXDOMAIN = "CNAME ."  # the RPZ policy "answer NXDOMAIN", as ``_policy`` describes what a name holds
MAX_NAME = 253  # characters of a DNS name written without its final dot (255 octets on the wire)

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ZONE = re.compile(rf"^(?=.{{1,250}}$)(?:{_LABEL}\.)*{_LABEL}\.$")


def _domain(value: str) -> str:
    domain = plain_domain(value)
    # RPZ reads the label just above the zone as a trigger kind: ``24.0.2.0.192.rpz-ip`` would block an
    # address range, ``rpz-nsdname`` a name server.
    if domain.rpartition(".")[2].startswith("rpz-"):
        raise ValueError("ends in an RPZ trigger label (rpz-ip, rpz-nsdname, …), not a domain")
    return domain


class RpzDomain(BaseModel):
    """A domain that intel calls malicious."""

    model_config = ConfigDict(extra="forbid")

    domain: Annotated[str, AfterValidator(_domain)] = Field(
        max_length=1024, description="Domain to block (refanged; a plain name, never a wildcard)."
    )


class RpzSettings(VendorSettings):
    """Where the tenant's RPZ lives on PowerDNS, and how Garrison writes to it."""

    server_id: str = Field(
        default="localhost",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="PowerDNS server id in the API path (always localhost for the Authoritative Server).",
    )
    zone: str = Field(description="The RPZ zone, with its final dot (rpz.acme.example.).")
    ttl: int = Field(default=60, ge=1, le=86400, description="TTL of the rrsets Garrison writes, seconds.")
    include_subdomains: bool = Field(
        default=False, description="Also block every name under the domain (a second rrset, *.<domain>)."
    )

    @field_validator("zone")
    @classmethod
    def _zone_name(cls, value: str) -> str:
        zone = value.strip().lower()
        if not _ZONE.match(zone):
            raise ValueError(
                "must be a DNS zone name of plain labels ending with a dot, e.g. rpz.acme.example."
            )
        return zone


@dataclass(frozen=True)
class Owner:
    """What the zone holds at one owner name: ``policy`` None (nothing), ``NXDOMAIN``, or another one."""

    name: str
    policy: str | None

    @property
    def blocked(self) -> bool:
        return self.policy == NXDOMAIN

    @property
    def foreign(self) -> bool:
        return self.policy not in (None, NXDOMAIN)


def _policy(rrsets: list[dict[str, Any]]) -> str | None:
    live = [
        (str(rrset.get("type", "")).upper(), str(record.get("content", "")))
        for rrset in rrsets
        for record in rrset.get("records") or []
        if isinstance(record, dict) and not record.get("disabled", False)
    ]
    if not live:
        return None  # a disabled entry is no policy: blocking replaces it, unblocking has nothing to do
    if live == [("CNAME", ".")]:
        return NXDOMAIN
    kind, content = live[0]
    shown = f"{kind} {content}"  # zone data, not alert data; still kept to one short line
    return (shown if len(shown) <= 60 else shown[:59] + "…") + (" …" if len(live) > 1 else "")


def _powerdns_error(error: VendorRejected) -> str:
    # PowerDNS answers {"error": "…"}; the shared HTTP layer quotes a body it does not know as JSON.
    said = str(error).partition(f"({error.status_code}): ")[2]
    try:
        body = json.loads(said)
    except ValueError:
        return said
    return body["error"] if isinstance(body, dict) and isinstance(body.get("error"), str) else said


class _PowerDns(VendorClient):
    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(VENDOR, RpzSettings)
        self.zone = self.settings.zone
        self.path = f"/api/v1/servers/{self.settings.server_id}/zones/{self.zone}"
        # Our own id, but it lands in someone's DNS server: keep it to id characters.
        self.comment = "garrison incident " + re.sub(r"[^A-Za-z0-9._:-]", "", ctx.incident_id)[:64]
        self.soa_edit_api: str | None = None
        key = ctx.secret("rpz_api_key")
        self.http = open_http(ctx, VENDOR, self.settings, POLICY, secrets=[key], headers={"X-API-Key": key})

    def owners(self, domain: str, *, subdomains: bool | None) -> list[str]:
        """The owner names of ``domain``'s triggers: its own, and the wildcard under it when ``subdomains``
        (None: when the name leaves room for it — a wildcard too long for the DNS cannot be in the zone)."""
        apex = self.zone.removesuffix(".")
        if domain == apex or domain.endswith("." + apex):
            raise PolicyViolation(
                f"rpz: {domain} is inside the RPZ zone {self.zone} itself: refusing to act on it"
            )
        exact = f"{domain}.{self.zone}"
        if len(exact) - 1 > MAX_NAME:
            raise PermanentError(f"rpz: {domain} is too long to be a name in RPZ zone {self.zone}")
        wildcard = "*." + exact
        fits = len(wildcard) - 1 <= MAX_NAME
        if subdomains and not fits:
            raise PermanentError(f"rpz: *.{domain} is too long to be a name in RPZ zone {self.zone}")
        return [exact, wildcard] if (fits if subdomains is None else subdomains) else [exact]

    async def _send(self, method: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, self.path, **kwargs)
        except VendorRejected as error:
            if error.status_code == 404:
                raise VendorRejected(
                    f"rpz: zone {self.zone} was not found on PowerDNS server {self.settings.server_id!r} "
                    "(404): create it there or correct the tenant's rpz settings zone and server_id",
                    status_code=404,
                ) from None
            if error.status_code == 422:
                raise VendorRejected(
                    f"rpz: PowerDNS refused the request on zone {self.zone} (422): {_powerdns_error(error)}",
                    status_code=422,
                ) from None
            raise

    async def owner(self, name: str) -> Owner:
        # rrset_name limits the answer to one name (PowerDNS 4.8+); an older server sends the whole zone,
        # hence the filter here as well.
        body = json_body(self.http, await self._send("GET", params={"rrset_name": name}))
        if not isinstance(body, dict) or not isinstance(body.get("rrsets"), list):
            raise PermanentError(f"rpz: PowerDNS's answer for zone {self.zone} is not a zone with rrsets")
        if isinstance(body.get("soa_edit_api"), str):
            self.soa_edit_api = body["soa_edit_api"]
        found = [
            rrset
            for rrset in body["rrsets"]
            if isinstance(rrset, dict) and str(rrset.get("name", "")).lower() == name
        ]
        return Owner(name, _policy(found))

    async def patch(self, rrsets: list[dict[str, Any]]) -> None:
        await self._send("PATCH", json={"rrsets": rrsets})

    def replace(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "CNAME",
            "ttl": self.settings.ttl,
            "changetype": "REPLACE",
            "records": [{"content": ".", "disabled": False}],
            "comments": [{"content": self.comment, "account": "garrison"}],
        }

    def stale_warning(self) -> str:
        if self.soa_edit_api != "":
            return ""
        return (
            f"; zone {self.zone} has no SOA-EDIT-API, so its serial stays and resolvers keep their old copy"
        )

    async def block(self, domain: str) -> ActionResult:
        subdomains = self.settings.include_subdomains
        owners = [await self.owner(name) for name in self.owners(domain, subdomains=subdomains)]
        what = f"{domain}{' and its subdomains' if subdomains else ''}"
        foreign = next((owner for owner in owners if owner.foreign), None)
        if foreign is not None:
            return ActionResult(
                status=ActionStatus.FAILED,
                detail=f"{foreign.name} holds another policy ({foreign.policy}): left as an analyst set it",
                vendor_ref=foreign.name,
            )
        missing = [owner.name for owner in owners if not owner.blocked]
        if not missing:
            return succeeded(
                f"{what} already blocked (NXDOMAIN) in RPZ zone {self.zone}{self.stale_warning()}",
                changed=False,
                vendor_ref=owners[0].name,
            )
        await self.patch([self.replace(name) for name in missing])
        return succeeded(
            f"{what} blocked (NXDOMAIN) in RPZ zone {self.zone}{self.stale_warning()}",
            vendor_ref=owners[0].name,
        )

    async def unblock(self, domain: str) -> ActionResult:
        owners = [await self.owner(name) for name in self.owners(domain, subdomains=None)]
        kept = "".join(f" ({o.name} {o.policy} is left in place)" for o in owners if o.foreign)
        blocked = [owner.name for owner in owners if owner.blocked]
        if not blocked:
            return succeeded(f"{domain} was not blocked in RPZ zone {self.zone}{kept}", changed=False)
        await self.patch([{"name": name, "type": "CNAME", "changetype": "DELETE"} for name in blocked])
        return succeeded(
            f"{domain} unblocked in RPZ zone {self.zone}{kept}{self.stale_warning()}", vendor_ref=blocked[0]
        )

    async def state(self, domain: str, *, blocking: bool) -> TargetState:
        subdomains = self.settings.include_subdomains if blocking else None
        owners = [await self.owner(name) for name in self.owners(domain, subdomains=subdomains)]
        blocked = [owner.name for owner in owners if owner.blocked]
        applied = len(blocked) == len(owners) if blocking else not blocked
        names = ", ".join(blocked) or "none of its names"
        return TargetState(
            effect=Effect.APPLIED if applied else Effect.ABSENT,
            detail=f"{domain}: NXDOMAIN for {names} in RPZ zone {self.zone}",
            vendor_ref=owners[0].name,
            observed={
                "policies": {owner.name: owner.policy for owner in owners},
                "soa_edit_api": self.soa_edit_api,
            },
        )


registry.declare_settings(VENDOR, RpzSettings)


async def _blocked(inputs: RpzDomain, ctx: ActionContext) -> TargetState:
    async with _PowerDns(ctx) as pdns:
        return await pdns.state(inputs.domain, blocking=True)


async def _unblocked(inputs: RpzDomain, ctx: ActionContext) -> TargetState:
    async with _PowerDns(ctx) as pdns:
        return await pdns.state(inputs.domain, blocking=False)


@action(
    key="rpz.block_domain",
    inputs=RpzDomain,
    capability=Capability.BLOCK_DOMAIN,
    secrets=SECRETS,
    inverse="rpz.unblock_domain",
    doc_url=DOC,
    read_state=_blocked,
    idempotent=True,
    call="PATCH /api/v1/servers/<server_id>/zones/<zone> {{rrsets: [{{name: {domain}.<zone>, type: CNAME, "
    "changetype: REPLACE, records: [.]}}]}}",
)
async def block_domain(inputs: RpzDomain, ctx: ActionContext) -> ActionResult:
    """Answer NXDOMAIN for the domain on every resolver loading the tenant's RPZ (PowerDNS zone PATCH)."""
    async with _PowerDns(ctx) as pdns:
        return await pdns.block(inputs.domain)


@action(
    key="rpz.unblock_domain",
    inputs=RpzDomain,
    capability=Capability.UNBLOCK_DOMAIN,
    secrets=SECRETS,
    inverse="rpz.block_domain",
    doc_url=DOC,
    read_state=_unblocked,
    idempotent=True,
    call="PATCH /api/v1/servers/<server_id>/zones/<zone> {{rrsets: [{{name: {domain}.<zone>, type: CNAME, "
    "changetype: DELETE}}]}}",
)
async def unblock_domain(inputs: RpzDomain, ctx: ActionContext) -> ActionResult:
    """Delete the domain's NXDOMAIN triggers from the tenant's RPZ (PowerDNS zone PATCH, DELETE)."""
    async with _PowerDns(ctx) as pdns:
        return await pdns.unblock(inputs.domain)
