"""The lab adapter: a simulated fleet kept in the Garrison store, so actions have real, checkable effects."""

from . import _actions, _endpoint_actions  # noqa: F401 - registers the lab.* actions
from ._endpoint_state import AccountSeed, FileSeed, ProcessSeed
from ._fleet import ConnectionSeed, HostSeed, LabFleet, RegistryValueSeed, ServiceSeed, TaskSeed
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
