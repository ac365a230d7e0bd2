"""Correlation keys: which values may relate two alerts, and how much each one weighs.

An alert that joins an open incident starts no respond run of its own, so a key that unrelated alerts
share by chance swallows an attack into somebody else's incident. (Found by a user: with an incident
naming www.google.com open, a malicious alert on another host whose command line ran
``ping www.google.com`` was "attached" — no triage, no containment.) Hence two rules:

- **Values every network shares are never keys**: loopback, private, link-local, multicast, unspecified,
  reserved, CGNAT and documentation addresses (anything ``ipaddress`` does not call global), private-use
  names (``localhost``, ``.local``, ``.internal``, ``.home.arpa``), the tenant's own domains and ranges,
  public resolvers and major domains (the warninglists the response guardrails use), the empty file's
  digests. A URL is judged by its host.
- **Keys read out of command-line text are weak**: a command line names whatever a user or script typed
  (``ping www.google.com``, an update server, a share), not what the detection is about. The detection's
  own observables and evidence fields (a destination endpoint, a URL object, a file hash) are strong.
  ``_ingest`` joins an incident on one strong key, or on two weak ones.
- **A registrable domain is one weak key** (``d:evil-c2.com`` from ``a.evil-c2.com`` and ``b.evil-c2.com``):
  the same owner is a hint, never enough alone, and every name under one owner counts as that one shared
  value. The owner is the Public Suffix List's, private section included, so ``x.duckdns.org`` and
  ``y.duckdns.org`` (two strangers' dynamic-DNS names) relate nothing; a registrable domain that the
  lists above exclude (a major or the tenant's own domain) is no key either.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from flows.models import Alert, Indicator, IndicatorType, host_of
from flows.warninglists import (
    EMPTY_FILE_HASHES,
    is_public_resolver,
    major_domain,
    registrable_domain,
    unwrapped,
)

KEY_TYPES = (
    IndicatorType.IPV4,
    IndicatorType.IPV6,
    IndicatorType.DOMAIN,
    IndicatorType.URL,
    IndicatorType.SHA256,
    IndicatorType.SHA1,
    IndicatorType.MD5,
)
_HASHES = (IndicatorType.SHA256, IndicatorType.SHA1, IndicatorType.MD5)
# Where Garrison's normalizers put command-line text: OCSF ``process.cmd_line`` (evidences), Elastic/ECS
# ``process.command_line``, Wazuh ``win.eventdata.commandLine``, Sysmon ``CommandLine`` (generic mappings).
_TEXT_FIELD = re.compile(r"cmd_?line|command_?line", re.IGNORECASE)
# RFC 6761 (localhost), RFC 6762 (.local, mDNS), RFC 8375 (.home.arpa), ICANN's private-use .internal;
# "localdomain" is the conventional loopback alias. Like private addresses, every network has them.
_PRIVATE_SUFFIXES = ("localhost", "localdomain", "local", "internal", "home.arpa")


@dataclass(frozen=True)
class Key:
    """One correlation key as stored (``h:`` host + rule, ``i:`` indicator, ``s:`` source + rule)."""

    value: str
    strong: bool
    # What a weak key counts as when weak keys are counted: a URL counts as its host, so one command-line
    # URL (which also yields its host as a domain) is one shared value, not two.
    anchor: str


def from_text(field: str) -> bool:
    """Whether an indicator's ``field`` is free command-line text rather than a detection's observable."""
    return bool(_TEXT_FIELD.search(field))


@dataclass(frozen=True)
class KeyFilter:
    """The values that never relate alerts: built-in lists plus the tenant's own domains and ranges."""

    own_domains: tuple[str, ...] = ()
    own_ranges: tuple[IPv4Network | IPv6Network, ...] = ()

    @classmethod
    def of(cls, domains: Iterable[str] = (), ranges: Iterable[IPv4Network | IPv6Network] = ()) -> KeyFilter:
        names = (d.strip().lower().lstrip("*.").rstrip(".") for d in domains)
        return cls(tuple(sorted({n for n in names if n})), tuple(ranges))

    def excluded(self, indicator: Indicator) -> bool:
        """True when ``indicator`` must not relate alerts (or is of a type that never does)."""
        kind = indicator.type
        if kind in (IndicatorType.IPV4, IndicatorType.IPV6):
            return self._address_excluded(indicator.value)
        if kind is IndicatorType.DOMAIN:
            return self._name_excluded(indicator.value)
        if kind is IndicatorType.URL:
            host = host_of(indicator.value)
            if not host:  # no host to judge (file:, opaque URLs): the full URL is specific enough
                return False
            return self._address_excluded(host) if _ip(host) else self._name_excluded(host)
        if kind in _HASHES:
            return indicator.value.lower() in EMPTY_FILE_HASHES
        return True

    def _address_excluded(self, text: str) -> bool:
        address = _ip(text)
        if address is None:
            return True  # typed as an address but unreadable: nothing to relate by
        # An IPv6 form that carries an IPv4 address (``::ffff:10.0.0.1``, 6to4, NAT64) is that address.
        for candidate in unwrapped(address)[1:] or [address]:
            # is_global is False for private, loopback, link-local, unspecified, reserved, CGNAT and the
            # documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32); multicast
            # counts as "global" to ipaddress, so it is named explicitly.
            if not candidate.is_global or candidate.is_multicast or is_public_resolver(candidate):
                return True
            if any(candidate.version == net.version and candidate in net for net in self.own_ranges):
                return True
        return False

    def _name_excluded(self, name: str) -> bool:
        name = name.lower().rstrip(".")
        if "." not in name:  # a single label (intranet, wpad) is a local name
            return True
        if any(name == suffix or name.endswith("." + suffix) for suffix in _PRIVATE_SUFFIXES):
            return True
        if any(name == own or name.endswith("." + own) for own in self.own_domains):
            return True
        return major_domain(name) is not None


def weighted_keys(alert: Alert, indicators: Sequence[Indicator], keep: KeyFilter) -> list[Key]:
    """The keys that relate alerts: the same host and rule first, then shared network indicators/hashes."""
    host = (alert.hostname or (alert.device.ip if alert.device else None) or "").lower()
    keys: dict[str, Key] = {}
    if host:
        value = f"h:{host}|r:{alert.rule}"[:512]
        keys[value] = Key(value, True, value)
    for indicator in indicators:
        if indicator.type not in KEY_TYPES or keep.excluded(indicator):
            continue
        value = f"i:{indicator.type}:{indicator.value}"[:512]
        strong = not from_text(indicator.field)
        url_host = host_of(indicator.value) if indicator.type is IndicatorType.URL else None
        name = url_host or indicator.value
        owner = _owner(name, keep) if indicator.type in (IndicatorType.DOMAIN, IndicatorType.URL) else None
        anchor = (owner or name).lower()
        if value not in keys or strong:
            keys[value] = Key(value, strong, anchor)
        if owner:
            domain_key = f"d:{owner}"[:512]
            keys.setdefault(domain_key, Key(domain_key, False, anchor))
    if not keys:  # no host, no indicator: the same rule from the same product
        value = f"s:{alert.source}|r:{alert.rule}"[:512]
        keys[value] = Key(value, True, value)
    return list(keys.values())


def _owner(name: str, keep: KeyFilter) -> str | None:
    if _ip(name):
        return None
    owner = registrable_domain(name)
    return None if owner is None or keep._name_excluded(owner) else owner


def _ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
