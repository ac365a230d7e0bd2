"""Built-in warninglists: well-known values that are nobody's attack infrastructure.

A feed listing 8.8.8.8 once took a network down, and attackers point their domains at public resolvers so
that "block the resolved IP" hits Google DNS. Like MISP's warninglists, these are the well-known
resolvers and the major domains whose loss breaks every customer; the tenant adds its own domains and
ranges in its policy. We never resolve a domain to check it: an attacker's DNS answers are not evidence.

Two layers read them, which is why they live here and not under either one:
- the response guardrails (``flows.respond``) never block them;
- the store's grouping (``flows.store``) never relates two alerts through them: every host on earth
  talks to www.google.com and 8.8.8.8, so sharing one says nothing about sharing an attacker.
The store sits below the respond engine (respond imports store), so this module imports neither.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from pathlib import Path

from publicsuffixlist import PublicSuffixList
from pymispwarninglists.api import WarningLists

__all__ = [
    "EMPTY_FILE_HASHES",
    "MAJOR_DOMAINS",
    "PUBLIC_RESOLVERS",
    "is_public_resolver",
    "major_domain",
    "misp_warninglist",
    "registrable_domain",
    "unwrapped",
]

PUBLIC_RESOLVERS: tuple[IPv4Network | IPv6Network, ...] = tuple(
    ip_network(net)
    for net in (
        # Google Public DNS
        "8.8.8.8/32",
        "8.8.4.4/32",
        "2001:4860:4860::8888/128",
        "2001:4860:4860::8844/128",
        # Cloudflare (and its malware/family filters)
        "1.1.1.1/32",
        "1.0.0.1/32",
        "1.1.1.2/32",
        "1.0.0.2/32",
        "1.1.1.3/32",
        "1.0.0.3/32",
        "2606:4700:4700::1111/128",
        "2606:4700:4700::1001/128",
        # Quad9
        "9.9.9.9/32",
        "149.112.112.112/32",
        "9.9.9.10/32",
        "9.9.9.11/32",
        "2620:fe::fe/128",
        "2620:fe::9/128",
        # OpenDNS / Cisco Umbrella
        "208.67.222.222/32",
        "208.67.220.220/32",
        "208.67.222.123/32",
        "208.67.220.123/32",
        "2620:119:35::35/128",
        "2620:119:53::53/128",
        # AdGuard, CleanBrowsing, Verisign, Level3, Yandex, Comodo, DNS.WATCH
        "94.140.14.14/32",
        "94.140.15.15/32",
        "185.228.168.9/32",
        "185.228.169.9/32",
        "64.6.64.6/32",
        "64.6.65.6/32",
        "4.2.2.1/32",
        "4.2.2.2/32",
        "77.88.8.8/32",
        "77.88.8.1/32",
        "8.26.56.26/32",
        "8.20.247.20/32",
        "84.200.69.80/32",
        "84.200.70.40/32",
    )
)

# Domains whose blocking breaks every customer (updates, identity, mail, CDNs, certificate checks); each
# covers its subdomains. Blocking a single malicious URL on one of them stays an analyst's decision.
MAJOR_DOMAINS: frozenset[str] = frozenset(
    {
        # Google
        "google.com",
        "googleapis.com",
        "gstatic.com",
        "googleusercontent.com",
        "gmail.com",
        "youtube.com",
        "gvt1.com",
        # Microsoft
        "microsoft.com",
        "windowsupdate.com",
        "windows.com",
        "windows.net",
        "live.com",
        "office.com",
        "office365.com",
        "office.net",
        "microsoftonline.com",
        "msftconnecttest.com",
        "msft.net",
        "azure.com",
        "azureedge.net",
        "sharepoint.com",
        "outlook.com",
        "bing.com",
        "skype.com",
        "msn.com",
        "digicert.com",
        # Apple, Amazon, Meta
        "apple.com",
        "icloud.com",
        "mzstatic.com",
        "amazon.com",
        "amazonaws.com",
        "cloudfront.net",
        "facebook.com",
        "fbcdn.net",
        "whatsapp.net",
        # CDNs, certificates, developer infrastructure
        "akamai.net",
        "akamaiedge.net",
        "akamaihd.net",
        "cloudflare.com",
        "cloudflare-dns.com",
        "fastly.net",
        "letsencrypt.org",
        "lencr.org",
        "sectigo.com",
        "globalsign.com",
        "verisign.com",
        "github.com",
        "githubusercontent.com",
        "ubuntu.com",
        "debian.org",
        "redhat.com",
        "mozilla.org",
        "mozilla.net",
        # Security vendors whose consoles responders need (EDR telemetry must keep flowing)
        "crowdstrike.com",
        "sentinelone.net",
        "securitycenter.windows.com",
        "wdcp.microsoft.com",
        # Root DNS
        "root-servers.net",
        "in-addr.arpa",
        "ip6.arpa",
    }
)


# MISP's "empty-hashes" warninglist: the digests of a zero-byte file. Countless unrelated files are
# empty, so two alerts naming this digest share nothing.
EMPTY_FILE_HASHES: frozenset[str] = frozenset(
    {
        "d41d8cd98f00b204e9800998ecf8427e",  # MD5
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",  # SHA-1
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # SHA-256
    }
)


def major_domain(name: str) -> str | None:
    """The listed domain that ``name`` is or lies under (``www.google.com`` → ``google.com``), or None."""
    labels = name.lower().rstrip(".").split(".")
    for index in range(len(labels) - 1):
        parent = ".".join(labels[index:])
        if parent in MAJOR_DOMAINS:
            return parent
    return None


def registrable_domain(name: str) -> str | None:
    """The domain its owner registered (the Public Suffix List's "eTLD+1"), or None when ``name`` is a public
    suffix itself or its TLD is unknown.

    The list's private section counts: dynamic-DNS and hosting services (``duckdns.org``, ``github.io``,
    ``blogspot.com``) hand out names to strangers, so each name under them is its own owner.

    >>> registrable_domain("a.evil-c2.com"), registrable_domain("x.duckdns.org")
    ('evil-c2.com', 'x.duckdns.org')
    >>> registrable_domain("duckdns.org") is None
    True
    """
    return _public_suffixes().privatesuffix(name.strip().lower().rstrip("."))


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    # The list bundled with the package (offline); an unknown TLD names no owner.
    return PublicSuffixList(accept_unknown=False)


def is_public_resolver(address: IPv4Address | IPv6Address) -> bool:
    return any(address in net for net in PUBLIC_RESOLVERS)


_NAT64 = ip_network("64:ff9b::/96")


def unwrapped(address: IPv4Address | IPv6Address) -> list[IPv4Address | IPv6Address]:
    """The address and any IPv4 address carried inside it (IPv4-mapped, 6to4, Teredo, NAT64): an
    attacker writes ``::ffff:8.8.8.8`` to slip a resolver past a list of IPv4 addresses.

    >>> [str(a) for a in unwrapped(IPv6Address("::ffff:8.8.8.8"))]
    ['::ffff:808:808', '8.8.8.8']
    """
    found: list[IPv4Address | IPv6Address] = [address]
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped:
            found.append(address.ipv4_mapped)
        if address.sixtofour:
            found.append(address.sixtofour)
        if address.teredo:
            found.extend(address.teredo)
        if address in _NAT64:
            found.append(IPv4Address(int(address) & 0xFFFFFFFF))
    return found


# MISP warninglists (pymispwarninglists, shipped in the package: nothing fetched) that name what no block
# may hit: public resolvers by address and by name, the services that tell a host its own IP, the Internet's
# most-used sites, the platforms' own domains, RFC 6761 special-use names. The broad lists (Tranco's top
# million, dynamic DNS, cloud ranges) are left out on purpose: attackers host there too.
MISP_NEVER_BLOCK = (
    "public-dns-v4",
    "public-dns-v6",
    "public-dns-hostname",
    "findip-host",
    "alexa",
    "cisco_top1000",
    "moz-top500",
    "google",
    "microsoft",
    "microsoft-office365",
    "rfc6761",
)


@lru_cache(maxsize=1)
def _misp_lists() -> tuple[WarningLists, WarningLists]:
    # Only the lists we use are parsed (the package holds ~120, some with a million entries). The address
    # lists hold single addresses: an exact search is right and fast (a CIDR search over 62,000 resolvers
    # takes 3 s to build); names are searched with their parents (``mail.google.com`` under ``google.com``).
    root = Path(sys.modules["pymispwarninglists"].__file__ or "").parent / "data" / "misp-warninglists"
    lists = [json.loads((root / "lists" / name / "list.json").read_bytes()) for name in MISP_NEVER_BLOCK]
    addresses = [found for found in lists if found["type"] == "cidr"]
    names = [found for found in lists if found["type"] != "cidr"]
    return WarningLists(slow_search=False, lists=addresses), WarningLists(slow_search=True, lists=names)


def misp_warninglist(value: str) -> str | None:
    """The name of the MISP warninglist among ``MISP_NEVER_BLOCK`` that lists ``value`` (a domain or an IP
    address), or None.

    >>> misp_warninglist("dns.google")
    'List of known public DNS resolvers expressed as hostname'
    >>> misp_warninglist("js.mykings.top") is None
    True
    """
    wanted = value.strip().lower().rstrip(".")
    addresses, names = _misp_lists()
    found = addresses.search(wanted) or names.search(wanted)
    return found[0].name if found else None
