"""OpenC2 over HTTPS: send one command to the tenant's OpenC2 consumer and map its response.

Transport: ``POST`` of the command as ``application/openc2-cmd+json;version=1.0`` with a fresh UUID in
``X-Request-ID`` (OpenC2 HTTPS transfer specification v1.0, §3.3; the consumer echoes it), bearer token.
The consumer's status travels in the HTTP status line (the spec's §4, message elements: "status … is
carried in the HTTP response start line"), so 4xx/5xx answers are read here, not refused by the HTTP
client (``accept``; the circuit breaker and 429 handling stay the client's); a consumer
answering 200 with another status in its body is taken at its body. Status → result: 200 done, 102
pending, 404 target not found, 400/401/403/501 refused, 500/503 transient, each error with the body's
``status_text``. The request id is the result's ``vendor_ref``. Commands are validated before sending.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field

from .._capabilities import Capability
from .._context import ActionContext
from .._errors import PermanentError, TargetNotFound, TransientError, VendorRejected
from .._inputs import IpInput
from .._registry import ActionFn, action, registry
from .._result import ActionResult, ActionStatus
from .._vendor import HostInput, Hostname, VendorSettings, open_http, pending, succeeded
from ..http import VendorHttp, VendorPolicy
from ._language import Dialect, OpenC2Invalid, Response, parse_response
from ._models import (
    Action,
    OpenC2Command,
    domain_command,
    er_allow,
    er_contain,
    er_delete_registry,
    slpf_delete_rule,
    slpf_deny,
)

VENDOR = "openc2"
SECRETS = ["openc2_api_token"]
DOC_LS = "https://docs.oasis-open.org/openc2/oc2ls/v1.0/oc2ls-v1.0.html"
DOC_SLPF = "https://docs.oasis-open.org/openc2/oc2slpf/v1.0/oc2slpf-v1.0.html"
DOC_ER = "https://github.com/oasis-tcs/openc2-ap-er/blob/working/oc2edr.md"
POLICY = VendorPolicy(rate_per_second=5.0, burst=5)
CMD_TYPE = "application/openc2-cmd+json;version=1.0"
RSP_TYPE = "application/openc2-rsp+json;version=1.0"
RESPONSE_DIALECT = Dialect(profiles=frozenset({"slpf", "er"}), extensions=True)
# The status codes a consumer may answer with (Language Specification v1.0 §3.3.2.1), read here.
STATUSES = frozenset({102, 400, 401, 403, 404, 500, 501, 503})


class Registers(Protocol):
    def __call__(self, *, inputs: type[BaseModel], call: str) -> Callable[[ActionFn], ActionFn]: ...


class OpenC2Settings(VendorSettings):
    path: str = Field(
        default="/openc2", pattern=r"^/[A-Za-z0-9/._-]*$", description="Consumer endpoint path."
    )
    named_group: str | None = Field(default=None, description="SLPF actuator named_group for IP blocks.")
    direction: Literal["both", "ingress", "egress"] | None = Field(
        default=None, description="SLPF direction of IP blocks."
    )


class UnblockIpInput(IpInput):
    rule_number: int | None = Field(
        default=None, description="SLPF rule id the deny answered with (captured in the block's undo data)."
    )


class DomainInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(
        min_length=1, max_length=253, pattern=r"^[A-Za-z0-9_.-]+$", description="Domain name, refanged."
    )


class RegistryValueInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: Hostname = Field(description="Endpoint holding the value.")
    key: str = Field(min_length=1, max_length=1024, description=r"Full key path, e.g. HKLM\SOFTWARE\...\Run.")
    name: str = Field(min_length=1, max_length=1024, description="Value name under the key.")


@dataclass(frozen=True)
class Reply:
    """The consumer's response to one command, and the ``X-Request-ID`` the command went out with."""

    response: Response
    request_id: str


