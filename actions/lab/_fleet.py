"""The lab fleet: seed simulated hosts, read their state, and change it as a real EDR/firewall would."""

from __future__ import annotations

import ipaddress
import uuid
import weakref
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, selectinload

from ._endpoint_state import HostObjects
from ._lookup import by_name, exactly_one
from ._schema import (
    LabBase,
    LabBlock,
    LabConnection,
    LabFile,
    LabHost,
    LabProcess,
    LabRegistryValue,
    LabScheduledTask,
    LabService,
)
from ._seeds import HostSeed, RegistryValueSeed

_SCHEMA_READY: weakref.WeakSet[Engine] = weakref.WeakSet()


class LabFleet(HostObjects):
    """All reads and writes of the lab fleet. Hostnames match case-insensitively, like EDR consoles."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # The simulator's tables exist only in stores that use the lab (a tenant bound to it, the demo,
        # tests): created on the first fleet of each engine, never by the Garrison store itself.
        if engine not in _SCHEMA_READY:
            self.create_schema()
            _SCHEMA_READY.add(engine)

    def create_schema(self) -> None:
        LabBase.metadata.create_all(self.engine)

    def seed(self, host: HostSeed, *, replace: bool = True) -> str:
        """Create the host (replacing any of the same tenant and name); returns its device id."""
        with Session(self.engine) as session, session.begin():
            if replace:
                for old in session.scalars(by_name(host.tenant, host.hostname)):
                    session.delete(old)
                session.flush()
            row = LabHost(tenant=host.tenant, hostname=host.hostname, os=host.os, device_id=str(uuid.uuid4()))
            row.registry_values = [LabRegistryValue(**v.model_dump()) for v in host.registry_values]
            row.services = [LabService(**s.model_dump()) for s in host.services]
            row.scheduled_tasks = [LabScheduledTask(**t.model_dump()) for t in host.scheduled_tasks]
            row.connections = [LabConnection(**c.model_dump()) for c in host.connections]
            row.processes = [LabProcess(**p.model_dump()) for p in host.processes]
            row.files = [LabFile(**f.model_dump()) for f in host.files]
            session.add(row)
            return row.device_id

    def show(self, tenant: str | None, hostname: str) -> list[dict[str, Any]]:
        """Every host of that name (in ``tenant``, or in all tenants when None), with its state."""
        with Session(self.engine) as session:
            query = by_name(tenant, hostname).options(
                selectinload(LabHost.registry_values),
                selectinload(LabHost.services),
                selectinload(LabHost.scheduled_tasks),
                selectinload(LabHost.connections),
                selectinload(LabHost.processes),
                selectinload(LabHost.files),
            )
            hosts = list(session.scalars(query))
            blocked = {(b.tenant, b.kind, b.value) for b in session.scalars(select(LabBlock))}
            return [_host_view(host, blocked) for host in hosts]

    def blocks(self, tenant: str) -> list[dict[str, str]]:
        with Session(self.engine) as session:
            rows = session.scalars(select(LabBlock).where(LabBlock.tenant == tenant).order_by(LabBlock.id))
            return [{"kind": b.kind, "value": b.value} for b in rows]

    # -- effects ---------------------------------------------------------------------------------------

    def set_isolated(self, tenant: str, hostname: str, isolated: bool) -> tuple[str, bool]:
        """Set isolation; returns (device id, whether anything changed)."""
        with Session(self.engine) as session, session.begin():
            host = exactly_one(session, tenant, hostname)
            changed = host.isolated != isolated
            host.isolated = isolated
            return host.device_id, changed

    def delete_registry_value(self, tenant: str, hostname: str, key: str, name: str) -> dict[str, Any] | None:
        """Delete the value; returns what was deleted (for restore), or None if it was already gone."""
        with Session(self.engine) as session, session.begin():
            host = exactly_one(session, tenant, hostname)
            for value in host.registry_values:
                if value.key.lower() == key.lower() and value.name.lower() == name.lower():
                    captured = {"key": value.key, "name": value.name, "data": value.data, "type": value.type}
                    session.delete(value)
                    return captured
            return None

    def restore_registry_value(self, tenant: str, hostname: str, seed: RegistryValueSeed) -> bool:
        """Write the value back; returns False when an identical value is already there."""
        with Session(self.engine) as session, session.begin():
            host = exactly_one(session, tenant, hostname)
            for value in host.registry_values:
                if value.key.lower() == seed.key.lower() and value.name.lower() == seed.name.lower():
                    changed = (value.data, value.type) != (seed.data, seed.type)
                    value.data, value.type = seed.data, seed.type
                    return changed
            host.registry_values.append(LabRegistryValue(**seed.model_dump()))
            return True

    def set_block(self, tenant: str, kind: str, value: str, blocked: bool) -> bool:
        """Add or remove a block-list entry; returns whether anything changed."""
        with Session(self.engine) as session, session.begin():
            existing = session.scalar(
                select(LabBlock).where(
                    LabBlock.tenant == tenant, LabBlock.kind == kind, LabBlock.value == value
                )
            )
            if blocked and existing is None:
                session.add(LabBlock(tenant=tenant, kind=kind, value=value))
                return True
            if not blocked and existing is not None:
                session.delete(existing)
                return True
            return False


def _host_view(host: LabHost, blocked: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    blocked_set = set(blocked)
    return {
        "tenant": host.tenant,
        "hostname": host.hostname,
        "device_id": host.device_id,
        "os": host.os,
        "isolated": host.isolated,
        "registry_values": [
            {
                "key": v.key,
                "name": v.name,
                "data": v.data,
                "type": v.type,
                "written_at": v.written_at.isoformat() if v.written_at else None,
            }
            for v in host.registry_values
        ],
        "services": [
            {"name": s.name, "binary_path": s.binary_path, "start_type": s.start_type} for s in host.services
        ],
        "scheduled_tasks": [
            {"name": t.name, "command": t.command, "enabled": t.enabled} for t in host.scheduled_tasks
        ],
        "processes": [{"pid": p.pid, "name": p.name, "command_line": p.command_line} for p in host.processes],
        "files": [{"path": f.path, "sha256": f.sha256, "quarantined": f.quarantined} for f in host.files],
        "connections": [
            {
                "remote": c.remote,
                "port": c.port,
                "process": c.process,
                "blocked": (host.tenant, "domain", c.remote.lower().rstrip(".")) in blocked_set
                or (host.tenant, "ip", _normal_ip(c.remote)) in blocked_set,
            }
            for c in host.connections
        ],
    }


def _normal_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value
