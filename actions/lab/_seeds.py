"""How a demo or a test describes a simulated host and its objects, before the fleet stores them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Seed(BaseModel):
    # A misspelt field in a demo's host must fail loudly, not seed a host without the object.
    model_config = ConfigDict(extra="forbid")


class RegistryValueSeed(_Seed):
    key: str
    name: str
    data: str = ""
    type: str = "REG_SZ"
    written_at: datetime | None = None


class ServiceSeed(_Seed):
    name: str
    binary_path: str = ""
    start_type: str = "auto"


class TaskSeed(_Seed):
    name: str
    command: str = ""
    enabled: bool = True


class ConnectionSeed(_Seed):
    remote: str
    port: int = Field(ge=0, le=65535)
    process: str = ""


class ProcessSeed(_Seed):
    pid: int = Field(ge=0)
    name: str
    command_line: str = ""


class FileSeed(_Seed):
    path: str
    sha256: str = ""
    quarantined: bool = False


class AccountSeed(_Seed):
    name: str
    enabled: bool = True


class HostSeed(_Seed):
    """A simulated host, as a demo or a test describes it."""

    tenant: str
    hostname: str
    os: str = "windows"
    registry_values: list[RegistryValueSeed] = Field(default_factory=list)
    services: list[ServiceSeed] = Field(default_factory=list)
    scheduled_tasks: list[TaskSeed] = Field(default_factory=list)
    connections: list[ConnectionSeed] = Field(default_factory=list)
    processes: list[ProcessSeed] = Field(default_factory=list)
    files: list[FileSeed] = Field(default_factory=list)
