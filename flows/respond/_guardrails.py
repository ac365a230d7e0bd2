"""Guardrails: what an action may do to a target, decided from the tenant's policy when it executes.

- **Never-block lists** refuse block actions on public resolvers (8.8.8.8, 1.1.1.1 …), a warninglist of
  major domains and their subdomains, the tenant's own domains and ranges, and loopback / link-local /
  multicast / reserved addresses (private ones too unless the tenant allows them). Addresses hidden in
  IPv6 forms (``::ffff:8.8.8.8``, 6to4, NAT64) are unwrapped. Domains are judged by name only: we never
  resolve an attacker's domain, so "it resolves to 8.8.8.8" can neither trick us nor stall us.
- **Protected assets** (domain controllers, EDR servers, jump hosts: by hostname pattern, by the host's
  groups/labels in its alerts, accounts by pattern) need the two-person rule: approvals of distinct
  listed approvers, bound to the action and target, consumed in the ledger's claim (``ApprovalNeed``).
- **Blast radius** caps isolations per incident and per tenant per hour; counted in the claim's
  transaction (``IsolationCap``), so concurrent isolations cannot overshoot.
- **Ambiguous targets**: a hostname with wildcards is refused here; adapters refuse 0 or >1 matches.

Restoring actions (release, unblock, restore, enable) give back what containment took: the never-block
lists and caps do not apply to them. An action's declared capability says which it is (never the verb
inside its key). A rollback reverts an action that passed these checks itself, so it needs no new
approval.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from urllib.parse import urlsplit

from actions import ActionSpec, Capability, TargetKind, registry
from flows.store import ApprovalNeed, IsolationCap, action_hash
from flows.tenants import Policy
from flows.warninglists import MAJOR_DOMAINS, PUBLIC_RESOLVERS, misp_warninglist, unwrapped

_WILDCARDS = re.compile(r"[*?%\[\]\s]")
# Names that stay on the host or the local network: blocking them breaks the host, never an attacker.
_SPECIAL_USE = re.compile(r"(^|\.)(localhost|localdomain|local|home\.arpa|in-addr\.arpa|ip6\.arpa)$")


class Ruling(StrEnum):
    """What a guardrail rules on one action and target (the incident's verdict is flows.models.Verdict)."""

    ALLOWED = "allowed"
    NEEDS_APPROVAL = "needs_approval"
    REFUSED = "refused"


@dataclass(frozen=True)
class Decision:
    """A guardrail verdict with its reason (shown on the ledger, the timeline and in plans)."""

    verdict: Ruling
    reason: str = ""
    rule: str = ""  # never_block | protected_asset | ambiguous_target | blast_radius

    @property
    def refused(self) -> bool:
        return self.verdict is Ruling.REFUSED


ALLOWED = Decision(Ruling.ALLOWED)


def capability(action: ActionSpec | str) -> Capability | None:
    """The capability an action declares (by spec or key); None for one that is not registered."""
    if isinstance(action, ActionSpec):
        return action.capability
    try:
        return registry.get(action).capability
    except KeyError:
        return None


def restores(action: ActionSpec | str) -> bool:
    does = capability(action)
    return does is not None and does.restores


def isolates(action: ActionSpec | str) -> bool:
    return capability(action) is Capability.ISOLATE_HOST


class Guard:
    """The tenant's guardrails. ``decide`` is pure (no I/O, no DNS); caps and approvals are counted by the
    ledger in the claim's transaction with what ``cap`` and ``approval`` return."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.policy = policy or Policy()
        never = self.policy.never_block
        self._own_domains = tuple(_domain(d) for d in never.domains if _domain(d))
        self._own_ranges = tuple(never.ip_ranges)
        assets = self.policy.protected_assets
        self._hosts = tuple(p.lower() for p in assets.hostnames)
        self._tags = tuple(p.lower() for p in assets.tags)
        self._accounts = tuple(p.lower() for p in assets.accounts)

    def decide(
        self,
        action: ActionSpec | str,
        kind: TargetKind | str,
        inputs: dict[str, Any],
        tags: frozenset[str] = frozenset(),
        *,
        rollback: bool = False,
    ) -> Decision:
        hostname = inputs.get("hostname")
        if isinstance(hostname, str):
            # Surrounding whitespace is a sensor's formatting (the adapters strip it too); inside a name it
            # makes no hostname at all: say which, rather than "could match several devices".
            name = hostname.strip()
            if not name or any(c.isspace() for c in name):
                return Decision(
                    Ruling.REFUSED,
                    f"{hostname!r} is no hostname (empty or with spaces inside)",
                    "ambiguous_target",
                )
            if _WILDCARDS.search(name):
                return Decision(
                    Ruling.REFUSED, f"hostname {hostname!r} could match several devices", "ambiguous_target"
                )
        if not restores(action):
            refusal = self.never_block(TargetKind(kind), inputs)
            if refusal:
                return Decision(Ruling.REFUSED, refusal, "never_block")
        if not rollback:
            why = self.protected(inputs, tags)
            if why:
                return Decision(
                    Ruling.NEEDS_APPROVAL, f"{why}: two-person approval required", "protected_asset"
                )
        return ALLOWED

    # -- never-block -----------------------------------------------------------------------------------

    def never_block(self, kind: TargetKind, inputs: dict[str, Any]) -> str | None:
        """Why blocking this target is refused, or None. Only IP, domain and URL targets block."""
        if kind is TargetKind.IP:
            return self._ip(str(inputs.get("ip", "")))
        if kind is TargetKind.DOMAIN:
            return self._name(str(inputs.get("domain", "")))
        if kind is TargetKind.URL:
            raw = str(inputs.get("url", "")).strip()
            try:
                host = urlsplit(raw if "://" in raw else f"//{raw}").hostname
            except ValueError:
                host = None
            if not host:
                return f"URL {raw!r} names no host"
            why = self._name(host)
            return f"URL host: {why}" if why else None
        return None

    def _name(self, value: str) -> str | None:
        try:
            address = ipaddress.ip_address(value.strip().strip("[]"))
        except ValueError:
            return self._domain(value)
        return self._address(address)

    def _ip(self, value: str) -> str | None:
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            return f"{value!r} is not an IP address"
        return self._address(address)

    def _address(self, address: IPv4Address | IPv6Address) -> str | None:
        for candidate in reversed(unwrapped(address)):  # the embedded address names the real target
            why = self._one_address(candidate)
            if why:
                return why if candidate == address else f"{address} embeds {candidate}: {why}"
        return None

    def _one_address(self, address: IPv4Address | IPv6Address) -> str | None:
        if any(address in net for net in PUBLIC_RESOLVERS):
            return f"{address} is a well-known public DNS resolver (never-block list)"
        listed = misp_warninglist(str(address))
        if listed:
            return f"{address} is on the MISP warninglist {listed!r}"
        for net in self._own_ranges:
            if address.version == net.version and address in net:
                return f"{address} is in the tenant's own range {net}"
        if address.is_loopback or address.is_link_local or address.is_multicast or address.is_unspecified:
            return f"{address} is a loopback, link-local, multicast or unspecified address"
        if address.is_reserved or str(address) == "255.255.255.255":
            return f"{address} is a reserved address"
        if not address.is_global and not self.policy.never_block.allow_private:
            return f"{address} is a private address (the tenant's policy does not allow blocking these)"
        return None

    def _domain(self, value: str) -> str | None:
        name = _domain(value)
        if not name or "." not in name or _WILDCARDS.search(name):
            return f"{value!r} is not a single fully qualified domain"
        for own in self._own_domains:
            if name == own or name.endswith("." + own):
                return f"{name} is the tenant's own domain ({own})"
        labels = name.split(".")
        for index in range(len(labels) - 1):
            parent = ".".join(labels[index:])
            if parent in MAJOR_DOMAINS:
                return f"{name} is on the warninglist of major domains ({parent})"
        if _SPECIAL_USE.search(name):
            return f"{name} is a special-use name (RFC 6761/6762/8375): it never reaches the Internet"
        listed = misp_warninglist(name)
        if listed:
            return f"{name} is on the MISP warninglist {listed!r}"
        return None

    # -- protected assets ------------------------------------------------------------------------------

    def protected(self, inputs: dict[str, Any], tags: frozenset[str] = frozenset()) -> str | None:
        """Why the target is a protected asset, or None."""
        hostname = inputs.get("hostname")
        if isinstance(hostname, str) and hostname:
            names = {hostname.lower(), hostname.lower().split(".", 1)[0]}
            for pattern in self._hosts:
                if any(fnmatchcase(name, pattern) for name in names):
                    return f"{hostname} is a protected asset (hostname pattern {pattern})"
            for tag in sorted(_tag(t) for t in tags):
                for pattern in self._tags:
                    if fnmatchcase(tag, pattern):
                        return f"{hostname} is a protected asset (tagged {tag})"
        account = inputs.get("account")
        if isinstance(account, str) and account:
            bare = account.lower().rsplit("\\", 1)[-1].split("@", 1)[0]
            for pattern in self._accounts:
                if fnmatchcase(account.lower(), pattern) or fnmatchcase(bare, pattern):
                    return f"account {account} is protected (pattern {pattern})"
        return None

    def approval(
        self, decision: Decision, tenant: str, incident_id: str, action: str, inputs: dict[str, Any]
    ) -> ApprovalNeed | None:
        if decision.verdict is not Ruling.NEEDS_APPROVAL:
            return None
        return ApprovalNeed(
            action_hash=action_hash(tenant, incident_id, action, inputs),
            required=self.policy.approvals_required,
            approvers=frozenset(a.strip().lower() for a in self.policy.approvers if a.strip()),
            reason=f"PolicyViolation: {decision.reason}",
        )

    # -- blast radius ----------------------------------------------------------------------------------

    def cap(self, action: ActionSpec | str, *, rollback: bool = False) -> IsolationCap | None:
        if rollback or not isolates(action):
            return None
        radius = self.policy.blast_radius
        if radius.max_hosts_per_incident is None and radius.max_hosts_per_hour is None:
            return None
        return IsolationCap(
            actions=isolating_actions(),
            per_incident=radius.max_hosts_per_incident,
            per_tenant_hour=radius.max_hosts_per_hour,
        )


def isolating_actions() -> frozenset[str]:
    """Every registered action that isolates a host, whatever the vendor: they share one cap."""
    return frozenset(spec.key for spec in registry.providing(Capability.ISOLATE_HOST))


def _domain(value: str) -> str:
    name = value.strip().lower().rstrip(".")
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def _tag(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")
