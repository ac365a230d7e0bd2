"""Tables of the lab fleet: simulated hosts whose state lives in the Garrison store."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class LabBase(DeclarativeBase):
    pass


class _OnHost:
    """Columns of every object that lives on one host and goes with it (services, files, ...)."""

    # Mixin columns would otherwise come last: sort_order keeps each table's column order as it was.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-1)
    host_id: Mapped[int] = mapped_column(
        ForeignKey("lab_hosts.id", ondelete="CASCADE"), index=True, sort_order=-1
    )


class LabHost(LabBase):
    __tablename__ = "lab_hosts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    # Not unique: real fleets have duplicate names, and "ambiguous target" must be testable.
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    os: Mapped[str] = mapped_column(String(64), default="windows")
    isolated: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    registry_values: Mapped[list[LabRegistryValue]] = relationship(
        back_populates="host", cascade="all, delete-orphan", order_by="LabRegistryValue.id"
    )
    services: Mapped[list[LabService]] = relationship(cascade="all, delete-orphan", order_by="LabService.id")
    scheduled_tasks: Mapped[list[LabScheduledTask]] = relationship(
        cascade="all, delete-orphan", order_by="LabScheduledTask.id"
    )
    connections: Mapped[list[LabConnection]] = relationship(
        cascade="all, delete-orphan", order_by="LabConnection.id"
    )
    processes: Mapped[list[LabProcess]] = relationship(cascade="all, delete-orphan", order_by="LabProcess.id")
    files: Mapped[list[LabFile]] = relationship(cascade="all, delete-orphan", order_by="LabFile.id")


class LabRegistryValue(_OnHost, LabBase):
    __tablename__ = "lab_registry_values"
    __table_args__ = (UniqueConstraint("host_id", "key", "name"),)

    key: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(1024))
    data: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(32), default="REG_SZ")
    written_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    host: Mapped[LabHost] = relationship(back_populates="registry_values")


class LabService(_OnHost, LabBase):
    __tablename__ = "lab_services"

    name: Mapped[str] = mapped_column(String(256))
    binary_path: Mapped[str] = mapped_column(Text, default="")
    start_type: Mapped[str] = mapped_column(String(32), default="auto")


class LabScheduledTask(_OnHost, LabBase):
    __tablename__ = "lab_scheduled_tasks"

    name: Mapped[str] = mapped_column(String(512))
    command: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class LabConnection(_OnHost, LabBase):
    __tablename__ = "lab_connections"

    remote: Mapped[str] = mapped_column(String(255), doc="Domain or IP the host talks to.")
    port: Mapped[int] = mapped_column(Integer)
    process: Mapped[str] = mapped_column(String(1024), default="")


class LabBlock(LabBase):
    __tablename__ = "lab_blocks"
    __table_args__ = (UniqueConstraint("tenant", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # ip | domain | url
    value: Mapped[str] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Tables added after the first release are new tables only (create_all adds tables, never columns).


class LabProcess(_OnHost, LabBase):
    __tablename__ = "lab_processes"

    pid: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(260), doc="Image name, e.g. msiexec.exe.")
    command_line: Mapped[str] = mapped_column(Text, default="")


class LabFile(_OnHost, LabBase):
    __tablename__ = "lab_files"

    path: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64), default="")
    quarantined: Mapped[bool] = mapped_column(Boolean, default=False)


class LabAccount(LabBase):
    """A directory account of the tenant (what a VPN login or a lateral movement uses)."""

    __tablename__ = "lab_accounts"
    __table_args__ = (UniqueConstraint("tenant", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(256))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
