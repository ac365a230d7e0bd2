"""The inputs of ``sentinelone_response``: the target fields ``flows.respond`` gives. Alert text that reaches
a remote script passes the Defender helper's rules first (``_mde_args``: a validated shape, then nothing
PowerShell could read as code — control characters, backticks, ``$(``, ``;``, ``..`` segments are refused
before any call), and travels single-quoted with its quotes doubled."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .._vendor import Hostname
from ._mde_args import RegistryKey, RegistryName, ServiceName, TaskName


def _checked(shape: Any) -> AfterValidator:
    adapter: TypeAdapter[str] = TypeAdapter(shape)

    def check(value: str) -> str:
        try:
            return adapter.validate_python(value)
        except ValidationError as error:
            why = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
            # The shared rules speak of MDE live response; here the script is a SentinelOne remote script.
            raise ValueError(why.replace("live response", "SentinelOne remote script")) from None

    return AfterValidator(check)


S1RegistryKey = Annotated[str, _checked(RegistryKey)]
S1RegistryName = Annotated[str, _checked(RegistryName)]
S1TaskName = Annotated[str, _checked(TaskName)]
S1ServiceName = Annotated[str, _checked(ServiceName)]


class _OnHost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: Hostname = Field(description="Host as the incident names it; must match exactly one agent.")


class RegistryValueInput(_OnHost):
    key: S1RegistryKey = Field(description=r"Full key path, e.g. HKLM\SOFTWARE\Microsoft\Windows\...\Run.")
    name: S1RegistryName = Field(description="Value name under the key.")


class TaskInput(_OnHost):
    name: S1TaskName = Field(description=r"Task path and name, e.g. \Microsoft\Updater.")


class ServiceInput(_OnHost):
    name: S1ServiceName = Field(description="Service name (not the display name).")
