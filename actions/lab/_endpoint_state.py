"""The lab fleet's endpoint objects (services, tasks, processes, files, accounts) and the read-only lookups
every lab ``read_state`` uses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .._errors import PermanentError, TargetNotFound
from ._lookup import exactly_one
from ._schema import LabAccount, LabBlock, LabScheduledTask
from ._seeds import AccountSeed


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


class HostObjects:
    """Mixed into LabFleet: every method is one short transaction on the store."""

    engine: Engine

    # -- reads (read_state) ----------------------------------------------------------------------------

    def host_state(self, tenant: str, hostname: str) -> dict[str, Any]:
        """The one host's device id, isolation, and its objects (TargetNotFound unless exactly one)."""
        with Session(self.engine) as session:
            host = exactly_one(session, tenant, hostname)
            return {
                "device_id": host.device_id,
                "isolated": host.isolated,
                "registry_values": [(v.key, v.name, v.data, v.type) for v in host.registry_values],
                "services": {s.name.lower(): s.start_type for s in host.services},
                "tasks": {t.name.lower() for t in host.scheduled_tasks},
                "processes": {p.pid: p.name for p in host.processes},
                "files": {f.path.lower(): f.quarantined for f in host.files},
            }

    def is_blocked(self, tenant: str, kind: str, value: str) -> bool:
        with Session(self.engine) as session:
            query = select(LabBlock.id).where(
                LabBlock.tenant == tenant, LabBlock.kind == kind, LabBlock.value == value
            )
            return session.scalar(query) is not None

    def account_enabled(self, tenant: str, name: str) -> bool:
        with Session(self.engine) as session:
            return self._account(session, tenant, name).enabled

    # -- services and tasks ----------------------------------------------------------------------------

    def set_service_start(self, tenant: str, hostname: str, name: str, start_type: str) -> tuple[str, bool]:
        """Set a service's start type; returns (the previous start type, whether anything changed)."""
        with Session(self.engine) as session, session.begin():
            host = exactly_one(session, tenant, hostname)
            for service in host.services:
                if _same(service.name, name):
                    previous = service.start_type
                    service.start_type = start_type
                    return previous, previous != start_type
            raise TargetNotFound(f"no service named {name!r} on {hostname}")

    def delete_task(self, tenant: str, hostname: str, name: str) -> dict[str, Any] | None:
        """Delete a scheduled task; returns what was deleted (for restore), or None if already gone."""
        with Session(self.engine) as session, session.begin():
            host = exactly_one(session, tenant, hostname)
            for task in host.scheduled_tasks:
                if _same(task.name, name):
                    captured = {"name": task.name, "command": task.command, "enabled": task.enabled}
                    session.delete(task)
                    return captured
            return None

    def restore_task(self, tenant: str, hostname: str, name: str, command: str, enabled: bool) -> bool:
        with Session(self.engine) as session, session.begin():
            host = exactly_one(session, tenant, hostname)
            for task in host.scheduled_tasks:
                if _same(task.name, name):
                    changed = (task.command, task.enabled) != (command, enabled)
                    task.command, task.enabled = command, enabled
                    return changed
            host.scheduled_tasks.append(LabScheduledTask(name=name, command=command, enabled=enabled))
            return True

    # -- processes and files ---------------------------------------------------------------------------

    def kill_process(self, tenant: str, hostname: str, pid: int, name: str | None) -> dict[str, Any] | None:
        """End the process; None if it is not running. A pid now held by another image is refused."""
        with Session(self.engine) as session, session.begin():
            host = exactly_one(session, tenant, hostname)
            for process in host.processes:
                if process.pid == pid:
                    if name is not None and not _same(process.name, name):
                        raise PermanentError(
                            f"pid {pid} on {hostname} is {process.name!r}, not {name!r}: refusing to kill"
                        )
                    captured = {
                        "pid": process.pid,
                        "name": process.name,
                        "command_line": process.command_line,
                    }
                    session.delete(process)
                    return captured
            return None

    def set_quarantined(
        self, tenant: str, hostname: str, path: str, quarantined: bool, sha256: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Quarantine or restore a file; returns (the file, whether anything changed)."""
        with Session(self.engine) as session, session.begin():
            host = exactly_one(session, tenant, hostname)
            for item in host.files:
                if _same(item.path, path):
                    if sha256 and item.sha256 and item.sha256.lower() != sha256.lower():
                        raise PermanentError(f"{path} on {hostname} has another sha256 than the one captured")
                    changed = item.quarantined != quarantined
                    item.quarantined = quarantined
                    return {"path": item.path, "sha256": item.sha256}, changed
            raise TargetNotFound(f"no file {path!r} on {hostname}")

    # -- accounts --------------------------------------------------------------------------------------

    def seed_accounts(self, tenant: str, accounts: list[AccountSeed]) -> None:
        with Session(self.engine) as session, session.begin():
            for seed in accounts:
                found = session.scalar(
                    select(LabAccount).where(
                        LabAccount.tenant == tenant, func.lower(LabAccount.name) == seed.name.lower()
                    )
                )
                if found is None:
                    session.add(LabAccount(tenant=tenant, name=seed.name, enabled=seed.enabled))
                else:
                    found.enabled = seed.enabled

    def accounts(self, tenant: str) -> list[dict[str, Any]]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(LabAccount).where(LabAccount.tenant == tenant).order_by(LabAccount.id)
            )
            return [{"name": a.name, "enabled": a.enabled} for a in rows]

    def set_account_enabled(self, tenant: str, name: str, enabled: bool) -> bool:
        with Session(self.engine) as session, session.begin():
            account = self._account(session, tenant, name)
            changed = account.enabled != enabled
            account.enabled = enabled
            return changed

    @staticmethod
    def _account(session: Session, tenant: str, name: str) -> LabAccount:
        found = list(
            session.scalars(
                select(LabAccount).where(
                    LabAccount.tenant == tenant, func.lower(LabAccount.name) == name.lower()
                )
            )
        )
        if len(found) != 1:
            raise TargetNotFound(f"no account named {name!r} in tenant {tenant}")
        return found[0]