async def send(ctx: ActionContext, command: OpenC2Command) -> Reply:
    """Validate and send one command; the consumer's response, or an error from the tree."""
    settings = ctx.settings(VENDOR, OpenC2Settings)
    message = command.to_message()
    token = ctx.secret("openc2_api_token")
    request_id = str(uuid.uuid4())
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": CMD_TYPE,
        "Accept": RSP_TYPE,
        "X-Request-ID": request_id,
    }
    async with open_http(ctx, VENDOR, settings, POLICY, secrets=[token]) as http:
        raw = await http.request(
            "POST", settings.path, content=json.dumps(message).encode(), headers=headers, accept=STATUSES
        )
        echoed = raw.headers.get("x-request-id")
        if echoed is not None and echoed.strip() != request_id:
            raise PermanentError(
                f"openc2: the answer to {command.action} carries X-Request-ID {http.scrub(echoed)[:64]!r}, "
                f"not {request_id}: it is not this command's response"
            )
        response = _response(http, raw, command.action, settings.path)
    return Reply(response, request_id)


def _response(http: VendorHttp, raw: httpx.Response, action: str, path: str) -> Response:
    """The OpenC2 response of ``raw``, or an error from the tree naming the consumer's status and text."""
    line = raw.status_code
    body = _body(raw)
    if line == 200:
        if body is None:
            raise PermanentError(f"openc2: {action} answered 200 without an OpenC2 response")
        # The status line says 200; a consumer that puts the outcome only in its body is taken at it.
        response = parse_response(body, RESPONSE_DIALECT)
    else:
        try:
            parsed = None if body is None else parse_response(body, RESPONSE_DIALECT)
        except OpenC2Invalid:
            parsed = None
        if parsed is None and line == 404:
            # Without an OpenC2 body a 404 is the web server's: the path, not the target, is missing.
            raise VendorRejected(
                f"openc2: {action} answered 404 without an OpenC2 response; is {path} the consumer's "
                "endpoint (setting 'path')?",
                status_code=404,
            )
        text = parsed.status_text if parsed else _plain(raw)
        response = Response(line, text, parsed.results if parsed else {})
    text = http.scrub(response.status_text or "")
    where = f"openc2: {action} answered {response.status}" + (f" ({text})" if text else "")
    if response.status in (500, 503):
        raise TransientError(where)
    if response.status == 404:
        raise TargetNotFound(where)
    if response.status >= 300:
        raise VendorRejected(where, status_code=response.status)
    return response


def _body(raw: httpx.Response) -> Any:
    if not raw.content:
        return None
    try:
        return raw.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _plain(raw: httpx.Response) -> str | None:
    # A proxy's or web server's page is not the consumer's word: only a short line of it is kept.
    text = raw.text if raw.content else ""
    if "<" in text:
        return raw.reason_phrase or None
    return text[:200] or raw.reason_phrase or None


def _result(reply: Reply, done: str, **extra: Any) -> ActionResult:
    ref = reply.request_id
    if reply.response.status == 102:
        return pending(f"{done}: consumer is processing", vendor_ref=ref)
    if 200 <= reply.response.status < 300:
        return succeeded(done, vendor_ref=ref, **extra)
    return ActionResult(
        status=ActionStatus.FAILED, detail=f"consumer answered {reply.response.status}", vendor_ref=ref
    )


def _inverses(
    do: Capability, undo: Capability, doc_url: str, *, idempotent: bool = False
) -> tuple[Registers, Registers]:
    """The decorators of two OpenC2 actions that undo each other (``openc2.<capability>``); each takes
    its action's ``inputs``."""
    shared = partial(action, secrets=SECRETS, doc_url=doc_url, idempotent=idempotent)
    keys = f"{VENDOR}.{do}", f"{VENDOR}.{undo}"
    return (
        partial(shared, key=keys[0], capability=do, inverse=keys[1]),
        partial(shared, key=keys[1], capability=undo, inverse=keys[0]),
    )


registry.declare_settings(VENDOR, OpenC2Settings)
deny_ip, delete_ip_rule = _inverses(Capability.BLOCK_IP, Capability.UNBLOCK_IP, DOC_SLPF)


