"""Links across time: which closed incidents of the tenant share an account, host, file hash or network
indicator with a new one (DESIGN §1: the account that saved an attack tool was the account the ransomware
operators logged in with eight months later; the precursor incident had been closed).

The intake already joins or links alerts that share a correlation key with an incident closed in the last
``closed_lookback`` days. This looks further back (a horizon of months, as the re-check does) and at
values that are no correlation key: accounts and hosts. What every network shares never links (the
correlation keys' own filter: private and documentation addresses, public resolvers, major domains, empty
files' digests), nor do built-in Windows accounts, which every incident on a Windows host names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from flows.models import Indicator, IndicatorType
from flows.winlog import host_key, same_host

from ._keys import KeyFilter
from ._rows import aware
from ._schema import IncidentRow, IncidentStatus, IndicatorRow
from ._views import IncidentView

LINK_TYPES = (
    IndicatorType.ACCOUNT,
    IndicatorType.SHA256,
    IndicatorType.SHA1,
    IndicatorType.MD5,
    IndicatorType.IPV4,
    IndicatorType.IPV6,
    IndicatorType.DOMAIN,
    IndicatorType.URL,
)
# Accounts every Windows incident names (the service accounts, an unknown "-"): a link by one of them is
# chance. Machine accounts (``WS-7$``) are the host itself, which links by its name instead.
_BUILTIN_ACCOUNTS = {
    "system", "nt authority\\system", "local service", "nt authority\\local service", "network service",
    "nt authority\\network service", "anonymous logon", "nt authority\\anonymous logon", "-", "n/a",
    "unknown", "root",
}  # fmt: skip
MAX_LINKS = 20  # an incident naming a value of hundreds of old ones is a shared value, not a lead


@dataclass(frozen=True)
class Link:
    """A closed incident and the value it shares with the new one."""

    incident_id: str
    title: str
    kind: str  # "account", "host", or the indicator's type
    value: str
    closed_at: datetime | None


def linkable(indicator: Indicator, keep: KeyFilter) -> bool:
    """Whether ``indicator`` may link two incidents across time.

    >>> from flows.models import Indicator
    >>> linkable(Indicator(type="account", value="CORP\\\\svc-backup", field="user.name"), KeyFilter())
    True
    >>> linkable(Indicator(type="account", value="NT AUTHORITY\\\\SYSTEM", field="user.name"), KeyFilter())
    False
    >>> linkable(Indicator(type="ipv4", value="10.1.2.3", field="dst"), KeyFilter())
    False
    """
    if indicator.type not in LINK_TYPES:
        return False
    if indicator.type is IndicatorType.ACCOUNT:
        name = indicator.value.strip().casefold()
        bare = _account(name)
        return bool(bare) and not {name, bare} & _BUILTIN_ACCOUNTS and not name.endswith("$")
    return not keep.excluded(indicator)


def earlier_incidents(
    engine: Engine,
    tenant: str,
    incident_id: str,
    hosts: Iterable[str],
    indicators: Iterable[Indicator],
    since: datetime,
    own_domains: Iterable[str] = (),
    own_ranges: Iterable[IPv4Network | IPv6Network] = (),
) -> list[Link]:
    """Closed incidents of ``tenant`` (closed at or after ``since``) that share an account, host or
    indicator with incident ``incident_id``: one link per earlier incident (the first shared value, in the
    order account, hash, network indicator, host), at most ``MAX_LINKS``, most recently closed first. The
    tenant's own domains and ranges link nothing (its response policy's ``never_block``)."""
    keep = KeyFilter.of(own_domains, own_ranges)
    values: dict[tuple[str, str], Indicator] = {}
    for indicator in indicators:
        if linkable(indicator, keep):
            values.setdefault((indicator.type.value, _folded(indicator.value)), indicator)
    wanted_hosts = [h for h in hosts if h and h.strip()]
    wanted_keys = {host_key(h) for h in wanted_hosts}
    closed = (
        (IncidentRow.tenant == tenant)
        & (IncidentRow.status == IncidentStatus.CLOSED)
        & (IncidentRow.id != incident_id)
        & (func.coalesce(IncidentRow.closed_at, IncidentRow.updated_at) >= since)
    )
    accounts = {_account(i.value) for (kind, _), i in values.items() if kind == IndicatorType.ACCOUNT.value}
    others = {key for key in values if key[0] != IndicatorType.ACCOUNT.value}
    shared: list[Any] = []
    columns = (IndicatorRow.incident_id, IndicatorRow.type, IndicatorRow.value, IncidentRow.title)
    joined = select(*columns, IncidentRow.closed_at).join(
        IncidentRow, IncidentRow.id == IndicatorRow.incident_id
    )
    with engine.connect() as conn:
        if accounts:
            # Compared by the bare name (``CORP\\jdoe``, ``jdoe@corp.example`` and ``jdoe`` are one person
            # within a tenant: the EDR names the Windows form, the VPN the other), so read them all.
            rows = conn.execute(joined.where(closed).where(IndicatorRow.type == IndicatorType.ACCOUNT)).all()
            shared += [r for r in rows if _account(r.value) in accounts]
        if others:
            shared += conn.execute(
                joined.where(closed)
                .where(IndicatorRow.type.in_({kind for kind, _ in others}))
                .where(func.lower(IndicatorRow.value).in_({value for _, value in others}))
            ).all()
        candidates = (
            conn.execute(
                select(IncidentRow.id, IncidentRow.title, IncidentRow.hosts, IncidentRow.closed_at).where(
                    closed
                )
            ).all()
            if wanted_hosts
            else []
        )
    found: dict[str, Link] = {}
    order = {kind: n for n, kind in enumerate(t.value for t in LINK_TYPES)}
    for row in sorted(shared, key=lambda r: order.get(str(r.type), len(order))):
        if row.incident_id not in found:
            found[row.incident_id] = Link(
                row.incident_id, row.title, str(row.type), row.value, aware(row.closed_at)
            )
    for row in candidates:
        same = next(
            (h for h in row.hosts or [] if isinstance(h, str) and _one_of(h, wanted_keys, wanted_hosts)), None
        )
        if same is not None and row.id not in found:
            found[row.id] = Link(row.id, row.title, "host", same, aware(row.closed_at))
    links = sorted(found.values(), key=lambda link: link.closed_at or since, reverse=True)
    return links[:MAX_LINKS]


def stored_indicators(incident: IncidentView) -> list[Indicator]:
    """An incident's indicators as models again (one stored by an older Garrison under rules that changed
    since, which no longer validates, is left out: it relates nothing)."""
    found = []
    for view in incident.indicators:
        try:
            found.append(Indicator(type=IndicatorType(view.type), value=view.value, field=view.field))
        except ValueError:
            continue
    return found


def _folded(value: str) -> str:
    return value.strip().lower()


def _account(name: str) -> str:
    """An account's bare name: without its domain, in either Windows or UPN form.

    >>> [_account(n) for n in ("CORP\\JDoe", "jdoe@corp.example", " jdoe ")]
    ['jdoe', 'jdoe', 'jdoe']
    """
    bare = name.strip().casefold().rsplit("\\", 1)[-1]
    return bare.split("@", 1)[0] if "@" in bare else bare


def _one_of(stored: str, keys: set[str], wanted: list[str]) -> bool:
    """Whether a host an earlier incident named is one of ``wanted`` (``WS-7`` and ``ws-7.corp.example``
    are one machine within a tenant; two different FQDNs are not)."""
    return host_key(stored) in keys and any(same_host(name, stored) for name in wanted)
