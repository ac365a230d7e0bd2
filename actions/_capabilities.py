"""What an action acts on (``TargetKind``) and what it does, whatever the vendor (``Capability``).

A playbook names capabilities; each tenant binds the capabilities to its vendors. Every action declares
its capability, and the capability — never the verb inside the action's key — tells the engine what the
action does: which capability undoes which (a pair shares a family), which give back what containment
took (guardrails let those through), and which isolate hosts (they share the blast-radius cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TargetKind(StrEnum):
    """What an action acts on; the engine picks matching targets from the incident."""

    HOST = "host"
    REGISTRY_VALUE = "registry_value"
    SERVICE = "service"
    SCHEDULED_TASK = "scheduled_task"
    IP = "ip"
    DOMAIN = "domain"
    URL = "url"
    FILE_HASH = "file_hash"  # a file by its SHA-256, blocked everywhere (not one file on one host)
    PROCESS = "process"
    FILE = "file"
    ACCOUNT = "account"


class Capability(StrEnum):
    """A vendor-neutral response capability: ``isolate_host`` runs on whichever EDR the tenant binds.

    >>> Capability.ISOLATE_HOST.inverse, Capability.RELEASE_HOST.family, Capability.RELEASE_HOST.restores
    (<Capability.RELEASE_HOST: 'release_host'>, <Capability.ISOLATE_HOST: 'isolate_host'>, True)
    """

    ISOLATE_HOST = "isolate_host"
    RELEASE_HOST = "release_host"
    BLOCK_IP = "block_ip"
    UNBLOCK_IP = "unblock_ip"
    BLOCK_DOMAIN = "block_domain"
    UNBLOCK_DOMAIN = "unblock_domain"
    BLOCK_URL = "block_url"
    UNBLOCK_URL = "unblock_url"
    BLOCK_HASH = "block_hash"
    UNBLOCK_HASH = "unblock_hash"
    DELETE_REGISTRY_VALUE = "delete_registry_value"
    RESTORE_REGISTRY_VALUE = "restore_registry_value"
    DISABLE_SERVICE = "disable_service"
    ENABLE_SERVICE = "enable_service"
    DELETE_SCHEDULED_TASK = "delete_scheduled_task"
    RESTORE_SCHEDULED_TASK = "restore_scheduled_task"
    KILL_PROCESS = "kill_process"
    QUARANTINE_FILE = "quarantine_file"
    RESTORE_FILE = "restore_file"
    DISABLE_ACCOUNT = "disable_account"
    ENABLE_ACCOUNT = "enable_account"

    @property
    def target(self) -> TargetKind:
        return _FACTS[self].target

    @property
    def inverse(self) -> Capability | None:
        """The capability that undoes this one (None: nothing can, e.g. a killed process)."""
        return _FACTS[self].inverse

    @property
    def family(self) -> Capability:
        """The containing capability of its pair: ``isolate_host`` for both isolate and release."""
        return _FACTS[self].family

    @property
    def restores(self) -> bool:
        """Gives back what containment took (release, unblock, restore, enable)."""
        return self.family is not self


@dataclass(frozen=True)
class _Fact:
    target: TargetKind
    family: Capability
    inverse: Capability | None


def _facts() -> dict[Capability, _Fact]:
    C, K = Capability, TargetKind
    pairs: list[tuple[Capability, Capability | None, TargetKind]] = [
        (C.ISOLATE_HOST, C.RELEASE_HOST, K.HOST),
        (C.BLOCK_IP, C.UNBLOCK_IP, K.IP),
        (C.BLOCK_DOMAIN, C.UNBLOCK_DOMAIN, K.DOMAIN),
        (C.BLOCK_URL, C.UNBLOCK_URL, K.URL),
        (C.BLOCK_HASH, C.UNBLOCK_HASH, K.FILE_HASH),
        (C.DELETE_REGISTRY_VALUE, C.RESTORE_REGISTRY_VALUE, K.REGISTRY_VALUE),
        (C.DISABLE_SERVICE, C.ENABLE_SERVICE, K.SERVICE),
        (C.DELETE_SCHEDULED_TASK, C.RESTORE_SCHEDULED_TASK, K.SCHEDULED_TASK),
        (C.KILL_PROCESS, None, K.PROCESS),  # a killed process cannot be brought back
        (C.QUARANTINE_FILE, C.RESTORE_FILE, K.FILE),
        (C.DISABLE_ACCOUNT, C.ENABLE_ACCOUNT, K.ACCOUNT),
    ]
    facts = {}
    for contain, undo, target in pairs:
        facts[contain] = _Fact(target, contain, undo)
        if undo is not None:
            facts[undo] = _Fact(target, contain, contain)
    return facts


_FACTS = _facts()
