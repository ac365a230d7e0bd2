"""The lab adapter: a simulated fleet kept in the Garrison store, so actions have real, checkable effects."""

from . import _actions, _blocks, _endpoint_actions  # noqa: F401 - registers the lab.* actions
from ._fleet import LabFleet
from ._schema import LabBase
from ._seeds import (
    AccountSeed,
    ConnectionSeed,
    FileSeed,
    HostSeed,
    ProcessSeed,
    RegistryValueSeed,
    ServiceSeed,
    TaskSeed,
)

__all__ = [
    "AccountSeed",
    "ConnectionSeed",
    "FileSeed",
    "HostSeed",
    "LabBase",
    "LabFleet",
    "ProcessSeed",
    "RegistryValueSeed",
    "ServiceSeed",
    "TaskSeed",
]
