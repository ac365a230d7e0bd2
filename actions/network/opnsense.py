"""OPNsense: block an IP by adding it to a firewall alias table (``alias_util``), unblock by deleting it.

One-time set-up: a host-type alias (default ``garrison_block``) referenced by a block rule. ``alias_util``
changes the live pf table and, for host/network aliases, the saved alias content too (no reconfigure).
It accepts addresses only (``not_an_address`` otherwise), so OPNsense blocks IPs, not domains.

``alias_util/list`` of an alias that does not exist answers an empty list (``pfctl -t <name> -T show``
fails quietly, src/opnsense/scripts/filter/list_table.py), which reads like "not blocked" and makes an
unblock look done. So an empty list is checked against ``alias_util/aliases`` (the pf tables, same ACL:
"Diagnostics: PF Table IP addresses"), and a missing alias is an error naming it.
Shapes: tests/fixtures/vendors/opnsense-*.json.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
from pydantic import Field

from .._context import ActionContext
from .._errors import PermanentError, VendorRejected
from .._inputs import IpInput
from .._result import ActionResult
from .._vendor import VendorClient, VendorSettings, json_body, open_http, succeeded
from ..http import VendorPolicy
from ._base import Listing, ip_blocking

VENDOR = "opnsense"
SECRETS = ["opnsense_api_key", "opnsense_api_secret"]
DOC = "https://docs.opnsense.org/development/api/core/firewall.html"
POLICY = VendorPolicy(rate_per_second=5.0, burst=5)


class OpnsenseSettings(VendorSettings):
    alias: str = Field(
        default="garrison_block", pattern=r"^[A-Za-z0-9_]{1,32}$", description="Alias the block rule uses."
    )


def _normal(entry: str) -> str:
    try:
        return str(ipaddress.ip_network(entry.strip(), strict=False))
    except ValueError:
        return entry.strip()


def table_entries(body: Any) -> set[str]:
    """Entries of ``alias_util/list``: a plain list (older releases) or ``{"rows": [{"ip": …}]}``."""
    rows = body.get("rows", []) if isinstance(body, dict) else body
    found = set()
    for row in rows if isinstance(rows, list) else []:
        value = row.get("ip") if isinstance(row, dict) else row
        if isinstance(value, str):
            found.add(_normal(value))
    return found


class _Opnsense(VendorClient):
    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(VENDOR, OpnsenseSettings)
        key, secret = ctx.secret("opnsense_api_key"), ctx.secret("opnsense_api_secret")
        self.http = open_http(
            ctx, VENDOR, self.settings, POLICY, secrets=[key, secret], auth=httpx.BasicAuth(key, secret)
        )

    async def listed(self, ip: str) -> bool:
        alias = self.settings.alias
        response = await self.http.request("GET", f"/api/firewall/alias_util/list/{alias}")
        entries = table_entries(json_body(self.http, response))
        if not entries and alias not in await self.tables():
            raise PermanentError(
                f"opnsense: alias {alias!r} does not exist on {self.settings.base_url} "
                "(no pf table of that name; check the tenant's opnsense setting 'alias')"
            )
        return _normal(ip) in entries

    async def tables(self) -> set[str]:
        """The names of the firewall's pf tables (one per loaded alias)."""
        body = json_body(self.http, await self.http.request("GET", "/api/firewall/alias_util/aliases"))
        if not isinstance(body, list):
            raise PermanentError("opnsense: alias_util/aliases did not answer a list of table names")
        return {name for name in body if isinstance(name, str)}

    async def change(self, verb: str, ip: str) -> None:
        path = f"/api/firewall/alias_util/{verb}/{self.settings.alias}"
        body = json_body(self.http, await self.http.request("POST", path, json={"address": ip}))
        status = body.get("status") if isinstance(body, dict) else None
        if status != "done":
            said = body.get("status_msg") if isinstance(body, dict) else None
            why = f": {self.http.scrub(said)}" if isinstance(said, str) and said.strip() else ""
            raise VendorRejected(f"opnsense: alias {verb} answered status {status!r}{why}", code=str(status))


async def _lookup(inputs: IpInput, ctx: ActionContext) -> Listing:
    async with _Opnsense(ctx) as opn:
        listed = await opn.listed(str(inputs.ip))
    return Listing(str(inputs.ip), listed, f"in alias {opn.settings.alias}", {"listed": listed})


async def _set(
    inputs: IpInput, ctx: ActionContext, verb: str, *, listed: bool, already: str, done: str
) -> ActionResult:
    async with _Opnsense(ctx) as opn:
        if await opn.listed(str(inputs.ip)) == listed:
            return succeeded(f"{inputs.ip} {already} alias {opn.settings.alias}", changed=False)
        await opn.change(verb, str(inputs.ip))
    return succeeded(f"{inputs.ip} {done} alias {opn.settings.alias}")


block_action, unblock_action = ip_blocking(
    VENDOR,
    secrets=SECRETS,
    doc_url=DOC,
    lookup=_lookup,
    settings=OpnsenseSettings,
    calls=(
        "POST /api/firewall/alias_util/add/<alias> {{address: {ip}}}",
        "POST /api/firewall/alias_util/delete/<alias> {{address: {ip}}}",
    ),
)


@block_action(inputs=IpInput)
async def block_ip(inputs: IpInput, ctx: ActionContext) -> ActionResult:
    """Add the IP to the OPNsense block alias (``alias_util/add``)."""
    return await _set(inputs, ctx, "add", listed=True, already="was already in", done="added to")


@unblock_action(inputs=IpInput)
async def unblock_ip(inputs: IpInput, ctx: ActionContext) -> ActionResult:
    """Delete the IP from the OPNsense block alias (``alias_util/delete``)."""
    return await _set(inputs, ctx, "delete", listed=False, already="was not in", done="deleted from")
