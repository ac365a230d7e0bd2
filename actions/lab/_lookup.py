"""Finding a lab host: by name within a tenant, case-insensitively, and never a guess."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .._errors import TargetNotFound
from ._schema import LabHost


def by_name(tenant: str | None, hostname: str) -> Select[tuple[LabHost]]:
    # Surrounding whitespace is a slip (a sensor's padded field, a pasted name), never part of a name: no
    # hostname holds whitespace (DNS and NetBIOS names cannot), so "WS-07 " can only mean "WS-07". Both
    # sides are trimmed, and the name must still match exactly one device: "WS-07" and a stored "WS-07 "
    # are two devices, and ambiguous.
    name = hostname.strip().lower()
    query = select(LabHost).where(func.lower(func.trim(LabHost.hostname)) == name).order_by(LabHost.id)
    return query if tenant is None else query.where(LabHost.tenant == tenant)


def exactly_one(session: Session, tenant: str, hostname: str) -> LabHost:
    name = hostname.strip()
    if not name or any(char.isspace() for char in name):
        # Say what is wrong: this is no hostname at all, not a name that matched nothing or several.
        what = "an empty hostname" if not name else f"{hostname!r} is no hostname (whitespace inside)"
        raise TargetNotFound(f"{what} in tenant {tenant}: refusing to act")
    hosts = list(session.scalars(by_name(tenant, name)))
    if len(hosts) != 1:
        found = "no device" if not hosts else f"{len(hosts)} devices"
        raise TargetNotFound(f"{found} named {name!r} in tenant {tenant}: refusing to act")
    return hosts[0]
