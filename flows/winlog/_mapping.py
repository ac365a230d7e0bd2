"""THE mapping table: which Windows events Garrison stores, as which OCSF activity, with which fields.

One row per event (source, event ids, and for Sysmon 12 the ``EventType``): the OCSF class and activity it
becomes, the Sigma log source categories its rules are written for, and the field pairs
``(Windows field, OCSF path)``. The same pairs are read both ways: Windows → OCSF when an event is stored
(``to_ocsf``), and OCSF → Windows field names when Sigma rules (written for the native names) look at an
event that arrived as OCSF (``sigma_view``). ``MAPPING.md`` beside this file is this table as a document
(``mapping_markdown()`` writes it; a test keeps the two in step).

OCSF paths: ``a|b`` splits a registry path at its last ``\\``: the key to ``a``, the value name to ``b``.
Sources: ``sysmon`` (Microsoft-Windows-Sysmon/Operational), ``security`` (Security), ``system`` (System),
``powershell`` (Microsoft-Windows-PowerShell/Operational). Sigma aliases (``sigma``) give a field its name
in the rule's category where the event names it otherwise (Security 4688's ``NewProcessName`` is the
``Image`` of ``process_creation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Mapping:
    source: str
    event_ids: tuple[int, ...]
    what: str
    class_uid: int
    activity_id: int
    categories: tuple[str, ...] = ()
    fields: Pairs = ()
    constants: tuple[tuple[str, Any], ...] = ()
    event_type: str | None = None  # Sysmon 12: CreateKey, DeleteKey, DeleteValue
    sigma: Pairs = ()  # (Sigma field, this event's field)


# Who did it: the acting process of Sysmon events that are not process creations.
_ACTOR: Pairs = (
    ("Image", "actor.process.file.path"),
    ("ProcessId", "actor.process.pid"),
    ("ProcessGuid", "actor.process.uid"),
    ("User", "actor.user.name"),
)
_PE = (  # a PE file's version resource
    ("OriginalFileName", "file.internal_name"),
    ("Description", "file.desc"),
    ("Product", "file.product.name"),
    ("Company", "file.company_name"),
    ("FileVersion", "file.version"),
)
_LOGON: Pairs = (
    ("TargetUserName", "user.name"),
    ("TargetDomainName", "user.domain"),
    ("TargetUserSid", "user.uid"),
    ("TargetLogonId", "session.uid"),
    ("LogonType", "logon_type_id"),
    ("LogonProcessName", "logon_process.name"),
    ("AuthenticationPackageName", "auth_protocol"),
    ("WorkstationName", "src_endpoint.hostname"),
    ("IpAddress", "src_endpoint.ip"),
    ("IpPort", "src_endpoint.port"),
    ("ProcessName", "actor.process.file.path"),
    ("SubjectUserName", "actor.user.name"),
)
_TASK: Pairs = (
    ("TaskName", "job.name"),
    ("SubjectUserName", "actor.user.name"),
)
_REGISTRY_KEY: Pairs = (("TargetObject", "reg_key.path"), ("EventType", "unmapped.event_type"), *_ACTOR)
_FILE: Pairs = (("TargetFilename", "file.path"), *_ACTOR)
_WMI: Pairs = (
    ("Operation", "unmapped.wmi.operation"),
    ("User", "unmapped.wmi.user"),
    ("Name", "unmapped.wmi.name"),
)

TABLE: tuple[Mapping, ...] = (
    Mapping(
        "sysmon", (1,), "process created", 1007, 1, ("process_creation",),
        (
            ("Image", "process.file.path"),
            ("CommandLine", "process.cmd_line"),
            ("ProcessId", "process.pid"),
            ("ProcessGuid", "process.uid"),
            ("CurrentDirectory", "process.working_directory"),
            ("IntegrityLevel", "process.integrity"),
            ("User", "process.user.name"),
            ("LogonId", "process.session.uid"),
            *((name, f"process.{path}") for name, path in _PE),
            ("ParentImage", "process.parent_process.file.path"),
            ("ParentCommandLine", "process.parent_process.cmd_line"),
            ("ParentProcessId", "process.parent_process.pid"),
            ("ParentProcessGuid", "process.parent_process.uid"),
            ("ParentUser", "process.parent_process.user.name"),
        ),
    ),
    Mapping(
        "sysmon", (5,), "process terminated", 1007, 2, ("process_termination",),
        (("Image", "process.file.path"), ("ProcessId", "process.pid"), ("ProcessGuid", "process.uid")),
    ),
    Mapping(
        "sysmon", (8,), "remote thread created", 1007, 4, ("create_remote_thread",),
        (
            ("SourceImage", "actor.process.file.path"),
            ("SourceProcessId", "actor.process.pid"),
            ("TargetImage", "process.file.path"),
            ("TargetProcessId", "process.pid"),
        ),
    ),
    Mapping(
        "sysmon", (10,), "process accessed", 1007, 3, ("process_access",),
        (
            ("SourceImage", "actor.process.file.path"),
            ("SourceProcessId", "actor.process.pid"),
            ("SourceUser", "actor.user.name"),
            ("TargetImage", "process.file.path"),
            ("TargetProcessId", "process.pid"),
        ),
    ),
    # Sysmon 25: the process whose image was replaced or locked (hollowing, herpaderping); what was done is
    # its ``Type``, which OCSF keeps as the activity's name (activity "Other").
    Mapping(
        "sysmon", (25,), "process tampered with", 1007, 99, ("process_tampering",),
        (
            ("Image", "process.file.path"),
            ("ProcessId", "process.pid"),
            ("ProcessGuid", "process.uid"),
            ("User", "process.user.name"),
            ("Type", "activity_name"),
        ),
    ),
    Mapping(
        "sysmon", (3,), "network connection", 4001, 1, ("network_connection",),
        (
            *_ACTOR,
            ("Protocol", "connection_info.protocol_name"),
            ("SourceIp", "src_endpoint.ip"),
            ("SourceHostname", "src_endpoint.hostname"),
            ("SourcePort", "src_endpoint.port"),
            ("DestinationIp", "dst_endpoint.ip"),
            ("DestinationHostname", "dst_endpoint.hostname"),
            ("DestinationPort", "dst_endpoint.port"),
            ("DestinationPortName", "dst_endpoint.svc_name"),
        ),
    ),
    Mapping(
        "sysmon", (22,), "DNS query", 4003, 1, ("dns_query",),
        (("QueryName", "query.hostname"), ("QueryStatus", "rcode"), *_ACTOR),
    ),
    Mapping(
        "sysmon", (7,), "image loaded", 1005, 1, ("image_load",),
        (
            ("ImageLoaded", "module.file.path"),
            *((name, f"module.{path}") for name, path in _PE),
            ("Signature", "module.file.signature.certificate.subject"),
            ("SignatureStatus", "module.file.signature.state"),
            *_ACTOR,
        ),
    ),
    Mapping(
        "sysmon", (6,), "driver loaded", 1002, 1, ("driver_load",),
        (
            ("ImageLoaded", "driver.file.path"),
            ("Signature", "driver.file.signature.certificate.subject"),
            ("SignatureStatus", "driver.file.signature.state"),
        ),
    ),
    # A raw read of a disk or volume (\Device\HarddiskVolume2): a read of a block device (file type 4).
    Mapping(
        "sysmon", (9,), "raw disk read", 1001, 2, ("raw_access_thread",),
        (("Device", "file.path"), *_ACTOR), constants=(("file.type_id", 4),),
    ),
    # Named pipes are files of OCSF type 6; they come before plain files so that reading back finds them.
    Mapping(
        "sysmon", (17,), "pipe created", 1001, 1, ("pipe_created",),
        (("PipeName", "file.name"), *_ACTOR), constants=(("file.type_id", 6),),
    ),
    Mapping(
        "sysmon", (18,), "pipe connected", 1001, 14, ("pipe_created",),
        (("PipeName", "file.name"), *_ACTOR), constants=(("file.type_id", 6),),
    ),
    Mapping("sysmon", (11,), "file created", 1001, 1, ("file_event",), _FILE),
    Mapping(
        "sysmon", (2,), "file creation time changed", 1001, 6, ("file_change",),
        (*_FILE, ("CreationUtcTime", "file.created_time_dt")),
    ),
    Mapping("sysmon", (23, 26), "file deleted", 1001, 4, ("file_delete",), _FILE),
    Mapping("sysmon", (15,), "file stream created", 1001, 1, ("create_stream_hash",), _FILE),
    Mapping("sysmon", (29,), "executable file detected", 1001, 1, ("file_executable_detected",), _FILE),
    Mapping(
        "sysmon", (12,), "registry key created", 201001, 1, ("registry_add", "registry_event"),
        _REGISTRY_KEY, event_type="CreateKey",
    ),
    Mapping(
        "sysmon", (12,), "registry key deleted", 201001, 4, ("registry_delete", "registry_event"),
        _REGISTRY_KEY, event_type="DeleteKey",
    ),
    Mapping(
        "sysmon", (12,), "registry value deleted", 201002, 4, ("registry_delete", "registry_event"),
        (("TargetObject", "reg_value.path|name"), ("EventType", "unmapped.event_type"), *_ACTOR),
        event_type="DeleteValue",
    ),
    Mapping(
        "sysmon", (13,), "registry value set", 201002, 2, ("registry_set", "registry_event"),
        (
            ("TargetObject", "reg_value.path|name"),
            ("Details", "reg_value.data"),
            ("EventType", "unmapped.event_type"),
            *_ACTOR,
        ),
    ),
    Mapping(
        "sysmon", (14,), "registry key or value renamed", 201001, 5, ("registry_rename", "registry_event"),
        (*_REGISTRY_KEY, ("NewName", "unmapped.new_name")),
    ),
    # WMI event filters, consumers and their bindings (the WMI persistence of T1546.003): OCSF has no class
    # for WMI, so they are Base Events ("Other"), every field kept under ``unmapped.wmi``; the rules read the
    # native names all the same.
    Mapping(
        "sysmon", (19,), "WMI event filter registered", 0, 99, ("wmi_event",),
        (*_WMI, ("EventNamespace", "unmapped.wmi.event_namespace"), ("Query", "unmapped.wmi.query")),
    ),
    Mapping(
        "sysmon", (20,), "WMI event consumer registered", 0, 99, ("wmi_event",),
        (*_WMI, ("Type", "unmapped.wmi.type"), ("Destination", "unmapped.wmi.destination")),
    ),
    Mapping(
        "sysmon", (21,), "WMI consumer bound to a filter", 0, 99, ("wmi_event",),
        (
            ("Operation", "unmapped.wmi.operation"),
            ("User", "unmapped.wmi.user"),
            ("Consumer", "unmapped.wmi.consumer"),
            ("Filter", "unmapped.wmi.filter"),
        ),
    ),
    Mapping(
        "sysmon", (4, 16), "Sysmon state or configuration changed", 5019, 99, ("sysmon_status",),
        (("Configuration", "unmapped.configuration"), ("State", "unmapped.state")),
    ),
    Mapping("security", (4624,), "logon", 3002, 1, (), _LOGON, constants=(("status_id", 1),)),
    Mapping(
        "security", (4625,), "failed logon", 3002, 1, (),
        (*_LOGON, ("FailureReason", "status_detail")), constants=(("status_id", 2),),
    ),
    Mapping(
        "security", (4648,), "logon with explicit credentials", 3002, 1, (),
        (*_LOGON, ("TargetServerName", "dst_endpoint.hostname")),
    ),
    Mapping(
        "security", (4688,), "process created", 1007, 1, ("process_creation",),
        (
            ("NewProcessName", "process.file.path"),
            ("CommandLine", "process.cmd_line"),
            ("NewProcessId", "process.pid"),
            ("ParentProcessName", "process.parent_process.file.path"),
            ("ProcessId", "process.parent_process.pid"),
            ("SubjectUserName", "process.user.name"),
            ("SubjectLogonId", "process.session.uid"),
        ),
        sigma=(
            ("Image", "NewProcessName"),
            ("ParentImage", "ParentProcessName"),
            ("ProcessId", "NewProcessId"),
            ("ParentProcessId", "ProcessId"),
            ("User", "SubjectUserName"),
            ("LogonId", "SubjectLogonId"),
        ),
    ),
    Mapping(
        "security", (4697,), "service installed", 201004, 1, (),
        (
            ("ServiceName", "win_service.name"),
            ("ServiceFileName", "win_service.cmd_line"),
            ("ServiceType", "win_service.service_type"),
            ("ServiceStartType", "win_service.service_start_type"),
            ("ServiceAccount", "win_service.service_start_name"),
            ("SubjectUserName", "actor.user.name"),
        ),
    ),
    Mapping(
        "system", (7045,), "service installed", 201004, 1, (),
        (
            ("ServiceName", "win_service.name"),
            ("ImagePath", "win_service.cmd_line"),
            ("ServiceType", "win_service.service_type"),
            ("StartType", "win_service.service_start_type"),
            ("AccountName", "win_service.service_start_name"),
        ),
    ),
    Mapping(
        "security", (4698,), "scheduled task created", 1006, 1, (), (*_TASK, ("TaskContent", "job.desc"))
    ),
    Mapping(
        "security", (4702,), "scheduled task updated", 1006, 2, (), (*_TASK, ("TaskContentNew", "job.desc"))
    ),
    Mapping("security", (4699,), "scheduled task deleted", 1006, 3, (), _TASK),
    Mapping("security", (4700,), "scheduled task enabled", 1006, 4, (), _TASK),
    Mapping("security", (4701,), "scheduled task disabled", 1006, 5, (), _TASK),
    Mapping(
        "security", (4720,), "user account created", 3001, 1, (),
        (("TargetUserName", "user.name"), ("TargetSid", "user.uid"), ("SubjectUserName", "actor.user.name")),
    ),
    Mapping(
        "security", (4732,), "member added to a local group", 3006, 3, (),
        (
            ("MemberSid", "user.uid"),
            ("MemberName", "user.full_name"),
            ("TargetUserName", "group.name"),
            ("TargetSid", "group.uid"),
            ("SubjectUserName", "actor.user.name"),
        ),
    ),
    Mapping(
        "security", (1102,), "security log cleared", 1008, 1, (), (("SubjectUserName", "actor.user.name"),)
    ),
    Mapping(
        "powershell", (4104,), "PowerShell script block", 1009, 1, ("ps_script",),
        (
            ("ScriptBlockText", "script.script_content"),
            ("ScriptBlockId", "script.uid"),
            ("Path", "script.file.path"),
        ),
    ),
)  # fmt: skip

# Sigma's ``service`` for each source; the channel names an event's source when its provider does not.
SERVICES = {"sysmon": "sysmon", "security": "security", "system": "system", "powershell": "powershell"}
CHANNELS = {
    "microsoft-windows-sysmon/operational": "sysmon",
    "security": "security",
    "system": "system",
    "microsoft-windows-powershell/operational": "powershell",
}
PROVIDERS = {
    "microsoft-windows-sysmon": "sysmon",
    "microsoft-windows-security-auditing": "security",
    "service control manager": "system",
    "microsoft-windows-powershell": "powershell",
}
PRODUCTS = {
    "sysmon": ("Sysmon", "Microsoft Sysinternals"),
    "security": ("Windows Security Auditing", "Microsoft"),
    "system": ("Windows System log", "Microsoft"),
    "powershell": ("PowerShell", "Microsoft"),
}

_BY_EVENT = {(m.source, event_id, m.event_type): m for m in TABLE for event_id in m.event_ids}


def source_of(provider: str, channel: str) -> str | None:
    """The table's source for an event's provider and channel (the channel decides: Security 1102 comes
    from the Eventlog provider), or None for a log Garrison does not read."""
    return CHANNELS.get(channel.strip().lower()) or PROVIDERS.get(provider.strip().lower())


def mapping_for(source: str, event_id: int, event_type: Any = None) -> Mapping | None:
    """The row for this event; Sysmon 12 is chosen by its ``EventType``."""
    kind = event_type if source == "sysmon" and event_id == 12 and isinstance(event_type, str) else None
    return _BY_EVENT.get((source, event_id, kind))


def known_events() -> list[str]:
    """``source:id`` of every event the table maps (for messages and documents)."""
    return [f"{m.source}:{event_id}" for m in TABLE for event_id in m.event_ids]
