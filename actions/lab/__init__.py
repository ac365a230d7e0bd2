"""The lab adapter: a simulated fleet kept in the Garrison store, so actions have real, checkable effects."""

from . import _actions, _verbs  # noqa: F401 - registers the lab.* actions
from ._fleet import ConnectionSeed, HostSeed, LabFleet, RegistryValueSeed, ServiceSeed, TaskSeed
from ._objects import AccountSeed, FileSeed, ProcessSeed
from ._schema import LabBase

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
