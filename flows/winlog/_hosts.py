"""One host, two names: Windows events name the computer by its FQDN (``Computer``:
``WS-FINANCE-07.corp.example.com``) where an EDR alert often names it short (``WS-FINANCE-07``), or the
reverse. Telemetry is looked up by ``host_key`` (stored beside each event) and the candidates are told
apart by ``same_host``.

>>> host_key("WS-FINANCE-07.corp.example.com"), same_host("ws-finance-07", "WS-FINANCE-07.corp.example.com")
('ws-finance-07', True)
>>> same_host("WS-1", "WS-10.corp.example.com"), same_host("ws-1.corp.example.com", "ws-1.lab.example.com")
(False, False)
"""

from __future__ import annotations

from ipaddress import ip_address


def host_key(hostname: str) -> str:
    """What a host is looked up by: its short name (first label), lower-case; an IP address as is."""
    name = hostname.strip().rstrip(".").lower()
    if _is_ip(name):
        return name
    return name.split(".", 1)[0]


def same_host(asked: str, stored: str) -> bool:
    """Whether two names are one host: equal (any case), or one is the short name (no dot) of the other's
    FQDN. Two FQDNs are one host only when equal; ``WS-1`` is never ``WS-10``; an IP only equals itself."""
    one, other = (n.strip().rstrip(".").lower() for n in (asked, stored))
    if one == other:
        return bool(one)
    if _is_ip(one) or _is_ip(other) or ("." in one) == ("." in other):
        return False
    short, full = (one, other) if "." not in one else (other, one)
    return bool(short) and full.split(".", 1)[0] == short


def _is_ip(name: str) -> bool:
    try:
        ip_address(name)
    except ValueError:
        return False
    return True
