"""CrowdStrike Falcon Real Time Response (adapter ``crowdstrike_rtr``): remove persistence and stop what runs
on one Windows host — registry values, scheduled tasks, services, processes, files — each undone by its
inverse from what the action captured (``undo``), each read back for reconciliation.

Every action opens one RTR session on the host's one device, runs its commands there and deletes the
session (``_rtr_session``); batch sessions are out of scope. Processes use RTR's own ``ps``/``kill`` and
registry values ``reg delete``; reading and restoring registry values, and tasks, services and files, use
fixed scripts that each tenant uploads once to its RTR script library (``SCRIPTS``, see ``_rtr_scripts``),
called with single-quoted arguments only, data in base64. Inputs are alert data: each name is checked
against a strict pattern before any call (``_rtr_inputs``).
"""

from __future__ import annotations

from .._registry import registry
from ._rtr_scripts import SCRIPTS, Script
from ._rtr_session import SECRETS, VENDOR
from .crowdstrike import FalconSettings

registry.declare_settings(VENDOR, FalconSettings)
# Uploaded under the script's own name (its CloudFile name); the file carries .ps1 for the upload form.
registry.declare_scripts(VENDOR, {f"{script.name}.ps1": script.source for script in SCRIPTS})

from . import _rtr_native, _rtr_registry, _rtr_scripted  # noqa: E402, F401 - registers the actions

__all__ = ["SCRIPTS", "SECRETS", "VENDOR", "Script"]
