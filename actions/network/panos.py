"""PAN-OS: block an IP by tagging it into a dynamic address group (User-ID API), with a timeout.

One-time set-up on the firewall (committed once): a dynamic address group matching the tag (default
``garrison-block``) referenced by a deny rule. Tagging needs no commit and expires by itself after
``timeout`` seconds; unblock unregisters the tag. Answers are XML with ``status="success|error"``, often
under HTTP 200. Tagging an IP that already carries the tag is an error whose entry says "already exists,
ignore", and unregistering a tag the IP does not carry one that says "does not exist, ignore unreg": both
mean the firewall is already as asked (Palo Alto's own SDK, pan-os-python ``UserId.send``, ignores them
alike), so they succeed unchanged. Every request names the ``vsys`` (the XML API's User-ID parameter,
needed on multi-vsys firewalls). Shapes: tests/fixtures/vendors/panos-*.xml.
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
    vsys: str = Field(
        default="vsys1", pattern=r"^vsys[0-9]{1,3}$", description="Virtual system the deny DAG lives in."
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


# What a User-ID entry says when the firewall already is as asked (endings as pan-os-python matches them;
# "not registered" as older releases word an unregister of an absent tag).
ALREADY = {
    "register": ("already exists, ignore",),
    "unregister": ("does not exist, ignore unreg", "not registered"),
}


def _root(text: str) -> ElementTree.Element:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise PermanentError("panos: refusing an XML answer with a DTD")
    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError:
        raise PermanentError("panos: the answer is not XML") from None


def already_done(text: str, verb: str, ip: str) -> bool:
    """Whether an error answer to a User-ID ``verb`` of ``ip`` only says it was already done: every entry
    names ``ip`` and ends with one of the ``ALREADY`` phrases (any other error is a real refusal)."""
    root = _root(text)
    if root.get("status") != "error":
        return False
    entries = list(root.iter("entry"))
    if not entries:
        return False
    for entry in entries:
        message = (entry.get("message") or "").strip().lower()
        if entry.get("ip") != ip or not any(message.endswith(p) for p in ALREADY.get(verb, ())):
            return False
    return True


def parse_response(http: VendorHttp, text: str) -> ElementTree.Element:
    """The ``<response>`` element if its status is success; else VendorRejected with the firewall's text."""
    root = _root(text)
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

    async def user_id(self, verb: str, ip: str, message: str) -> bool:
        """Send a User-ID message; False when the firewall answers that it already was so."""
        params = {"type": "user-id", "vsys": self.settings.vsys}
        response = await self.http.request("POST", "/api/", params=params, data={"cmd": message})
        if already_done(response.text, verb, ip):
            return False
        parse_response(self.http, response.text)
        return True

    async def tags_of(self, ip: str) -> set[str]:
        cmd = f"<show><object><registered-ip><ip>{ip}</ip></registered-ip></object></show>"
        params = {"type": "op", "cmd": cmd, "vsys": self.settings.vsys}
        response = await self.http.request("GET", "/api/", params=params)
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
    ip = str(inputs.ip)
    async with _Panos(ctx) as panos:
        timeout = panos.settings.timeout if inputs.timeout is None else inputs.timeout
        tag, where = panos.settings.tag, panos.settings.vsys
        if not await panos.user_id("register", ip, uid_message("register", ip, tag, timeout)):
            return succeeded(f"{ip} was already tagged {tag} in {where}", changed=False)
    expiry = f", expires in {timeout}s" if timeout else ""
    return succeeded(f"{ip} tagged {tag} in {where}{expiry}", undo={"ip": ip})


@unblock_action(inputs=IpInput)
async def unblock_ip(inputs: IpInput, ctx: ActionContext) -> ActionResult:
    """Remove the block tag from the IP on PAN-OS (User-ID ``unregister``)."""
    ip = str(inputs.ip)
    async with _Panos(ctx) as panos:
        tag, where = panos.settings.tag, panos.settings.vsys
        if not await panos.user_id("unregister", ip, uid_message("unregister", ip, tag)):
            return succeeded(f"{ip} was not tagged {tag} in {where}", changed=False)
    return succeeded(f"{ip} untagged {tag} in {where}")
