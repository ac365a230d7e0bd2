"""The inputs of ``defender_response``: the target fields ``flows.respond`` gives, each validated so that
alert text reaching a live response script is plain (``_mde_args``), and what each inverse takes back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._vendor import Hostname
from ._mde_args import FilePath, ImageName, RegistryKey, RegistryName, ServiceName, Sha1, TaskName, encoded


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: Hostname = Field(description="Host as the incident names it; must match exactly one machine.")


class RegistryValueInput(_Input):
    key: RegistryKey = Field(description=r"Full key path, e.g. HKLM\SOFTWARE\Microsoft\Windows\...\Run.")
    name: RegistryName = Field(description="Value name under the key.")


RegistryType = Literal["REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY"]


class RestoreRegistryValueInput(RegistryValueInput):
    type: RegistryType = Field(description="Registry value type (captured when the value was deleted).")
    data: str | int | list[str] = Field(
        description="The data to write back (captured at deletion; REG_BINARY as base64)."
    )

    @model_validator(mode="after")
    def _data_fits_type(self) -> RestoreRegistryValueInput:
        wanted = {"REG_DWORD": int, "REG_QWORD": int, "REG_MULTI_SZ": list}.get(self.type, str)
        if not isinstance(self.data, wanted) or isinstance(self.data, bool):
            raise ValueError(f"data of a {self.type} value must be a {wanted.__name__}")
        if isinstance(self.data, int) and not 0 <= self.data < 2 ** (32 if self.type == "REG_DWORD" else 64):
            raise ValueError(f"data {self.data} does not fit a {self.type}")
        if len(encoded(self.data)) > 20_000:
            raise ValueError("data is too large to write back through live response")
        return self


class TaskInput(_Input):
    name: TaskName = Field(description=r"Task path and name, e.g. \Microsoft\Updater.")


class RestoreTaskInput(TaskInput):
    xml: str = Field(
        min_length=1, max_length=20_000, description="The task's XML definition (captured at deletion)."
    )


class ServiceInput(_Input):
    name: ServiceName = Field(description="Service name (not the display name).")


class EnableServiceInput(ServiceInput):
    start_type: Literal["auto", "manual"] = Field(
        default="auto", description="Start type to restore (captured when the service was disabled)."
    )
    running: bool = Field(default=False, description="Start the service again (it ran when disabled).")


class ProcessInput(_Input):
    pid: int = Field(ge=5, le=2**32 - 1, description="Process id (0 and 4 are Windows itself).")
    name: ImageName | None = Field(
        default=None, description="Image name the pid must still have (guards pid reuse)."
    )


class FileInput(_Input):
    path: FilePath = Field(description="Full path of the file (for people: MDE acts on the SHA-1).")
    sha1: Sha1 | None = Field(
        default=None, description="SHA-1 of the file; MDE's stop-and-quarantine needs it."
    )
