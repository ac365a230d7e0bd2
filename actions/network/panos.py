"""PAN-OS: block an IP by tagging it into a dynamic address group (User-ID API), with a timeout.

One-time set-up on the firewall (committed once): a dynamic address group matching the tag (default
``garrison-block``) referenced by a deny rule. Tagging needs no commit and expires by itself after
``timeout`` seconds; unblock unregisters the tag. Answers are XML with ``status="success|error"``, often
under HTTP 200. Shapes: tests/fixtures/vendors/network/panos_*.xml.
"""

from __future__ import annotations

from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

from pydantic import Field

from .._context import ActionContext
from .._errors import PermanentError, VendorRejected
from .._inputs import IpInput
from .._result import ActionResult
from .._vendor import VendorClient, VendorSettings, open_http, succeeded
from ..http import VendorHttp, VendorPolicy
from ._base import Listing, ip_blocking

VENDOR = "panos"
SECRETS = ["panos_api_key"]
DOC = "https://docs.paloaltonetworks.com/pan-os/11-1/pan-os-panorama-api/pan-os-xml-api-request-types/apply-user-id-mapping-and-populate-dynamic-address-groups-api"
POLICY = VendorPolicy(rate_per_second=5.0, burst=5)


class PanosSettings(VendorSettings):
    tag: str = Field(
        default="garrison-block", pattern=r"^[A-Za-z0-9_.-]{1,127}$", description="Tag the deny DAG matches."
    )
    timeout: int = Field(
        default=86400, ge=0, le=2592000, description="Seconds until PAN-OS drops the tag (0: never)."
    )


class PanosBlockInput(IpInput):
    timeout: int | None = Field(
        default=None,
        ge=0,
        le=2592000,
        description="PAN-OS tag timeout in seconds; the tenant default if unset.",
    )


def uid_message(verb: str, ip: str, tag: str, timeout: int | None = None) -> str:
    """The User-ID ``register``/``unregister`` message (values are validated, and quoted anyway)."""
    when = f" timeout={quoteattr(str(timeout))}" if timeout else ""
    member = f"<member{when}>{tag}</member>"
    entry = f"<entry ip={quoteattr(ip)}><tag>{member}</tag></entry>"
    payload = f"<payload><{verb}>{entry}</{verb}></payload>"
    return f"<uid-message><version>2.0</version><type>update</type>{payload}</uid-message>"


def parse_response(http: VendorHttp, text: str) -> ElementTree.Element:
    """The ``<response>`` element if its status is success; else VendorRejected with the firewall's text."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise PermanentError("panos: refusing an XML answer with a DTD")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        raise PermanentError("panos: the answer is not XML") from None
    if root.tag != "response" or root.get("status") != "success":
        words = [t.strip() for t in root.itertext() if t.strip()]
        words += [e.get("message", "") for e in root.iter("entry") if e.get("message")]
        raise VendorRejected(f"panos: {http.scrub(' '.join(words)) or 'error'}", code=root.get("code"))
    return root


class _Panos(VendorClient):
    def __init__(self, ctx: ActionContext) -> None:
        self.settings = ctx.settings(VENDOR, PanosSettings)
        key = ctx.secret("panos_api_key")
        self.http = open_http(ctx, VENDOR, self.settings, POLICY, secrets=[key], headers={"X-PAN-KEY": key})

    async def user_id(self, message: str) -> None:
        response = await self.http.request("POST", "/api/", params={"type": "user-id"}, data={"cmd": message})
        parse_response(self.http, response.text)

    async def tags_of(self, ip: str) -> set[str]:
        cmd = f"<show><object><registered-ip><ip>{ip}</ip></registered-ip></object></show>"
        response = await self.http.request("GET", "/api/", params={"type": "op", "cmd": cmd})
        root = parse_response(self.http, response.text)
        return {
            (member.text or "").strip()
            for entry in root.iter("entry")
            if entry.get("ip") == ip
            for member in entry.iter("member")
        }


async def _lookup(inputs: IpInput, ctx: ActionContext) -> Listing:
    async with _Panos(ctx) as panos:
        tags = await panos.tags_of(str(inputs.ip))
    tag = panos.settings.tag
    return Listing(str(inputs.ip), tag in tags, f"tagged {tag}", {"tags": sorted(tags)})


block_action, unblock_action = ip_blocking(
    VENDOR,
    secrets=SECRETS,
    doc_url=DOC,
    lookup=_lookup,
    settings=PanosSettings,
    calls=(
        "POST /api/?type=user-id <register> tag {ip} into the block dynamic address group",
        "POST /api/?type=user-id <unregister> tag of {ip}",
    ),
)


@block_action(inputs=PanosBlockInput)
async def block_ip(inputs: PanosBlockInput, ctx: ActionContext) -> ActionResult:
    """Tag the IP into the PAN-OS dynamic address group that a deny rule uses (User-ID ``register``)."""
    async with _Panos(ctx) as panos:
        timeout = panos.settings.timeout if inputs.timeout is None else inputs.timeout
        await panos.user_id(uid_message("register", str(inputs.ip), panos.settings.tag, timeout))
    # Registering again only refreshes the timeout, so PAN-OS cannot tell "new" from "already".
    expiry = f", expires in {timeout}s" if timeout else ""
    return succeeded(f"{inputs.ip} tagged {panos.settings.tag}{expiry}", undo={"ip": str(inputs.ip)})


@unblock_action(inputs=IpInput)
async def unblock_ip(inputs: IpInput, ctx: ActionContext) -> ActionResult:
    """Remove the block tag from the IP on PAN-OS (User-ID ``unregister``)."""
    async with _Panos(ctx) as panos:
        try:
            await panos.user_id(uid_message("unregister", str(inputs.ip), panos.settings.tag))
        except VendorRejected as error:
            if "not registered" not in str(error).lower() and "not exist" not in str(error).lower():
                raise
            return succeeded(f"{inputs.ip} was not tagged", changed=False)
    return succeeded(f"{inputs.ip} untagged {panos.settings.tag}")
