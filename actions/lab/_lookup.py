"""Finding a lab host: by name within a tenant, case-insensitively, and never a guess."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .._errors import TargetNotFound
from ._schema import LabHost


def by_name(tenant: str | None, hostname: str) -> Select[tuple[LabHost]]:
    query = select(LabHost).where(func.lower(LabHost.hostname) == hostname.lower()).order_by(LabHost.id)
    return query if tenant is None else query.where(LabHost.tenant == tenant)


def exactly_one(session: Session, tenant: str, hostname: str) -> LabHost:
    hosts = list(session.scalars(by_name(tenant, hostname)))
    if len(hosts) != 1:
        found = "no device" if not hosts else f"{len(hosts)} devices"
        raise TargetNotFound(f"{found} named {hostname!r} in tenant {tenant}: refusing to act")
    return hosts[0]