@deny_ip(inputs=IpInput, call="POST OpenC2 {{action: deny, target: ipv4_net|ipv6_net {ip}}} (SLPF)")
async def block_ip(inputs: IpInput, ctx: ActionContext) -> ActionResult:
    """Send SLPF ``deny ipv4_net|ipv6_net`` for the IP; the answered rule number is kept for unblocking."""
    settings = ctx.settings(VENDOR, OpenC2Settings)
    command = slpf_deny(inputs.ip, named_group=settings.named_group, direction=settings.direction)
    reply = await send(ctx, command)
    rule = (reply.response.results.get("slpf") or {}).get("rule_number")
    numbered = isinstance(rule, int) and not isinstance(rule, bool)
    undo: dict[str, Any] = {"ip": str(inputs.ip), **({"rule_number": rule} if numbered else {})}
    return _result(reply, f"deny {inputs.ip} sent" + (f" (rule {rule})" if numbered else ""), undo=undo)


@delete_ip_rule(
    inputs=UnblockIpInput, call="POST OpenC2 {{action: delete, target: slpf:rule_number {rule_number}}}"
)
async def unblock_ip(inputs: UnblockIpInput, ctx: ActionContext) -> ActionResult:
    """Send SLPF ``delete slpf:rule_number`` for the rule the IP's deny created."""
    if inputs.rule_number is None:
        raise PermanentError("openc2: no rule number was captured for this block; delete the rule by hand")
    settings = ctx.settings(VENDOR, OpenC2Settings)
    reply = await send(ctx, slpf_delete_rule(inputs.rule_number, named_group=settings.named_group))
    return _result(reply, f"rule {inputs.rule_number} for {inputs.ip} deleted")


async def _domain(inputs: DomainInput, ctx: ActionContext, verb: Action) -> ActionResult:
    domain = inputs.domain.lower().rstrip(".")
    return _result(await send(ctx, domain_command(verb, domain)), f"{verb} {domain} sent")


deny_domain, allow_domain = _inverses(Capability.BLOCK_DOMAIN, Capability.UNBLOCK_DOMAIN, DOC_LS)


@deny_domain(inputs=DomainInput, call="POST OpenC2 {{action: deny, target: domain_name {domain}}}")
async def block_domain(inputs: DomainInput, ctx: ActionContext) -> ActionResult:
    """Send ``deny domain_name`` (language level: SLPF has no domain target) to the consumer."""
    return await _domain(inputs, ctx, Action.DENY)


@allow_domain(inputs=DomainInput, call="POST OpenC2 {{action: allow, target: domain_name {domain}}}")
async def unblock_domain(inputs: DomainInput, ctx: ActionContext) -> ActionResult:
    """Send ``allow domain_name`` to lift the consumer's block of the domain."""
    return await _domain(inputs, ctx, Action.ALLOW)


contain_device, allow_device = _inverses(
    Capability.ISOLATE_HOST, Capability.RELEASE_HOST, DOC_ER, idempotent=True
)


@contain_device(
    inputs=HostInput, call="POST OpenC2 {{action: contain, target: device {hostname}}} (ER, isolation)"
)
async def isolate_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Send ER ``contain device`` with ``device_containment: network_isolation`` for the host."""
    return _result(await send(ctx, er_contain(inputs.hostname)), "contain device sent (network isolation)")


@allow_device(inputs=HostInput, call="POST OpenC2 {{action: allow, target: device {hostname}}} (ER)")
async def release_host(inputs: HostInput, ctx: ActionContext) -> ActionResult:
    """Send ER ``allow device`` to lift the host's containment."""
    return _result(await send(ctx, er_allow(inputs.hostname)), "allow device sent")


@action(
    key="openc2.delete_registry_value",
    inputs=RegistryValueInput,
    capability=Capability.DELETE_REGISTRY_VALUE,
    secrets=SECRETS,
    inverse=None,  # an OpenC2 delete returns nothing to restore from
    doc_url=DOC_ER,
    idempotent=True,
    call="POST OpenC2 {{action: delete, target: er:registry_entry {key}\\{name}}} on {hostname} (ER)",
)
async def delete_registry_value(inputs: RegistryValueInput, ctx: ActionContext) -> ActionResult:
    """Send ER ``delete er:registry_entry`` for the value on the host (no data captured: no restore)."""
    command = er_delete_registry(inputs.hostname, inputs.key, inputs.name)
    return _result(await send(ctx, command), "delete registry entry sent")
