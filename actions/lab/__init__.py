"""The lab adapter: a simulated fleet kept in the Garrison store, so actions have real, checkable effects."""

from . import _actions  # noqa: F401 - registers the lab.* actions
from ._fleet import ConnectionSeed, HostSeed, LabFleet, RegistryValueSeed, ServiceSeed, TaskSeed
from ._schema import LabBase

__all__ = [
    "ConnectionSeed",
    "HostSeed",
    "LabBase",
    "LabFleet",
    "RegistryValueSeed",
    "ServiceSeed",
    "TaskSeed",
]
